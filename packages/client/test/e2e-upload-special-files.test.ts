/**
 * UPD of a file that is not a regular file, the real binaries: a named pipe (mkfifo) and a character device
 * (/dev/zero). Neither has a size to announce before its bytes, so both are refused before anything is sent;
 * a pipe put in the file's place after the check (between the UPD and its grant) is refused too, where it was
 * measured at 0 bytes and sent as an empty file, which the server stores as complete.
 */
import { spawnSync } from 'node:child_process';
import { readdir, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { simpleReply } from 'forum-protocol';
import { describe, expect, it } from 'vitest';
import { answered, cleanupAfterEach, P, runClient, tempDir } from '../../server/test/forum-processes.js';
import { grantReply, startFakeServer } from './fake-forum-server.js';

const mkfifo = (path: string): void => {
  const r = spawnSync('mkfifo', [path]);
  if (r.status !== 0) throw new Error(`mkfifo ${path}: ${r.stderr.toString()}`);
};

const refusal = (name: string, kind: string): string => `File ${name} is not a regular file (${kind}): only a regular file can be uploaded`;

describe('forum-client: UPD of a named pipe or a device', () => {
  const scope = cleanupAfterEach();

  it('is refused before anything is sent, without waiting for a writer or an end (real server)', async () => {
    const { server, cwd } = await scope.startInTemp();
    mkfifo(join(cwd, 'pipe'));
    await symlink('/dev/zero', join(cwd, 'zero'));
    const r = await runClient(server.port, cwd, ['yoda', 'pw', 'CRT t', 'UPD t pipe', 'UPD t zero', 'RDT t', 'XIT']);
    expect(r.code).toBe(0);
    expect(r.stdout, `forum-client exited ${String(r.code)}; its stderr: ${r.stderr}`).toBe(
      P.user + P.newPass + 'Welcome to the forum\n' +
        answered(['Thread t created'], [refusal('pipe', 'a named pipe')], [refusal('zero', 'a character device')], ['Thread t is empty'], ['Goodbye']),
    );
    // Nothing reached the server: no UPD was issued, no file stored.
    await server.stdout.waitFor('yoda exited\n');
    expect(server.lines()).not.toContain('yoda issued UPD command');
    expect((await readdir(server.dataDir)).filter((n) => n.startsWith('t-'))).toEqual([]);
  });

  it('a named pipe put in the file\'s place once the UPD was checked: refused at the grant, no transfer connection', async () => {
    const cwd = await tempDir('upd-fifo-swap');
    scope.dirs.push(cwd);
    const file = join(cwd, 'f.txt');
    await writeFile(file, 'the file as checked\n');
    let transfers = 0;
    const server = await startFakeServer(
      async (req, tcpPort) => {
        if (req.cmd !== 'UPD') return [simpleReply(req.id, 'ok', [], { kind: 'none' })];
        // The UPD passed the client's check; before the grant, the regular file becomes a pipe no one writes.
        await unlink(file);
        mkfifo(file);
        return [grantReply(req, tcpPort, 'f.txt uploaded to t thread')];
      },
      (channel) => {
        transfers++;
        channel.destroy();
      },
    );
    scope.closers.push(() => server.close());
    const r = await runClient(server.port, cwd, ['yoda', 'pw', 'UPD t f.txt', 'XIT']);
    // Before: measured 0 bytes by name and sent as an empty upload (the size line `0`, the final record).
    expect(transfers).toBe(0);
    expect(r.stdout, `forum-client exited ${String(r.code)}; its stderr: ${r.stderr}`).toBe(P.user + P.pass + 'Welcome to the forum\n' + answered([`Upload of f.txt failed: ${refusal('f.txt', 'a named pipe')}`], ['Goodbye']));
    expect(r.code).toBe(0);
  });
});
