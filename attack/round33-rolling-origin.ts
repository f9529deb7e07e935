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
import { download, session, upload, type Session } from './forum-raw.js';
import { openPgCluster } from './lib-pg-cluster.js';

const cycles = Number(process.argv[2] ?? 4);
const SHARES = 2;
const USER_UPLOAD_BYTES = 100_000;
const USER_THREADS = 3;
const ACCOUNTS = 8;
const hardStop = setTimeout(() => process.exit(2), 280_000);

const cluster = await openPgCluster('a33-roll-');
const { sql, signal } = cluster;
const flags = ['--origin-shares', String(SHARES), '--max-data-bytes-per-user', String(USER_UPLOAD_BYTES), '--max-threads-per-user', String(USER_THREADS)];
const oldTree = process.env.A33_OLD_TREE;
if (oldTree === undefined) throw new Error('A33_OLD_TREE: a built worktree of the commit before schema 16');
const oldCluster = (await import(`${oldTree}/scripts/cluster.mjs`)) as typeof import('../scripts/cluster.mjs');
const old = await oldCluster.startServerProcess({
  port: 0,
  databaseUrl: cluster.url,
  cwd: cluster.keyDir,
  identityFile: `${cluster.keyDir}/identity-old`,
  extraArgs: ['--account-limit', '0', ...flags],
});
const [before] = await sql<{ version: number }[]>`SELECT version FROM forum_schema`;
const current = await cluster.start(flags);
const [after] = await sql<{ version: number }[]>`SELECT version FROM forum_schema`;
console.log(`schema ${before?.version} under the old server alone, ${after?.version} once the new one started beside it`);
const servers = [old, current];
const hardStopOld = setTimeout(() => void old.stop(), 290_000);
const names = Array.from({ length: ACCOUNTS }, (_, i) => `o${i}`);
const serverOf = (i: number): number => (servers[i % 2] as { port: number }).port;
const sessions: Session[] = [];
for (const [i, n] of names.entries()) sessions.push(await session(serverOf(i), n, signal, '127.0.0.9'));
const watcher = await session(serverOf(0), 'watcher', signal, '127.0.0.4');
const bounds = { uploads: SHARES * USER_UPLOAD_BYTES, threads: SHARES * USER_THREADS };

const threadsOf = new Map<number, string[]>();
let seq = 0;
const crtAll = async (each: number): Promise<number> => {
  const r = await Promise.all(
    sessions.flatMap((s, i) =>
      Array.from({ length: each }, async () => {
        const title = `t${i}-${seq++}`;
        const ok = /^Thread .* created$/.test((await s.request('CRT', [title])).lines[0] ?? '');
        if (ok) threadsOf.set(i, [...(threadsOf.get(i) ?? []), title]);
        return ok;
      }),
    ),
  );
  return r.filter(Boolean).length;
};
let fileSeq = 0;
const updAll = async (each: number, size: number): Promise<number> => {
  const r = await Promise.all(
    sessions.flatMap((s) =>
      Array.from({ length: each }, async () => {
        const g = await s.request('UPD', ['shared', `f${fileSeq++}.bin`]);
        return g.data.kind === 'transfer' ? upload(s, g, Buffer.alloc(size, 7), signal, '127.0.0.9') : false;
      }),
    ),
  );
  return r.filter(Boolean).length;
};

const report = async (phase: string): Promise<boolean> => {
  const lst = await watcher.request('LST', []);
  const threads = lst.lines.filter((t) => /^t\d+-\d+$/.test(t)).length;
  let uploads = 0;
  const rdt = await watcher.request('RDT', ['shared']);
  for (const l of rdt.lines) {
    const m = /^o\d+ uploaded (.+)$/.exec(l);
    if (m === null) continue;
    const got = await download(watcher, await watcher.request('DWN', ['shared', m[1] as string]), signal);
    if (typeof got !== 'string') uploads += got.length;
  }
  const [ot] = await sql<{ threads: number }[]>`SELECT coalesce(sum(threads), 0)::int AS threads FROM origin_threads WHERE origin = '127.0.0.9'`;
  const [ob] = await sql<{ bytes: number }[]>`SELECT coalesce(sum(bytes), 0)::bigint AS bytes FROM origin_upload_bytes WHERE origin = '127.0.0.9'`;
  const [ct] = await sql<{ threads: number }[]>`SELECT coalesce(sum(threads), 0)::int AS threads FROM creator_thread_counts WHERE creator LIKE 'o_'`;
  const [ub] = await sql<{ bytes: number }[]>`SELECT coalesce(sum(bytes), 0)::bigint AS bytes FROM uploader_bytes WHERE uploader LIKE 'o_'`;
  const over = threads > bounds.threads || uploads > bounds.uploads;
  const agree = Number(ot?.threads) === threads && Number(ob?.bytes) === uploads && Number(ct?.threads) === threads && Number(ub?.bytes) === uploads;
  console.log(
    `[${phase}] origin holds ${threads}/${bounds.threads} threads, ${uploads}/${bounds.uploads} B of uploads; counters: origin ${ot?.threads} threads, ${ob?.bytes} B; per account summed ${ct?.threads}, ${ub?.bytes} B${over ? '  ** PAST THE BOUND **' : ''}${agree ? '' : '  ** COUNTERS DISAGREE **'}`,
  );
  return !over && agree;
};

let fine = true;
await watcher.request('CRT', ['shared']);
console.log(`crt: ${await crtAll(USER_THREADS)} of ${ACCOUNTS * USER_THREADS} CRTs at once taken over 2 servers (bound ${bounds.threads})`);
console.log(`upd: ${await updAll(3, 40_000)} of ${ACCOUNTS * 3} uploads of 40,000 B stored (bound ${bounds.uploads} B)`);
fine = (await report('crt, upd')) && fine;
for (let c = 0; c < cycles; c++) {
  const rmvs = [...threadsOf.entries()].flatMap(([i, titles]) => titles.map((t) => (sessions[i] as Session).request('RMV', [t])));
  threadsOf.clear();
  const remade = watcher.request('RMV', ['shared']).then(() => watcher.request('CRT', ['shared']));
  const [gone, crt, upd] = await Promise.all([Promise.all(rmvs), crtAll(USER_THREADS), remade.then(() => updAll(2, 40_000))]);
  console.log(`churn ${c}: ${gone.filter((r) => /removed/i.test(r.lines[0] ?? '')).length} of ${gone.length} RMVs, ${crt} CRTs, ${upd} uploads taken at once`);
  fine = (await report(`churn ${c}`)) && fine;
}
let more = 0;
for (let round = 0; round < 60; round++) {
  const ok = await updAll(1, 1000);
  more += ok;
  if (ok === 0) break;
}
const crts = await crtAll(USER_THREADS);
console.log(`fill: ${more} uploads of 1,000 B and ${crts} CRTs before every one was refused`);
fine = (await report('filled')) && fine;
console.log(fine ? 'held: never past the bound, the counters always agreed' : 'BROKE: see the marked lines');
console.log(`old server still running at the end: ${old.child.exitCode === null}`);
await old.stop();
await cluster.close();
clearTimeout(hardStop);
clearTimeout(hardStopOld);
