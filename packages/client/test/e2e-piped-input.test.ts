/**
 * forum-client reading a pipe whose last line has no newline (`printf 'alice'`), as the built
 * binaries run: the unterminated line is an answer like any other, then end of input is handled as
 * at a line's end; ending before logging in is said on standard error. No input at all is said, status 0 (the spec: exit cleanly on end of standard input).
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { answered, CLIENT_BIN, ownKnownHosts, P, runClient, spawnClient, withoutFirstContact } from '../../server/test/forum-processes.js';
import { sharedServer } from './client-processes.js';

describe('forum-client with piped input ending without a newline (real processes)', () => {
  // One server for all (6 starts -> 1): each test's users are its own, and none stops it.
  const shared = sharedServer();
  const inTemp = async (): Promise<{ server: typeof shared.server; cwd: string }> => ({ server: shared.server, cwd: await shared.cwd() });

  /** Runs the client with exactly `input` on stdin (no newline added), to its exit. */
  const piped = async (port: number, cwd: string, input: string): Promise<{ code: number | string; stdout: string; stderr: string }> => {
    const c = spawnClient(port, cwd);
    c.child.stdin?.end(input);
    const code = await c.exited;
    return { code, stdout: c.stdout.text, stderr: withoutFirstContact(c.stderr.text) };
  };

  it('the last, unterminated line answers its prompt; input ending before login is said on stderr', async () => {
    const { server, cwd } = await inTemp();
    // `printf 'alice'`: the name is sent (a new user, so the new-password prompt), then the end of input.
    // Before: the same standard output, and nothing on stderr to say that no one logged in.
    expect(await piped(server.port, cwd, 'alice')).toEqual({ code: 0, stdout: P.user + P.newPass, stderr: 'End of input at the password prompt: not logged in\n' });
    // `printf 'alice\npass'`: the unterminated password creates the account; end of input logs out.
    expect(await piped(server.port, cwd, 'alice\npass')).toEqual({ code: 0, stdout: P.user + P.newPass + 'Welcome to the forum\n' + P.cmd + '\nGoodbye\n', stderr: '' });
    expect((await readFile(join(server.dataDir, 'credentials.txt'), 'utf8')).split('\n')).toContain('alice pass');
    // The password is exactly `pass`: it logs in again, and an unterminated XIT is a command too.
    expect(await piped(server.port, cwd, 'alice\npass\nXIT')).toEqual({ code: 0, stdout: P.user + P.pass + 'Welcome to the forum\n' + answered(['Goodbye']), stderr: '' });
    // CRLF line ends (a file from Windows): the same answers.
    expect(await piped(server.port, cwd, 'alice\r\npass\r\nXIT')).toEqual({ code: 0, stdout: P.user + P.pass + 'Welcome to the forum\n' + answered(['Goodbye']), stderr: '' });
  });

  const NO_INPUT = 'No input: standard input ended before its first line (forum-client reads the username, the password and the commands from it, one a line); not logged in\n';

  // At first each connected and showed the username prompt; then said, status 2; the spec asks for a clean exit at the end of input.
  it.each([
    ['</dev/null', '< /dev/null'],
    ['an empty file', '< empty'],
    ['standard input closed', '<&-'],
  ] as const)('no input at all (%s): said, status 0, nothing sent to the server (no prompt, which follows the connection)', async (_, redirect) => {
    const { server, cwd } = await inTemp();
    await writeFile(join(cwd, 'empty'), '');
    const quote = (a: string): string => `'${a.replaceAll("'", "'\\''")}'`;
    const command = [process.execPath, CLIENT_BIN, String(server.port), ...ownKnownHosts([])].map(quote).join(' ');
    const child = spawn('sh', ['-c', `exec ${command} ${redirect}`], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect({ code, stdout, stderr }).toEqual({ code: 0, stdout: '', stderr: NO_INPUT });
  });

  it('an empty pipe, ended at once (during the handshake or just after it): said, status 0', async () => {
    const { server, cwd } = await inTemp();
    const c = spawnClient(server.port, cwd);
    c.end();
    expect(await c.exited).toBe(0);
    // The prompt follows the connection: shown only if the handshake ended before the input was found empty.
    expect(c.stdout.text === '' || c.stdout.text === P.user).toBe(true);
    expect(withoutFirstContact(c.stderr.text)).toBe(NO_INPUT);
  });

  it('a pipe that ends without a line once the prompt is shown: said, status 0, the connection closed unused', async () => {
    const { server, cwd } = await inTemp();
    const c = spawnClient(server.port, cwd);
    await c.stdout.waitFor(P.user);
    c.end();
    expect(await c.exited).toBe(0);
    expect({ stdout: c.stdout.text, stderr: withoutFirstContact(c.stderr.text) }).toEqual({ stdout: P.user, stderr: NO_INPUT });
    // A client of the same user logs in at once: nothing was held.
    const again = await runClient(server.port, cwd, ['carol', 'pw', 'XIT']);
    expect({ code: again.code, stdout: again.stdout }).toEqual({ code: 0, stdout: P.user + P.newPass + 'Welcome to the forum\n' + answered(['Goodbye']) });
  });
});
