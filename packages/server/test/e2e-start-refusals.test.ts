/**
 * Starts an operator gets wrong (attack round 19): ports in use, each refused with exit status 1, a line
 * naming what was in the way, and the data directory left as it was (no lock file); a data directory path
 * that does not exist (a typo), made and served, and said.
 */
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach, isServerOwnFile, LOCK_FILE, SERVER_BIN, startServer, tempDir } from './forum-processes.js';

describe('forum-server starts an operator gets wrong', () => {
  const { dirs, stops } = cleanupAfterEach();

  const start = async (args: readonly string[]): Promise<{ readonly status: number | null; readonly stderr: string; readonly files: readonly string[] }> => {
    const data = await tempDir('data');
    dirs.push(data);
    const r = spawnSync(process.execPath, [SERVER_BIN, ...args, '--data-dir', data], { encoding: 'utf8', timeout: 20_000 });
    return { status: r.status, stderr: r.stderr, files: (await readdir(data)).filter((n) => !isServerOwnFile(n) || n === LOCK_FILE) };
  };

  it('the UDP port in use', async () => {
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', () => resolve()));
    stops.push(() => udp.close());
    const port = udp.address().port;
    const r = await start([String(port)]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`forum-server: cannot listen on 127.0.0.1:${port}: bind EADDRINUSE 127.0.0.1:${port}\n`);
    expect(r.files).toEqual([]);
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
