/**
 * forum-client reading a pipe whose last line has no newline (`printf 'alice'`), as the built
 * binaries run: the unterminated line is an answer like any other, then end of input is handled as
 * at a line's end; ending before logging in is said on standard error.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { answered, cleanupAfterEach, P, spawnClient, withoutFirstContact } from '../../server/test/forum-processes.js';

describe('forum-client with piped input ending without a newline (real processes)', () => {
  const scope = cleanupAfterEach();

  /** Runs the client with exactly `input` on stdin (no newline added), to its exit. */
  const piped = async (port: number, cwd: string, input: string): Promise<{ code: number | string; stdout: string; stderr: string }> => {
    const c = spawnClient(port, cwd);
    c.child.stdin?.end(input);
    const code = await c.exited;
    return { code, stdout: c.stdout.text, stderr: withoutFirstContact(c.stderr.text) };
  };

  it('the last, unterminated line answers its prompt; input ending before login is said on stderr', async () => {
    const { server, cwd } = await scope.startInTemp();
    // Nothing at all: the username prompt meets the end of input.
    expect(await piped(server.port, cwd, '')).toEqual({ code: 0, stdout: P.user, stderr: 'End of input at the username prompt: not logged in\n' });
    // `printf 'alice'`: the name is sent (a new user, so the new-password prompt), then the end of input.
    // Before: the same standard output, and nothing on stderr to say that no one logged in.
    expect(await piped(server.port, cwd, 'alice')).toEqual({ code: 0, stdout: P.user + P.newPass, stderr: 'End of input at the password prompt: not logged in\n' });
    // `printf 'alice\npass'`: the unterminated password creates the account; end of input logs out.
    expect(await piped(server.port, cwd, 'alice\npass')).toEqual({ code: 0, stdout: P.user + P.newPass + 'Welcome to the forum\n' + P.cmd + '\nGoodbye\n', stderr: '' });
    expect(await readFile(join(server.dataDir, 'credentials.txt'), 'utf8')).toBe('alice pass\n');
    // The password is exactly `pass`: it logs in again, and an unterminated XIT is a command too.
    expect(await piped(server.port, cwd, 'alice\npass\nXIT')).toEqual({ code: 0, stdout: P.user + P.pass + 'Welcome to the forum\n' + answered(['Goodbye']), stderr: '' });
    // CRLF line ends (a file from Windows): the same answers.
    expect(await piped(server.port, cwd, 'alice\r\npass\r\nXIT')).toEqual({ code: 0, stdout: P.user + P.pass + 'Welcome to the forum\n' + answered(['Goodbye']), stderr: '' });
  });
});
