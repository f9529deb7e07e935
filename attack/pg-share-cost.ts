/**
 * What the two per-account shares cost on PostgreSQL at the sizes their limits allow (attack round 27's
 * shares): the store run in this process from the worktree's source (tsx), an embedded PostgreSQL, the
 * worst-case rows written straight into the tables.
 *
 *   npx tsx attack/pg-share-cost.ts uploads [counts=0,100000,1000000]   the uploader's share
 *       (`maxUserUploadBytes`): the account holds that many committed 1-byte uploads; then the time of its
 *       256 KiB chunks (a 4 MiB upload at a time), and of another account's chunks alone and while the first
 *       uploads 4 files at once
 *   npx tsx attack/pg-share-cost.ts thread   a non-creator's share of a thread: a thread of 9,990 lines, near
 *       its 4 MiB, 1,250 of them another account's (its share of lines spent); then the time of that account's
 *       MSG (refused by its share: the share is read all the same) and of its lengthening EDT, and of the
 *       creator's EDT (under the same row lock) alone and while the other account sends 4 MSGs at once
 *
 *   npx tsx attack/pg-share-cost.ts reads [uploads=1000000]   the shares' reads alone, old and new in turn in one run
 *       (schema 14's code only): the statement schema 13 ran (the account's uploads summed; the thread's lines
 *       numbered) and schema 14's (its counter row; the counter and the digits' index counts), each under
 *       EXPLAIN ANALYZE (the database's own execution time, ms), 20 times each, at that many uploads of the
 *       account's and a thread of 9,990 lines 1,249 of them the account's
 *   npx tsx attack/pg-share-cost.ts rmv   RMV of a thread of 9,990 upload lines of 10 accounts, with their 9,990
 *       committed uploads (what the counters' triggers add to it), 5 times
 *   npx tsx attack/pg-share-cost.ts msg   what the triggers add to every write: 200 MSGs of a thread's creator to
 *       its thread, and 8 uploads of 1 MiB (4 chunks each) of another account's to it
 *   npx tsx attack/pg-share-cost.ts migrate   schema 14's migration (the counters filled) over 100,000 committed
 *       uploads and a thread of 9,990 lines: the time of a store's open that migrates from 13, and of one that does not
 *
 * Each figure: the median and the largest of the requests timed, ms, from the store's call to its answer.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { startEmbeddedPostgres } from '../scripts/embedded-postgres.mjs';
import { dispatch, parseCommandLine, type ForumStore } from '../packages/forum-protocol/src/index.js';
import { openPostgresStore, UPLOAD_CHUNK_BYTES, type PostgresStore } from '../packages/forum-protocol/src/postgres.js';
import { uploaderBytes } from '../packages/forum-protocol/src/postgres-store/postgres-upload-share.js';
import { MAX_USER_THREAD_ENTRIES } from '../packages/forum-protocol/src/store/thread-share.js';
import type { ThreadEntry } from '../packages/forum-protocol/src/store/thread.js';
import { insertThread } from '../packages/forum-protocol/test/insert-thread.js';

const mode = process.argv[2] ?? 'uploads';

/** Median and largest of `ms`, as `median/max`. */
const stats = (ms: readonly number[]): string => {
  const s = [...ms].sort((a, b) => a - b);
  return `${(s[Math.floor(s.length / 2)] ?? NaN).toFixed(2)}/${(s[s.length - 1] ?? NaN).toFixed(2)} ms (n=${s.length})`;
};

/** Runs command `line` as `who`; its first reply line. */
const run = async (store: ForumStore, who: string, line: string): Promise<string> => {
  const parsed = parseCommandLine(line);
  if (parsed._tag === 'Left') throw new Error(`does not parse: ${line}`);
  const o = await dispatch(store, { username: who, connectionKey: `conn-${who}` }, 'r', parsed.right.cmd, parsed.right.args)();
  return o.kind === 'reply' ? (o.reply.lines[0] ?? '') : o.kind;
};

const open = async (url: string): Promise<PostgresStore> => {
  const s = await openPostgresStore(url, { maxStoredUploadBytes: 2 ** 40, maxUserUploadBytes: 2 ** 36, doomedUploadSweep: { auto: false } })();
  if (s._tag === 'Left') throw new Error(s.left.message);
  return s.right;
};

