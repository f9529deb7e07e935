/**
 * A data directory whose files this server's user may not write (copied or restored as another user, or
 * made read-only by hand), attack round 19: the start says so, each change of those files is refused
 * without taking the rest down, and works again once the file is writable, with no restart. Root writes
 * any file: run as `nobody` when the tests run as root.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmod, chown, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { answered, cleanupAfterEach, P, runClient, SERVER_BIN, tempDir } from './forum-processes.js';

const NOBODY = 65534;

describe('data directory files the server may not write', () => {
  const { dirs, stops } = cleanupAfterEach();

  it('are warned of at start, refused while so, and written again once writable (no restart)', async () => {
    const data = await tempDir('data');
    const cwd = await tempDir('cwd');
    dirs.push(data, cwd);
    await writeFile(join(data, 'credentials.txt'), 'alice secret\n');
    await writeFile(join(data, 'news'), 'alice\n1 alice: hi\n');
    await writeFile(join(data, 'other'), 'alice\n');
    const asRoot = process.getuid?.() === 0;
    if (asRoot) {
      for (const f of ['', 'credentials.txt', 'news', 'other']) await chown(join(data, f), NOBODY, NOBODY);
      await chmod(cwd, 0o777);
    }
    await chmod(join(data, 'credentials.txt'), 0o444);
    await chmod(join(data, 'news'), 0o444);
    const server = spawn(process.execPath, [SERVER_BIN, '0', '--data-dir', data], { stdio: ['ignore', 'pipe', 'pipe'], ...(asRoot ? { uid: NOBODY, gid: NOBODY } : {}) });
    stops.push(() => server.kill('SIGKILL'));
    let stderr = '';
    server.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    await new Promise<void>((resolve) => server.stderr.on('data', () => /UDP \S+:\d+/.test(stderr) && resolve()));
    const port = Number(/UDP \S+:(\d+)/.exec(stderr)?.[1]);
    // Before: nothing said; the first MSG and the first new account failed with `… please try again`.
    expect(stderr).toContain('Warning: credentials.txt is not writable by this process (EACCES): new accounts will fail until it is\n');
    expect(stderr).toContain('Warning: thread files not writable by this process, whose changes will fail until they are: news (EACCES)\n');
    expect(stderr).not.toContain('other (');
    const before = await runClient(port, cwd, ['alice', 'secret', 'MSG news hello', 'MSG other fine', 'XIT']);
    expect(before.stdout).toBe(P.user + P.pass + 'Welcome to the forum\n' + answered(['The server could not complete the command, please try again'], ['Message posted to other thread'], ['Goodbye']));
    await chmod(join(data, 'news'), 0o644);
    const after = await runClient(port, cwd, ['alice', 'secret', 'MSG news hello', 'RDT news', 'XIT']);
    expect(after.stdout).toBe(P.user + P.pass + 'Welcome to the forum\n' + answered(['Message posted to news thread'], ['1 alice: hi', '2 alice: hello'], ['Goodbye']));
  });

  it("a data directory or an identity key directory it may not write stops the start saying so, not with a temporary file's bare EACCES", async () => {
    const parent = await tempDir('unwritable');
    dirs.push(parent);
    const data = join(parent, 'data');
    const keys = join(parent, 'keys');
    await mkdir(data);
    await mkdir(keys);
    const asRoot = process.getuid?.() === 0;
    // Root writes any directory: the server runs as nobody, who may read these but not write them.
    for (const d of [parent, data, keys]) await chmod(d, asRoot ? 0o755 : 0o555);
    const run = (args: readonly string[]) =>
      spawnSync(process.execPath, [SERVER_BIN, ...args], { encoding: 'utf8', timeout: 20_000, ...(asRoot ? { uid: NOBODY, gid: NOBODY } : {}) });
    const user = `user id ${asRoot ? NOBODY : process.getuid?.()}`;
    const key = run(['--show-fingerprint', '--identity-file', join(keys, 'identity')]);
    expect(key.status).toBe(1);
    // Before: `cannot load the identity key: EACCES: permission denied, open '…/identity.tmp-PID.UUID'`.
    expect(key.stderr).toBe(
      `forum-server: cannot load the identity key: ${join(keys, 'identity')} does not exist and cannot be created: ${keys} is not writable by this process (${user}) (EACCES); ` +
        'run forum-server as a user that may write there, or give --identity-file an existing key\n',
    );
    const start = run(['0', '--data-dir', data]);
    expect(start.status).toBe(1);
    // Before: `cannot open data directory …: EACCES: permission denied, open '…/.forum-server.lock.PID.UUID'`.
    expect(start.stderr).toContain(
      `forum-server: cannot open data directory ${data}: ${data} is not writable by this process (${user}) (EACCES); run forum-server as a user that may write there, or give --data-dir another directory\n`,
    );
    expect(await readdir(data)).toEqual([]);
    expect(await readdir(keys)).toEqual([]);
    for (const d of [parent, data, keys]) await chmod(d, 0o755);
  });
});
