/**
 * Attack round 23: the thread-size limit (4 MiB of RDT reply) under changes at once on two forum-servers of one
 * PostgreSQL. Real processes on loopback: an embedded PostgreSQL and two built forum-servers (`--store`).
 *
 *   npx tsx attack/thread-size-cluster.ts [rounds=10] [accounts=8]
 *
 * A thread is filled by MSGs to within 12–16 KB of its limit; `accounts` accounts, half on each server, each own
 * one short message of it. Each round they all send at the same instant, over both servers:
 *   edt    every account an EDT growing its message by G bytes, where G is chosen so that about a third fit: exactly
 *          floor(room / G) may be taken;
 *   mixed  half EDTs growing by G, a quarter MSGs of G bytes, a quarter an UPD and its upload (a short line each).
 * After each round, the thread's RDT reply (recounted from the lines RDT shows) must be within the limit and equal to
 * the size the database keeps on the thread's row; then the grown messages are edited back to one character. A
 * missing `FOR UPDATE` in `lockThreadSize` took both edits past the limit in the deterministic test
 * (`postgres-thread-size-race.test.ts`); this shows whether anything lets it pass on real servers.
 */
import { session, upload, type Session } from './forum-raw.js';
import { openPgCluster, type ClusterServer } from './lib-pg-cluster.js';

const rounds = Number(process.argv[2] ?? 10);
const accounts = Number(process.argv[3] ?? 8);
/** MAX_THREAD_REPLY_BYTES of forum-protocol. */
const LIMIT = 4 * 1024 * 1024;
const ROOM = 12_000;

const cluster = await openPgCluster('a23-size-');
const { sql, signal } = cluster;
type Proc = ClusterServer;
const problems: string[] = [];

/** The RDT reply's size as the store counts it: JSON of the lines, and one comma too many. */
const recount = (lines: readonly string[]): number => Buffer.byteLength(JSON.stringify(lines)) + (lines.length === 0 ? 0 : 1);
const stored = async (): Promise<number> => Number((await sql<{ b: string }[]>`SELECT reply_bytes AS b FROM threads WHERE title = 'big'`)[0]?.b);

try {
  const [p0, p1] = (await cluster.startAll(2, ['--request-rate', '0'])) as [Proc, Proc];
  const owner = await session(p0.port, 'owner', signal);
  await owner.request('CRT', ['big']);
  const users: Session[] = [];
  for (let i = 0; i < accounts; i++) users.push(await session(i % 2 === 0 ? p0.port : p1.port, `u${i}`, signal));
  // Each account's message: numbers 1 to `accounts`, in order.
  for (const [i, u] of users.entries()) {
    const r = await u.request('MSG', ['big', 'a']);
    if (r.status !== 'ok') throw new Error(`u${i}: ${r.lines.join('|')}`);
  }
  const rdt = async (): Promise<readonly string[]> => (await owner.request('RDT', ['big'])).lines;
  // Filled by the owner's MSGs of 4,000 characters, then one to leave ROOM.
  const filler = 'y'.repeat(4000);
  for (;;) {
    const room = LIMIT - (await stored());
    const batch = Math.floor((room - ROOM) / 4020);
    if (batch < 1) break;
    const posts = await Promise.all(Array.from({ length: Math.min(batch, 8) }, () => owner.request('MSG', ['big', filler])));
    if (!posts.every((p) => p.status === 'ok')) throw new Error(posts.map((p) => p.lines.join('|')).join('; '));
  }
  const start = await rdt();
  if (recount(start) !== (await stored())) problems.push(`after the fill: RDT counts ${recount(start)}, the row keeps ${await stored()}`);
  console.log(`filled: ${start.length} lines, ${recount(start)} bytes, room ${LIMIT - recount(start)}`);
  let taken = 0;
  let asked = 0;
  for (let round = 0; round < rounds; round++) {
    const kind = round % 2 === 0 ? 'edt' : 'mixed';
    const before = recount(await rdt());
    const room = LIMIT - before;
    // About a third of the accounts' changes fit, each of G bytes of growth.
    const g = Math.min(4000, Math.floor(room / Math.max(1, Math.floor(accounts / 3))) - 7);
    const grown = `a${'e'.repeat(g)}`;
    const t0 = performance.now();
    const changes = users.map((u, i): Promise<{ readonly what: string; readonly ok: boolean }> => {
      const what = kind === 'edt' || i % 2 === 0 ? 'EDT' : i % 4 === 1 ? 'MSG' : 'UPD';
      if (what === 'EDT') return u.request('EDT', ['big', String(i + 1), grown]).then((r) => ({ what, ok: r.status === 'ok' }));
      if (what === 'MSG') return u.request('MSG', ['big', 'e'.repeat(g)]).then((r) => ({ what, ok: r.status === 'ok' }));
      return u.request('UPD', ['big', `f${round}-${i}`]).then(async (r) => ({ what, ok: r.status === 'ok' && (await upload(u, r, Buffer.from('data'), signal)) }));
    });
    const done = await Promise.all(changes);
    const ms = performance.now() - t0;
    const after = await rdt();
    const bytes = recount(after);
    const kept = await stored();
    const oks = done.filter((d) => d.ok);
    const edits = done.filter((d) => d.what === 'EDT' && d.ok).length;
    asked += done.length;
    taken += oks.length;
    // Each EDT grows its line by exactly g bytes (ASCII): in an all-EDT round exactly floor(room / g) fit.
    const expected = kind === 'edt' ? Math.min(accounts, Math.floor(room / g)) : undefined;
    console.log(
      `round ${round} ${kind}: room ${room}, G ${g}: taken ${oks.map((d) => d.what).join(',') || 'none'} (${oks.length} of ${done.length}${expected === undefined ? '' : `, expected ${expected}`}) in ${ms.toFixed(0)} ms; reply ${bytes} (${LIMIT - bytes} left), row ${kept}`,
    );
    if (bytes > LIMIT) problems.push(`round ${round}: the thread's reply is ${bytes} bytes, past ${LIMIT}`);
    if (bytes !== kept) problems.push(`round ${round}: RDT counts ${bytes}, the row keeps ${kept}`);
    if (expected !== undefined && edits !== expected) problems.push(`round ${round}: ${edits} EDTs taken, ${expected} fit`);
    if (oks.length === 0) problems.push(`round ${round}: nothing taken though every change fitted alone`);
    // The grown messages back to one character (the room again for the next round; MSGs and upload lines stay).
    await Promise.all(users.map((u, i) => u.request('EDT', ['big', String(i + 1), 'a'])));
  }
  const last = await rdt();
  if (recount(last) !== (await stored())) problems.push(`at the end: RDT counts ${recount(last)}, the row keeps ${await stored()}`);
  console.log(`${rounds} rounds: ${taken} of ${asked} changes taken; thread ${last.length} lines, ${recount(last)} bytes`);
  console.log(problems.length === 0 ? 'HELD: no problem found' : `PROBLEMS:\n  ${problems.join('\n  ')}`);
} finally {
  await cluster.close();
}
