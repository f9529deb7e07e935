/**
 * Starts an operator gets wrong (attack round 19): ports in use, each refused with exit status 1, a line
 * naming what was in the way, and the disk left as it was (no lock file, no key or directory the start made,
 * nothing that was there before touched); a data directory path
 * that does not exist (a typo), made and served, and said.
 */
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach, IDENTITY_FILE, SERVER_BIN, startServer, tempDir, walkTree } from './forum-processes.js';

describe('forum-server starts an operator gets wrong', () => {
  const { dirs, stops } = cleanupAfterEach();

  /** A start of the server in an existing, empty data directory (or `data`), and what the directory then holds. */
  const start = async (args: readonly string[], data?: string): Promise<{ readonly status: number | null; readonly stderr: string; readonly files: readonly string[] }> => {
    const dir = data ?? (await tempDir('data'));
    if (data === undefined) dirs.push(dir);
    const r = spawnSync(process.execPath, [SERVER_BIN, ...args, '--data-dir', dir], { encoding: 'utf8', timeout: 20_000 });
    return { status: r.status, stderr: r.stderr, files: await readdir(dir).catch(() => ['(no directory)']) };
  };

  /** A UDP socket bound to a free port of 127.0.0.1 (closed after the test), and its port. */
  const udpPortInUse = async (): Promise<number> => {
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', () => resolve()));
    stops.push(() => udp.close());
    return udp.address().port;
  };

  it('the UDP port in use: the data directory left as it was, no key or lock file in it', async () => {
    const port = await udpPortInUse();
    const r = await start([String(port)]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`forum-server: cannot listen on 127.0.0.1:${port}: bind EADDRINUSE 127.0.0.1:${port}\n`);
    // Before: the identity key this start had created stayed, and the next start served with it as if it were the forum's.
    expect(r.files).toEqual([]);
  });

  it('the UDP port in use with a data directory that does not exist: none of the directories it made is left', async () => {
    const parent = await tempDir('parent');
    dirs.push(parent);
    const port = await udpPortInUse();
    const r = await start([String(port)], join(parent, 'forum-dta', 'deeper'));
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`forum-server: cannot listen on 127.0.0.1:${port}: bind EADDRINUSE 127.0.0.1:${port}\n`);
    // Before: forum-dta/deeper/.forum-server-identity, a new forum's key at the mistyped path.
    expect(r.files).toEqual(['(no directory)']);
    expect(await readdir(parent)).toEqual([]);
  });

  it('the UDP port in use with a forum in the data directory: its key and files kept as they were', async () => {
    const data = await tempDir('data');
    dirs.push(data);
    const server = await startServer(data);
    stops.push(() => void server.child.kill('SIGKILL'));
    await server.stop();
    const before = await walkTree(data);
    const names = (await readdir(data)).sort();
    const key = await readFile(join(data, IDENTITY_FILE), 'utf8');
    const port = await udpPortInUse();
    const r = await start([String(port)], data);
    expect(r.status).toBe(1);
    expect(await walkTree(data)).toEqual(before);
    expect((await readdir(data)).sort()).toEqual(names);
    expect(names).toContain(IDENTITY_FILE);
    expect(await readFile(join(data, IDENTITY_FILE), 'utf8')).toBe(key);
  });

  it('the UDP port in use with a key at --identity-file that does not exist: that key is kept (others started on it may use it)', async () => {
    const keys = await tempDir('keys');
    dirs.push(keys);
    const port = await udpPortInUse();
    const r = await start([String(port), '--identity-file', join(keys, 'identity')]);
    expect(r.status).toBe(1);
    expect(r.files).toEqual([]);
    expect(await readdir(keys)).toEqual(['identity']);
  });

  it('a data directory that does not exist is made and served, and the start says so', async () => {
    const parent = await tempDir('parent');
    dirs.push(parent);
    const data = join(parent, 'forum-dta', 'deeper');
    const server = await startServer(data);
    stops.push(() => void server.child.kill('SIGKILL'));
    // Before: only `(created …/.forum-server-identity)` in the fingerprint line hinted at a new, empty forum.
    await server.stderr.waitFor('it did not exist');
    expect(server.stderr.text).toContain(`forum-server: created the data directory ${data}: it did not exist (a new, empty forum; if it should hold one, check the path)\n`);
    const again = await (async () => {
      await server.stop();
      const next = await startServer(data);
      stops.push(() => void next.child.kill('SIGKILL'));
      return next;
    })();
    expect(again.stderr.text).not.toContain('created the data directory');
    await again.stop();
  });

  it('the transfer port in use on TCP: named as such', async () => {
    const tcp = net.createServer();
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', () => resolve()));
    stops.push(() => tcp.close());
    const address = tcp.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const r = await start(['0', '--transfer-port', String(port)]);
    expect(r.status).toBe(1);
    // Before: `forum-server: listen EADDRINUSE: address already in use 127.0.0.1:PORT`.
    expect(r.stderr).toBe(`forum-server: cannot listen for file transfers on TCP 127.0.0.1:${port}: listen EADDRINUSE: address already in use 127.0.0.1:${port}\n`);
    expect(r.files).toEqual([]);
  });
});
