/**
 * Attack round 28: what the per-thread share (forum-protocol store/thread-share.ts) costs a PostgreSQL forum.
 * A MSG by an account other than a thread's creator to a thread larger than a share reads that account's
 * lines of it under the thread row's lock (postgres-thread-share.ts): on a thread of 10,000 lines, every such
 * MSG, posted or refused, is a read of the whole thread. Real processes on loopback: an embedded PostgreSQL
 * and two built forum-servers (lib-pg-cluster.ts).
 *
 *   npx tsx attack/thread-share-scan.ts [seconds=20] [threads=2] [attackers=8]
 *
 * 1. Fill, written into the database directly (each thread's lines, and its size on its row in the same
 *    transaction, counted as schema 3 counts it): through MSG, 2 threads of 10,000 lines took 279 s at this
 *    machine's load even unpaced, some 400 s a thread for one account at the default pace. `threads` full
 *    threads (`fullN`, 10,000 lines of their owner's) and `threads` threads whose attacker holds its share
 *    (`heldN`: 7,500 lines of the owner's, then 1,250 of `attN`'s, the line share's most). Owner 0 is the victim.
 * 2. The built server at its default pacing; the victim posts to its own thread held0 every 100 ms throughout
 *    (its own MSGs read no share: it created it). Phases of `seconds` each: the victim alone; `attackers`
 *    accounts (one loopback address each, 127.0.0.2 on) posting to a small thread of another user (no share
 *    read); the same to the full threads (refused as full); attN to heldN (N < threads: refused for the share).
 *    Per phase: MSGs answered a second, PostgreSQL's CPU (the postmaster and its children, /proc) per attacker
 *    MSG and in all, the server's CPU, and the victim's MSG round trips (p50, p99, max).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { session, type Session } from './forum-raw.js';
import { openPgCluster } from './lib-pg-cluster.js';

const seconds = Number(process.argv[2] ?? 20);
const threadCount = Number(process.argv[3] ?? 2);
const attackerCount = Number(process.argv[4] ?? 8);

const TICK_MS = 10;
/** CPU ms of process `pid` (utime + stime), 0 if it is gone. */
const cpuMs = (pid: number): number => {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_MS;
  } catch {
    return 0;
  }
};
const ppidOf = (pid: number): number => {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return -1;
  }
};
/** CPU ms of `root` and its children (PostgreSQL's backends live as long as the pools' connections). */
const treeCpuMs = (root: number): number => {
  let sum = cpuMs(root);
  for (const d of readdirSync('/proc')) {
    const pid = Number(d);
    if (Number.isInteger(pid) && ppidOf(pid) === root) sum += cpuMs(pid);
  }
  return sum;
};
const pct = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const first = (r: { readonly lines: readonly string[] }): string => r.lines[0] ?? '';

