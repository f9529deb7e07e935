/**
 * The real forum-client against a forged server that answers DWN with "upload" and UPD with
 * "download" (what an on-path attacker rewriting replies would send): the client goes by the
 * command typed, refuses, opens no TCP connection and sends or overwrites no file.
 */
import { decode, encodeServerMessage, simpleReply, type Reply } from 'forum-protocol';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { listen, type RudpServer } from 'rudpx';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach, runClient, tempDir } from './forum-processes.js';

describe('forum-client with forged transfer replies (real client process)', () => {
  const { dirs, closers } = cleanupAfterEach();

  it('refuses a reply whose direction disagrees with the command, before any TCP', async () => {
    let tcpConnections = 0;
    const tcp = net.createServer((s) => {
      tcpConnections++;
      s.destroy();
    });
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => tcp.close(() => resolve())));
    const tcpPort = (tcp.address() as net.AddressInfo).port;

    const forged = (id: string, direction: 'upload' | 'download'): Reply =>
      simpleReply(id, 'ok', [], { kind: 'transfer', direction, thread: 't', filename: 'secret.txt', port: tcpPort, token: 'ab'.repeat(32), size: 6, completionLine: 'COMPLETION-LINE' });
    const udp: RudpServer = await listen({ port: 0 });
    closers.push(() => udp.close());
    udp.on('connection', (conn) => {
      conn.on('message', (bytes) => {
        const r = decode(bytes);
        if (r._tag === 'Left') return;
        const { id, cmd } = r.right;
        const reply: Reply =
          cmd === 'username'
            ? simpleReply(id, 'ok', [], { kind: 'auth', next: 'password' })
            : cmd === 'password'
              ? simpleReply(id, 'ok', ['Welcome to the forum'], { kind: 'auth', next: 'command' })
              : cmd === 'DWN'
                ? forged(id, 'upload')
                : cmd === 'UPD'
                  ? forged(id, 'download')
                  : simpleReply(id, 'ok', ['Goodbye'], { kind: 'goodbye' });
        conn.send(encodeServerMessage(reply)).catch(() => undefined);
      });
    });

    const cwd = await tempDir('forged');
    dirs.push(cwd);
    await writeFile(join(cwd, 'secret.txt'), 'SECRET');
    const run = await runClient(udp.address().port, cwd, ['yoda', 'pw', 'DWN t secret.txt', 'UPD t secret.txt']);
    expect(run.stdout).toContain("The server's reply to DWN asked for an upload instead of a download; nothing was transferred");
    expect(run.stdout).toContain("The server's reply to UPD asked for a download instead of an upload; nothing was transferred");
    expect(run.stdout).not.toContain('COMPLETION-LINE');
    expect(tcpConnections).toBe(0);
    expect(await readdir(cwd)).toEqual(['secret.txt']);
    expect(await readFile(join(cwd, 'secret.txt'), 'utf8')).toBe('SECRET');
  });
});
