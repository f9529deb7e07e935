/**
 * Attack round 33, item 2: round32-origin-pg.ts during a rolling upgrade. Server A is the build before schema 16
 * (`A33_OLD_TREE`: a worktree of 2efffd83^, built; it migrates the new database to schema 15 and checks only an
 * origin's own row), started first; server B is this build, started while A runs, which migrates the database to
 * schema 16 under it. Then the races below, half the accounts on each. An IPv4 origin is one level, so both
 * servers lock and read the same row: the bound must hold as on one version.
 *
 *   A33_OLD_TREE=/path/to/old/worktree npx tsx attack/round33-rolling-origin.ts [cycles=3]
 *
 * Round 32's header follows.
 *
 * Attack round 32, item 1 on PostgreSQL: the origin bound's threads and upload bytes (schema 16's counters
 * `origin_threads` and `origin_upload_bytes`, kept by triggers, read under each level's advisory lock) raced by the
 * accounts of one origin over two built forum-servers on one embedded PostgreSQL.
 *
 *   npx tsx attack/round32-origin-pg.ts [cycles=4]
 *
 * 8 accounts made from 127.0.0.9 (one origin), 4 logged in on each server; `--origin-shares 2`, per account 3
 * threads and 100,000 B of uploads (the origin: 6 threads, 200,000 B). A watcher (127.0.0.4) owns the thread
 * `shared` the uploads go to. Then, each with every account at once, half on each server:
 *
 *   crt     3 CRTs each (24 at once);
 *   upd     3 uploads of 40,000 B each (24 at once);
 *   churn   `cycles` times: RMV of every thread of the eight, and of `shared` by the watcher, sent at once with
 *           3 CRTs each and (once `shared` is made again) 2 uploads each, so that the counters' give-backs (a
 *           thread's delete, its uploads' cascade) race their takes on the other server.
 *
 * After each phase: what the origin holds by the forum's own account (LST, and the bytes DWN gives of every
 * upload the watcher's RDT lists) against the bound; the counters' rows for the origin against the per-account
 * counters summed (the triggers' work) and against the base rows (`threads`, committed `uploads`). Then a fill:
 * CRTs and 1,000 B uploads until every one is refused. Loopback only; stops by itself.
 */
import { ORIGIN_RACE_FLAGS, raceOriginBound } from './lib-origin-race.js';
import { openPgCluster } from './lib-pg-cluster.js';

const cycles = Number(process.argv[2] ?? 4);
const hardStop = setTimeout(() => process.exit(2), 280_000);

const cluster = await openPgCluster('a33-roll-');
const { sql } = cluster;
const oldTree = process.env.A33_OLD_TREE;
if (oldTree === undefined) throw new Error('A33_OLD_TREE: a built worktree of the commit before schema 16');
const oldCluster = (await import(`${oldTree}/scripts/cluster.mjs`)) as typeof import('../scripts/cluster.mjs');
const old = await oldCluster.startServerProcess({
  port: 0,
  databaseUrl: cluster.url,
  cwd: cluster.keyDir,
  identityFile: `${cluster.keyDir}/identity-old`,
  extraArgs: ['--account-limit', '0', ...ORIGIN_RACE_FLAGS],
});
const [before] = await sql<{ version: number }[]>`SELECT version FROM forum_schema`;
const current = await cluster.start(ORIGIN_RACE_FLAGS);
const [after] = await sql<{ version: number }[]>`SELECT version FROM forum_schema`;
console.log(`schema ${before?.version} under the old server alone, ${after?.version} once the new one started beside it`);
const servers = [old, current];
const hardStopOld = setTimeout(() => void old.stop(), 290_000);
const fine = await raceOriginBound(servers, cluster, cycles);
console.log(fine ? 'held: never past the bound, the counters always agreed' : 'BROKE: see the marked lines');
console.log(`old server still running at the end: ${old.child.exitCode === null}`);
await old.stop();
await cluster.close();
clearTimeout(hardStop);
clearTimeout(hardStopOld);
