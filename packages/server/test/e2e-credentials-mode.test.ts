/**
 * credentials.txt's mode, through the built forum-server and forum-client: the file holds every password
 * (plain, the spec's format, unless --hash-passwords), and the store made it 0644, readable by any local
 * user. A new one is made owner-only now (less the umask, measured here), `.forum-account-origins` (client
 * addresses) too; one found readable by others with plain passwords in it is warned of at start, with the
 * fix, and still served (other tools may read the spec's format).
 */
import { chmod, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashPassword } from 'forum-protocol';
import { answered, cleanupAfterEach, ORIGINS_FILE, P, runClient, startServer, tempDir } from './forum-processes.js';

/** `mode` less this process's umask (the servers it starts inherit it): a file made 0666 shows which bits it takes. */
const lessUmask = async (dir: string, mode: number): Promise<number> => {
  const probe = join(dir, 'umask-probe');
  await (await open(probe, 'wx', 0o666)).close();
  const allowed = (await stat(probe)).mode & 0o777;
  await rm(probe);
  return mode & allowed;
};

const modeOf = async (path: string): Promise<string> => ((await stat(path)).mode & 0o777).toString(8).padStart(4, '0');

describe('credentials.txt mode', () => {
  const scope = cleanupAfterEach();

  /** A data directory whose credentials.txt holds `text` at `mode`. */
  const dataDir = async (text: string, mode: number): Promise<{ readonly data: string; readonly path: string }> => {
    const data = await tempDir('data');
    scope.dirs.push(data);
    const path = join(data, 'credentials.txt');
    await writeFile(path, text);
    await chmod(path, mode);
    return { data, path };
  };

  const serve = async (data: string, args: readonly string[] = []): Promise<string> => {
    const server = await startServer(data, args);
    scope.servers.push(server);
    const stderr = server.stderr.text;
    await server.stop();
    return stderr;
  };

  it('plain passwords readable by others or the group: one warning line naming the file, its mode and the fix; the server starts', async () => {
    const hashed = await hashPassword('hidden');
    const open644 = await dataDir(`alice secret\ncarol ${hashed}\nbob pw\n`, 0o644);
    expect(await serve(open644.data)).toContain(
      `Warning: ${open644.path} holds 2 plain passwords and is mode 0644, readable by any local user: chmod 600 ${open644.path}, or start with --hash-passwords (which hashes each at its account's next login)\n`,
    );
    const group = await dataDir('alice secret\n', 0o640);
    expect(await serve(group.data, ['--hash-passwords'])).toContain(
      `Warning: ${group.path} holds 1 plain password and is mode 0640, readable by its group: chmod 600 ${group.path} (--hash-passwords hashes each at its account's next login)\n`,
    );
  });

  it('no warning for an owner-only file, nor for one of hashes only', async () => {
    const owner = await dataDir('alice secret\n', 0o600);
    expect(await serve(owner.data)).not.toContain('plain password');
    const hashes = await dataDir(`alice ${await hashPassword('hidden')}\n`, 0o644);
    expect(await serve(hashes.data)).not.toContain('plain password');
  });

  it('an account registered on a new data directory: credentials.txt and .forum-account-origins owner-only, and the next start warns of nothing', async () => {
    const data = await tempDir('data');
    const cwd = await tempDir('cwd');
    scope.dirs.push(data, cwd);
    const server = await startServer(data);
    scope.servers.push(server);
    const run = await runClient(server.port, cwd, ['alice', 'secret', 'XIT']);
    expect(run.stdout).toBe(P.user + P.newPass + 'Welcome to the forum\n' + answered(['Goodbye']));
    await server.stop();
    expect((await readdir(data)).sort()).toEqual(expect.arrayContaining(['credentials.txt', ORIGINS_FILE]));
    const owner = (await lessUmask(data, 0o600)).toString(8).padStart(4, '0');
    expect(await modeOf(join(data, 'credentials.txt'))).toBe(owner);
    expect(await modeOf(join(data, ORIGINS_FILE))).toBe(owner);
    expect(await serve(data)).not.toContain('plain password');
  });
});
