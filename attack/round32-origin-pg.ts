/**
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
import { openPgCluster } from './lib-pg-cluster.js';
import { ORIGIN_RACE_FLAGS, raceOriginBound } from './lib-origin-race.js';

const cycles = Number(process.argv[2] ?? 4);
const hardStop = setTimeout(() => process.exit(2), 280_000);

const cluster = await openPgCluster('a32-opg-');
const servers = await cluster.startAll(2, ORIGIN_RACE_FLAGS);
const fine = await raceOriginBound(servers, cluster, cycles);
console.log(fine ? 'held: never past the bound, the counters always agreed' : 'BROKE: see the marked lines');
await cluster.close();
clearTimeout(hardStop);
