/**
 * forum-client's input holds a line longer than any request can be (`< /dev/zero`, a binary file piped by
 * mistake): the line is not gathered without bound. Before, readline grew it until V8's longest string (~1 GB
 * of memory), then the client crashed with `RangeError: Invalid string length`, status 1 (read as an
 * unreachable server); a long line that did end was sent as a command.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { simpleReply } from 'forum-protocol';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach, CLIENT_BIN, ownKnownHosts, P, spawnClient, tempDir, withoutFirstContact } from '../../server/test/forum-processes.js';
import { loginReply, startFakeServer } from './fake-forum-server.js';
import { MAX_INPUT_LINE_BYTES } from '../src/line-bound.js';

const OVERLONG = `Input line over ${MAX_INPUT_LINE_BYTES / 1024 / 1024} MiB (no answer or command is that long): the rest of the input is not read`;

describe('forum-client given an input line longer than any request', () => {
  const scope = cleanupAfterEach();

  const fake = async (): Promise<{ readonly port: number; readonly seen: string[] }> => {
    const seen: string[] = [];
    const server = await startFakeServer(
      (req) => {
        seen.push([req.cmd, ...req.args].join(' ').slice(0, 40));
        return [loginReply(req) ?? simpleReply(req.id, 'ok', ['No threads to list'], { kind: 'none' })];
      },
      undefined,
      { answersLogin: true },
    );
    scope.closers.push(() => server.close());
    return { port: server.port, seen };
  };

  it('< /dev/zero: said before connecting, status 2, memory bounded (no crash)', async () => {
    const { port, seen } = await fake();
    const cwd = await tempDir('overlong');
    scope.dirs.push(cwd);
    const zero = openSync('/dev/zero', 'r');
    const child = spawn(process.execPath, [CLIENT_BIN, String(port), ...ownKnownHosts([])], { cwd, stdio: [zero, 'pipe', 'pipe'] });
    closeSync(zero);
    scope.stops.push(() => child.kill('SIGKILL'));
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    // Before: status 1 and readline's RangeError, once some 1 GB was held.
    expect({ code, stdout, stderr }).toEqual({ code: 2, stdout: '', stderr: `${OVERLONG}; not logged in\n` });
    expect(seen).toEqual([]);
  }, 30_000);

  it('a piped script with a 2 MiB line after its first command: the session is logged out there, the rest not run, status 2', async () => {
    const { port, seen } = await fake();
    const cwd = await tempDir('overlong');
    scope.dirs.push(cwd);
    const client = spawnClient(port, cwd);
    scope.stops.push(() => client.child.kill('SIGKILL'));
    client.child.stdin?.end(`yoda\npw\nLST\nMSG t ${'x'.repeat(2 * 1024 * 1024)}\nCRT after\n`);
    expect(await client.exited).toBe(2);
    // Before: the long line was sent as a command, and `CRT after` was run.
    expect(seen).toEqual(['username yoda', 'password pw', 'LST', 'XIT']);
    expect(client.stdout.text).toBe(`${P.user}${P.pass}Welcome to the forum\n${P.cmd}No threads to list\n${P.cmd}\nGoodbye\n`);
    expect(withoutFirstContact(client.stderr.text)).toBe(`${OVERLONG}: the commands after this point were not run\n`);
  }, 30_000);
});