const cluster = await openPgCluster('a28-scan-');
const { sql, signal } = cluster;
try {
  const backend = Number((await sql<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`)[0]?.pid);
  const postmaster = ppidOf(backend);
  const server = await cluster.start();
  const body = 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(9).slice(0, 300);
  // Accounts and threads made through the server; their lines written directly (above).
  const owners: Session[] = [];
  for (let t = 0; t < threadCount; t++) owners.push(await session(server.port, `owner${t}`, signal));
  const attackers: Session[] = [];
  for (let i = 0; i < attackerCount; i++) attackers.push(await session(server.port, `att${i}`, signal, `127.0.0.${2 + i}`));
  const t0 = Date.now();
  const fill = async (title: string, owner: string, ownLines: number, guest: string | undefined): Promise<void> => {
    await sql.begin(async (tx) => {
      await tx`INSERT INTO entries (thread, pos, kind, author, body)
               SELECT ${title}, g, 'message', CASE WHEN g > ${ownLines} THEN ${guest ?? owner} ELSE ${owner} END, ${body} || g
               FROM generate_series(1, ${ownLines + (guest === undefined ? 0 : 1250)}) g`;
      await tx`UPDATE threads t SET entry_count = s.entries, message_count = s.entries, reply_bytes = 2 + s.bytes
               FROM (SELECT count(*) AS entries, sum(octet_length(to_json(n || ' ' || author || ': ' || body)::text) + 1) AS bytes
                     FROM (SELECT author, body, row_number() OVER (ORDER BY pos) AS n FROM entries WHERE thread = ${title}) numbered) s
               WHERE t.title = ${title}`;
    });
  };
  const full: string[] = [];
  for (let t = 0; t < threadCount; t++) {
    const owner = owners[t];
    if (owner === undefined) throw new Error('owner');
    await owner.request('CRT', [`full${t}`]);
    await owner.request('CRT', [`held${t}`]);
    await fill(`full${t}`, `owner${t}`, 10_000, undefined);
    await fill(`held${t}`, `owner${t}`, 7_500, `att${t}`);
    full.push(`full${t}`);
  }
  const sizes = await sql<{ title: string; entry_count: number; reply_bytes: string }[]>`SELECT title, entry_count, reply_bytes FROM threads ORDER BY title`;
  console.log(`fill: ${sizes.map((s) => `${s.title} ${s.entry_count} lines, ${s.reply_bytes} B`).join('; ')} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const victim = owners[0];
  if (victim === undefined) throw new Error('victim');
  console.log(`victim's MSG to held0: ${first(await victim.request('MSG', ['held0', 'hello']))}; att0's: ${first(await attackers[0]?.request('MSG', ['held0', 'hello']) ?? { lines: [] })}`);

  // 2. The victim, throughout.
  const small = await session(server.port, 'smallowner', signal);
  await small.request('CRT', ['s']);

  /** A phase: `targets(i)` are the threads attacker `i` posts to (none: it sits out). */
  const phase = async (name: string, targets: (i: number) => readonly string[]): Promise<void> => {
    const until = Date.now() + seconds * 1000;
    const rtts: number[] = [];
    const answers = new Map<string, number>();
    let sent = 0;
    const [pg0, srv0] = [treeCpuMs(postmaster), cpuMs(server.child.pid ?? 0)];
    const victimLoop = async (): Promise<void> => {
      while (Date.now() < until) {
        const a = performance.now();
        await victim.request('MSG', ['held0', 'hello']);
        rtts.push(performance.now() - a);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const attack = async (s: Session, i: number): Promise<void> => {
      const mine = targets(i);
      if (mine.length === 0) return;
      // 4 in flight per account: enough to keep its pace's queue full.
      await Promise.all(
        [0, 1, 2, 3].map(async () => {
          while (Date.now() < until) {
            const title = mine[(i + sent) % mine.length] ?? 's';
            sent++;
            const line = first(await s.request('MSG', [title, 'x'.repeat(40)]).catch(() => ({ lines: ['(closed)'] })));
            const key = line.replace(/\d+/g, 'N').slice(0, 70);
            answers.set(key, (answers.get(key) ?? 0) + 1);
          }
        }),
      );
    };
    const t = Date.now();
    await Promise.all([victimLoop(), ...attackers.map(attack)]);
    const s = (Date.now() - t) / 1000;
    const [pg1, srv1] = [treeCpuMs(postmaster), cpuMs(server.child.pid ?? 0)];
    const done = [...answers.values()].reduce((a, b) => a + b, 0);
    const perMsg = done > 0 ? ((pg1 - pg0) / done).toFixed(2) : '-';
    console.log(
      `${name}: attacker MSGs answered ${done} (${(done / s).toFixed(0)}/s); PostgreSQL CPU ${(pg1 - pg0).toFixed(0)} ms (${(((pg1 - pg0) / 1000 / s) * 100).toFixed(0)} % of a core, ${perMsg} ms an attacker MSG), server ${(((srv1 - srv0) / 1000 / s) * 100).toFixed(0)} %; victim MSG p50 ${pct(rtts, 50).toFixed(0)} ms, p99 ${pct(rtts, 99).toFixed(0)}, max ${Math.max(...rtts).toFixed(0)} (${rtts.length})`,
    );
    for (const [line, n] of answers) console.log(`    ${n}× ${line}`);
  };
  await phase('victim alone', () => []);
  await phase('attackers to a small thread', () => ['s']);
  await phase('attackers to the full threads', () => full);
  await phase('attN to heldN, its share held', (i) => (i < threadCount ? [`held${i}`] : []));
  await phase('victim alone again', () => []);
} finally {
  await cluster.close();
}
