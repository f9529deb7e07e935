/**
 * Round 32's origin race on PostgreSQL (round32-origin-pg.ts; again in a rolling upgrade,
 * round33-rolling-origin.ts): the accounts of one origin (127.0.0.9) racing CRTs, uploads, RMV churn and a
 * final fill over the servers given, the origin's holdings checked against its bound and its counters after
 * each phase. See round32-origin-pg.ts's header for the phases.
 */
import { download, session, upload, type Session } from './forum-raw.js';
import type { PgCluster } from './lib-pg-cluster.js';

/** The origin's shares and each account's limits. */
export const SHARES = 2;
export const USER_UPLOAD_BYTES = 100_000;
export const USER_THREADS = 3;
const ACCOUNTS = 8;

/** The servers' flags for the bound raced. */
export const ORIGIN_RACE_FLAGS: readonly string[] = ['--origin-shares', String(SHARES), '--max-data-bytes-per-user', String(USER_UPLOAD_BYTES), '--max-threads-per-user', String(USER_THREADS)];

/** Runs the race over `servers` (accounts alternating between them), `cycles` churn rounds; whether the bound held. */
export async function raceOriginBound(servers: readonly { readonly port: number }[], { sql, signal }: Pick<PgCluster, 'sql' | 'signal'>, cycles: number): Promise<boolean> {
  const names = Array.from({ length: ACCOUNTS }, (_, i) => `o${i}`);
  const serverOf = (i: number): number => (servers[i % servers.length] as { port: number }).port;
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
  return fine;
}
