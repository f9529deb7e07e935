/** The server's identity key file (real processes): created on first start, mode 0600, kept, shown, guarded. */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, IDENTITY_FILE, SERVER_BIN, startServer, tempDir, type ServerProc } from './forum-processes.js';

const FINGERPRINT = /identity key fingerprint (SHA256:[A-Za-z0-9+/]{43}) \((created|from) /;

const showFingerprint = (dataDir: string): { code: number; stdout: string; stderr: string } => {
  try {
    return { code: 0, stdout: execFileSync(process.execPath, [SERVER_BIN, '--show-fingerprint', '--data-dir', dataDir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }), stderr: '' };
  } catch (e) {
    const err = e as { status: number; stdout: string; stderr: string };
    return { code: err.status, stdout: err.stdout, stderr: err.stderr };
  }
};

describe('forum-server identity key (real processes)', () => {
  const dirs: string[] = [];
  const servers: ServerProc[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop()));
    await cleanup(...dirs.splice(0));
  });

  it('is created on first start with mode 0600, printed, kept across restarts, and shown by --show-fingerprint', async () => {
    const data = await tempDir('identity');
    dirs.push(data);
    const first = await startServer(data);
    servers.push(first);
    const m1 = FINGERPRINT.exec(first.stderr.text);
    expect(m1?.[2]).toBe('created');
    const file = join(data, IDENTITY_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readFile(file, 'utf8')).toMatch(/^x25519-private [0-9a-f]{64}$/m);
    await first.stop();

    const second = await startServer(data);
    servers.push(second);
    const m2 = FINGERPRINT.exec(second.stderr.text);
    expect(m2?.[2]).toBe('from');
    expect(m2?.[1]).toBe(m1?.[1]);
    await second.stop();

    const shown = showFingerprint(data);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toBe(`${m1?.[1]}\n`);
  });

  it('a restart whose --identity-file names no file, beside the data directory\'s own key, warns that clients will refuse the new key', async () => {
    const data = await tempDir('identity-moved');
    const elsewhere = await tempDir('identity-elsewhere');
    dirs.push(data, elsewhere);
    const first = await startServer(data);
    servers.push(first);
    await first.stop();
    // A mistyped path: before, the new key was made and only its `(created …)` said so; every client then exited 5.
    const typo = join(elsewhere, 'identty');
    const second = await startServer(data, ['--identity-file', typo]);
    servers.push(second);
    expect(FINGERPRINT.exec(second.stderr.text)?.[2]).toBe('created');
    await second.stderr.waitFor('check --identity-file\n');
    expect(second.stderr.text).toContain(
      `forum-server: warning: a new identity key was made at ${typo}, but the data directory holds one (${join(data, IDENTITY_FILE)}): ` +
        `clients that knew this server refuse the new key as an impersonator's (forum-client exit status 5) until each deletes its known_hosts line; ` +
        `if the server should keep its identity, check --identity-file\n`,
    );
    await second.stop();
    // Started again with that key (it exists now), or with the directory's own: nothing to warn of.
    for (const args of [['--identity-file', typo], []]) {
      const again = await startServer(data, args);
      servers.push(again);
      // All it printed, once it has exited.
      await again.stop();
      expect(again.stderr.text).not.toContain('warning: a new identity key');
    }
  });

  it('--show-fingerprint on a fresh directory creates the key the server will then use', async () => {
    const data = await tempDir('identity-fresh');
    dirs.push(data);
    const shown = showFingerprint(data);
    expect(shown.code).toBe(0);
    const server = await startServer(data);
    servers.push(server);
    expect(FINGERPRINT.exec(server.stderr.text)?.[1]).toBe(shown.stdout.trim());
  });

  it('--show-fingerprint --identity-file in a directory not made yet (the README\'s /etc/forum/identity) makes it, for its owner only', async () => {
    const root = await tempDir('identity-dir');
    dirs.push(root);
    const file = join(root, 'etc', 'forum', 'identity');
    const r = spawnSync(process.execPath, [SERVER_BIN, '--show-fingerprint', '--identity-file', file], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^SHA256:[A-Za-z0-9+/]{43}\n$/);
    expect(r.stderr).toBe(
      `forum-server: created a new identity key ${file} (and its directory ${join(root, 'etc', 'forum')}, which did not exist), fingerprint ${r.stdout.trim()}: ` +
        `clients that pinned another key for this server will refuse it. If this server had a key, stop it and give that key's path (--identity-file, or the --data-dir that holds it)\n`,
    );
    expect((await stat(join(root, 'etc', 'forum'))).mode & 0o777).toBe(0o700);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('a server given a missing --identity-file says it made a new identity and what that means for clients', async () => {
    const data = await tempDir('identity-new');
    dirs.push(data);
    const file = join(data, 'keys', 'identity');
    await mkdir(join(data, 'keys'));
    const server = await startServer(data, ['--identity-file', file]);
    servers.push(server);
    const fingerprint = FINGERPRINT.exec(server.stderr.text)?.[1];
    // Before: only '(created FILE)' after the fingerprint, and every client that had pinned the old key refused the server.
    expect(server.stderr.text).toContain(
      `forum-server: created a new identity key ${file}, fingerprint ${fingerprint ?? '?'}: clients that pinned another key for this server will refuse it. ` +
        `If this server had a key, stop it and give that key's path (--identity-file, or the --data-dir that holds it)\n`,
    );
    await server.stop();
    // Loaded the next time: nothing said of it.
    const again = await startServer(data, ['--identity-file', file]);
    servers.push(again);
    expect(FINGERPRINT.exec(again.stderr.text)?.[1]).toBe(fingerprint);
    expect(again.stderr.text).not.toContain('created a new identity key');
  });

  it('a server given an --identity-file in a directory that does not exist (a mistyped path) refuses to start, and makes nothing', async () => {
    const data = await tempDir('identity-typo');
    dirs.push(data);
    await mkdir(join(data, 'keys'));
    const file = join(data, 'kyes', 'identity');
    // Before: the directory and a new key were made, and the server ran under an identity no client had pinned.
    const r = spawnSync(process.execPath, [SERVER_BIN, '0', '--data-dir', data, '--identity-file', file], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      `forum-server: cannot load the identity key: ${file} does not exist, nor does its directory ${join(data, 'kyes')}: check the path (a key made there would be a new identity, ` +
        `which clients that pinned this server's key refuse). To make a new key, create the directory, or run forum-server --show-fingerprint --identity-file ${file}\n`,
    );
    expect((await readdir(data)).includes('kyes')).toBe(false);
  });

  it("creating a key deletes a killed start's temporary key files, not other files of their prefix", async () => {
    const dir = await tempDir('identity-temps');
    dirs.push(dir);
    const file = join(dir, 'identity');
    const leftover = 'identity.tmp-4242.0b9c1f2e-3d4a-4b5c-8d6e-7f8091a2b3c4';
    const foreign = ['identity.tmp-notes', 'identity.tmp-4242.backup'];
    for (const name of [leftover, ...foreign]) await writeFile(join(dir, name), 'x');
    const r = spawnSync(process.execPath, [SERVER_BIN, '--show-fingerprint', '--identity-file', file], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    // Before: every `identity.tmp-*` name was deleted.
    expect((await readdir(dir)).sort()).toEqual(['identity', ...foreign].sort());
  });

  it('a key file others can read, or one that is not a key, stops the server with a clear message', async () => {
    const data = await tempDir('identity-bad');
    dirs.push(data);
    expect(showFingerprint(data).code).toBe(0);
    const file = join(data, IDENTITY_FILE);
    await chmod(file, 0o644);
    const open = showFingerprint(data);
    expect(open.code).toBe(1);
    expect(open.stderr).toContain(`permissions 0644 on ${file} are too open`);
    await expect(startServer(data)).rejects.toThrow(/too open/);
    await writeFile(file, 'not a key\n', { mode: 0o600 });
    await chmod(file, 0o600);
    await expect(startServer(data)).rejects.toThrow(/is not a forum-server identity key file/);
  });

  it('--identity-file naming a directory says so, and does not advise chmod 600 on it', async () => {
    const dir = await tempDir('identity-a-dir');
    dirs.push(dir);
    const r = spawnSync(process.execPath, [SERVER_BIN, '--show-fingerprint', '--identity-file', dir], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    // Before: `EISDIR: illegal operation on a directory, read` here (mode 0700); for 0755 `permissions 0755 … are too open … (chmod 600 DIR)`.
    expect(r.stderr).toBe(`forum-server: cannot load the identity key: ${dir} is a directory: --identity-file names the key file itself\n`);
  });
});