/** Uploads `bytes` chunk by chunk; the time each chunk took to be stored (the stream's callback). */
const timedUpload = async (store: PostgresStore, thread: string, name: string, who: string, bytes: Buffer): Promise<{ begin: number; chunks: number[] }> => {
  const t0 = performance.now();
  const begun = await store.beginUpload(thread, name, who)();
  const begin = performance.now() - t0;
  if (begun._tag === 'Left') throw new Error(`begin: ${JSON.stringify(begun.left)}`);
  const chunks: number[] = [];
  for (let at = 0; at < bytes.length; at += UPLOAD_CHUNK_BYTES) {
    const t = performance.now();
    await new Promise<void>((resolve, reject) => begun.right.stream.write(bytes.subarray(at, at + UPLOAD_CHUNK_BYTES), (e) => (e ? reject(e) : resolve())));
    chunks.push(performance.now() - t);
  }
  const done = await begun.right.commit();
  if (done._tag === 'Left') throw new Error(`commit: ${JSON.stringify(done.left)}`);
  return { begin, chunks };
};


const file4 = (): Buffer => randomBytes(4 * UPLOAD_CHUNK_BYTES);

const pg = await startEmbeddedPostgres();
try {
  if (mode === 'uploads') {
    const counts = (process.argv[3] ?? '0,100000,1000000').split(',').map(Number);
    const file = randomBytes(16 * UPLOAD_CHUNK_BYTES);
    const a = await open(pg.url);
    await run(a, 'mallory', 'CRT m');
    await run(a, 'bob', 'CRT b');
    let held = 0;
    for (const count of counts) {
      // Committed 1-byte uploads of mallory's (rows only: the share reads their sizes, not their chunks).
      for (; held < count; held += Math.min(100_000, count - held)) {
        const n = Math.min(100_000, count - held);
        // Without the store's statement time limit: a loaded machine takes seconds for 100,000 rows.
        await a.sql.begin((tx) => tx`SELECT set_config('statement_timeout', '0', true)`.then(() => tx`INSERT INTO uploads (thread, filename, uploader, size, committed) SELECT 'm', 'x' || g, 'mallory', 1, true FROM generate_series(${held + 1}::int, ${held + n}::int) g`));
      }
      await a.sql`VACUUM ANALYZE uploads`;
      const reads: number[] = [];
      for (let i = 0; i < 20; i++) {
        const t = performance.now();
        await uploaderBytes(a.sql, 'mallory');
        reads.push(performance.now() - t);
      }
      const mine: number[] = [];
      const begins: number[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await timedUpload(a, 'm', `own-${count}-${i}`, 'mallory', file);
        mine.push(...r.chunks);
        begins.push(r.begin);
      }
      const bobAlone: number[] = [];
      for (let i = 0; i < 2; i++) bobAlone.push(...(await timedUpload(a, 'b', `bob-${count}-${i}`, 'bob', file)).chunks);
      // Bob's chunks while mallory uploads 4 files at once, round after round.
      let stop = false;
      const attacker = (async () => {
        for (let round = 0; !stop; round++) await Promise.all([0, 1, 2, 3].map((w) => timedUpload(a, 'm', `par-${count}-${round}-${w}`, 'mallory', file)));
      })();
      const bobBusy: number[] = [];
      for (let i = 0; i < 3; i++) bobBusy.push(...(await timedUpload(a, 'b', `bobp-${count}-${i}`, 'bob', file)).chunks);
      stop = true;
      await attacker;
      console.log(`uploads of mallory's: ${count}: the share's read ${stats(reads)}; mallory's begin ${stats(begins)}, chunk ${stats(mine)}; bob's chunk alone ${stats(bobAlone)}, while mallory uploads 4 at once ${stats(bobBusy)}`);
      held = Number((await a.sql<{ n: string }[]>`SELECT count(*) AS n FROM uploads WHERE uploader = 'mallory' AND filename LIKE 'x%'`)[0]?.n);
    }
    await a.close();
  } else if (mode === 'reads') {
    // Imported here: the other modes run on the code before schema 14 too, which has neither.
    const { UPLOADER_BYTES_RECOUNT } = await import('../packages/forum-protocol/src/postgres-store/postgres-upload-share.js');
    const { holdingQuery } = await import('../packages/forum-protocol/src/postgres-store/postgres-thread-share.js');
    const count = Number(process.argv[3] ?? 1_000_000);
    const a = await open(pg.url);
    await run(a, 'mallory', 'CRT m');
    for (let held = 0; held < count; held += 100_000) {
      await a.sql.begin((tx) => tx`SELECT set_config('statement_timeout', '0', true)`.then(() => tx`INSERT INTO uploads (thread, filename, uploader, size, committed) SELECT 'm', 'x' || g, 'mallory', 1, true FROM generate_series(${held + 1}::int, ${held + Math.min(100_000, count - held)}::int) g`));
    }
    const text = 'a'.repeat(380);
    const entries: ThreadEntry[] = Array.from({ length: 9_990 }, (_, i) => ({ kind: 'message', author: i % 8 === 3 ? 'mallory' : 'alice', text }));
    await insertThread(a.sql, { title: 'v', creator: 'alice', entries });
    await a.sql`VACUUM ANALYZE`;
    // Schema 13's read of a thread share (postgres-thread-share.ts before schema 14).
    const oldThread = `SELECT count(*)::int AS entries,
           COALESCE(sum(octet_length(to_json(CASE kind WHEN 'message' THEN n || ' ' || author || ': ' || body ELSE author || ' uploaded ' || body END)::text) + 1), 0)::text AS bytes
    FROM (SELECT kind, author, body, count(*) FILTER (WHERE kind = 'message') OVER (ORDER BY pos) AS n FROM entries WHERE thread = $1) numbered
    WHERE author = $2 AND kind IN ('message', 'upload')`;
    const reads = {
      'upload share, schema 13 (rows summed)': [UPLOADER_BYTES_RECOUNT, ['mallory']],
      'upload share, schema 14 (counter row)': ['SELECT bytes FROM uploader_bytes WHERE uploader = $1', ['mallory']],
      'thread share, schema 13 (lines numbered)': [oldThread, ['v', 'mallory']],
      'thread share, schema 14 (counter, digits)': [holdingQuery(9_990), ['v', 'mallory']],
    } as const;
    const times: Record<string, number[]> = {};
    for (let i = 0; i < 20; i++) {
      for (const [name, [text, params]] of Object.entries(reads)) {
        const plan = await a.sql.unsafe<{ 'QUERY PLAN': { 'Execution Time': number }[] }[]>(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, [...params]);
        (times[name] ??= []).push(plan[0]?.['QUERY PLAN'][0]?.['Execution Time'] ?? NaN);
      }
    }
    const same = await a.sql.unsafe(oldThread, ['v', 'mallory']);
    const kept = await a.sql.unsafe(holdingQuery(9_990), ['v', 'mallory']);
    console.log(`${count} uploads of mallory's; thread v of 9,990 lines (mallory's read: ${JSON.stringify(same[0])} counted, ${JSON.stringify(kept[0])} kept)`);
    for (const [name, ms] of Object.entries(times)) console.log(`  ${name}: ${stats(ms)}`);
    await a.close();
  } else if (mode === 'msg') {
    const a = await open(pg.url);
    await run(a, 'alice', 'CRT w');
    const msgs: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t = performance.now();
      await run(a, 'alice', `MSG w message ${i}`);
      msgs.push(performance.now() - t);
    }
    const chunks: number[] = [];
    for (let i = 0; i < 8; i++) chunks.push(...(await timedUpload(a, 'w', `c${i}`, 'bob', file4())).chunks);
    console.log(`the creator's MSG ${stats(msgs)}; another account's chunk ${stats(chunks)}`);
    await a.close();
  } else if (mode === 'rmv') {
    const a = await open(pg.url);
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const entries: ThreadEntry[] = Array.from({ length: 9_990 }, (_, j) => ({ kind: 'upload', uploader: `u${j % 10}`, filename: `f${j}` }));
      await insertThread(a.sql, { title: `r${i}`, creator: 'alice', entries });
      await a.sql`INSERT INTO uploads (thread, filename, uploader, size, committed) SELECT ${`r${i}`}, 'f' || g, 'u' || (g % 10), 1000, true FROM generate_series(0, 9989) g`;
      const t = performance.now();
      const answer = await run(a, 'alice', `RMV r${i}`);
      times.push(performance.now() - t);
      if (!answer.includes('removed')) throw new Error(answer);
    }
    console.log(`RMV of a thread of 9,990 upload lines and their uploads: ${stats(times)}`);
    await a.close();
  } else if (mode === 'migrate') {
    const a = await open(pg.url);
    await run(a, 'mallory', 'CRT m');
    await a.sql.begin((tx) => tx`SELECT set_config('statement_timeout', '0', true)`.then(() => tx`INSERT INTO uploads (thread, filename, uploader, size, committed) SELECT 'm', 'x' || g, 'u' || (g % 1000), 1, true FROM generate_series(1, 100000) g`));
    await insertThread(a.sql, { title: 'v', creator: 'alice', entries: Array.from({ length: 9_990 }, (_, i) => ({ kind: 'message', author: `u${i % 100}`, text: 'a'.repeat(380) })) });
    const opens: number[] = [];
    const migrations: number[] = [];
    for (let i = 0; i < 3; i++) {
      // Back to schema 13, as backToSchema (test/postgres-harness.ts) does.
      await a.sql`DROP FUNCTION IF EXISTS forum_count_uploader_bytes, forum_count_holdings CASCADE`;
      await a.sql`DROP FUNCTION IF EXISTS forum_line_bytes_unnumbered`;
      await a.sql`DROP TABLE IF EXISTS uploader_bytes, thread_holdings`;
      await a.sql`DROP INDEX IF EXISTS entries_author_messages`;
      await a.sql`UPDATE forum_schema SET version = 13`;
      for (const out of [migrations, opens]) {
        const t = performance.now();
        await (await open(pg.url)).close();
        out.push(performance.now() - t);
      }
    }
    console.log(`open migrating 13 -> 14 (100,000 uploads, 9,990 lines): ${stats(migrations)}; open at 14: ${stats(opens)}`);
    await a.close();
  } else {
    const a = await open(pg.url);
    // 9,990 lines near the thread's 4 MiB: mallory's 1,250 (its share of lines spent), spread through it, the rest alice's.
    const text = 'a'.repeat(380);
    const entries: ThreadEntry[] = Array.from({ length: 9_990 }, (_, i) => ({ kind: 'message', author: i % 8 === 3 && i < 8 * MAX_USER_THREAD_ENTRIES ? 'mallory' : 'alice', text }));
    await insertThread(a.sql, { title: 'v', creator: 'alice', entries });
    await a.sql`VACUUM ANALYZE entries`;
    const size = (await a.sql`SELECT entry_count, reply_bytes FROM threads WHERE title = 'v'`)[0];
    console.log(`thread v: ${JSON.stringify(size)}, mallory's lines: ${entries.filter((e) => e.kind === 'message' && e.author === 'mallory').length}`);
    const timed = async (who: string, line: string, out: number[]): Promise<string> => {
      const t = performance.now();
      const r = await run(a, who, line);
      out.push(performance.now() - t);
      return r;
    };
    const msg: number[] = [];
    const edt: number[] = [];
    const creatorAlone: number[] = [];
    let answer = '';
    for (let i = 0; i < 40; i++) answer = await timed('mallory', `MSG v hello ${i}`, msg);
    console.log(`mallory's MSG answer: ${answer}`);
    // Message 4 is mallory's (index 3): lengthened by one character each time, within its share of bytes.
    for (let i = 0; i < 40; i++) answer = await timed('mallory', `EDT v 4 ${'b'.repeat(381 + i)}`, edt);
    console.log(`mallory's EDT answer: ${answer}`);
    for (let i = 0; i < 40; i++) await timed('alice', `EDT v 1 ${i % 2 === 0 ? 'c' : 'd'}`, creatorAlone);
    let stop = false;
    const sink: number[] = [];
    const attackers = [0, 1, 2, 3].map(async (w) => {
      for (let i = 0; !stop; i++) await timed('mallory', `MSG v spam ${w} ${i}`, sink);
    });
    const creatorBusy: number[] = [];
    for (let i = 0; i < 40; i++) await timed('alice', `EDT v 1 ${i % 2 === 0 ? 'e' : 'f'}`, creatorBusy);
    stop = true;
    await Promise.all(attackers);
    console.log(`thread of 9,990 lines: mallory's MSG ${stats(msg)}, EDT ${stats(edt)}; alice's EDT alone ${stats(creatorAlone)}, while mallory sends 4 MSGs at once ${stats(creatorBusy)} (mallory's MSGs meanwhile ${stats(sink)})`);
    await a.close();
  }
} finally {
  await pg.stop();
}
