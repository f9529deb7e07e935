/**
 * Starts an operator gets wrong (attack round 19): ports in use. Each is refused with exit status 1, a line
 * naming what was in the way, and the data directory left as it was (no lock file).
 */
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach, isServerOwnFile, LOCK_FILE, SERVER_BIN, tempDir } from './forum-processes.js';

describe('forum-server starts refused', () => {
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
