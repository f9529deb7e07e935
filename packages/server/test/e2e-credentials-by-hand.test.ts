/**
 * A credentials.txt edited by hand (attack round 19), through the real binaries: saved by Notepad with a
 * byte order mark and CRLF line ends, or with a line mangled (a trailing blank, a tab). Before, the first
 * line's account (the mark read as part of its name) and every mangled line's were skipped and their names
 * free: the next client to log in as `alice` was told `New user` and made her account with its own password.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { answered, cleanupAfterEach, P, runClient, startServer, tempDir } from './forum-processes.js';

describe('credentials.txt edited by hand', () => {
  const scope = cleanupAfterEach();

  const serve = async (credentials: string): Promise<{ readonly port: number; readonly cwd: string; readonly data: string; readonly lines: () => string[]; readonly stderr: () => string }> => {
    const data = await tempDir('data');
    const cwd = await tempDir('cwd');
    scope.dirs.push(data, cwd);
    await writeFile(join(data, 'credentials.txt'), credentials);
    const server = await startServer(data);
    scope.servers.push(server);
    return { port: server.port, cwd, data, lines: () => server.lines(), stderr: () => server.stderr.text };
  };

  it('a byte order mark and CRLF line ends: every account logs in with its password, and a wrong one is refused', async () => {
    const text = '\uFEFFalice secret\r\nbob pw\r\n';
    const s = await serve(text);
    expect(s.stderr()).not.toContain('malformed');
    const alice = await runClient(s.port, s.cwd, ['alice', 'secret', 'XIT']);
    expect(alice.stdout).toBe(P.user + P.pass + 'Welcome to the forum\n' + answered(['Goodbye']));
    const thief = await runClient(s.port, s.cwd, ['alice', 'hacked', 'XIT']);
    expect(thief.stdout).toContain(`${P.pass}Invalid password\n`);
    expect(await readFile(join(s.data, 'credentials.txt'), 'utf8')).toBe(text);
  });

  it('a mangled line\'s name is refused at login, not registered anew; the file is left as it was', async () => {
    const text = 'alice secret \nbob\tpw\ncarol pw\n';
    const s = await serve(text);
    const refused = await runClient(s.port, s.cwd, ['alice', 'secret']);
    // A script's login refused at its username: stopped (status 7), its password not read as the next username.
    expect(refused.stdout).toBe(P.user + "The account alice cannot be used until the server's operator mends its line in credentials.txt\n");
    expect(refused.code).toBe(7);
    expect(s.lines()).toContain('Login of alice refused: credentials.txt line 1, skipped as malformed, may be its account');
    const carol = await runClient(s.port, s.cwd, ['carol', 'pw', 'XIT']);
    expect(carol.stdout).toBe(P.user + P.pass + 'Welcome to the forum\n' + answered(['Goodbye']));
    expect(await readFile(join(s.data, 'credentials.txt'), 'utf8')).toBe(text);
  });
});
