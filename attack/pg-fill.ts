/**
 * Attack round 27: one account against a PostgreSQL forum's forum-wide limits. Real processes on loopback: an
 * embedded PostgreSQL and two built forum-servers (`--store`; `A10_SERVER_BIN` for another build is not used:
 * lib-pg-cluster starts this worktree's).
 *
 *   npx tsx attack/pg-fill.ts uploads [limitMiB=64] [fileMiB=8] [server options…]   `--max-data-bytes limitMiB`; one
 *       account on server 0 uploads files of fileMiB, 4 at a time, to a thread of its own until a round is refused
 *       whole, then halves the size down to 4 KiB; then a victim on server 1 and a new account on server 0 each upload 64 KiB: what they read
 *   npx tsx attack/pg-fill.ts threads [seconds=60]   one account posts 4,000-character MSGs, 8 in flight, to threads of
 *       its own; the rate, the reply bytes the threads hold, the database's growth; a victim's MSG before and after
 *   npx tsx attack/pg-fill.ts thread [seconds=120]   one account posts 4,000-character MSGs, 8 in flight, to a
 *       victim's thread until it is full, then tops it up with shorter ones: how long, then the victim's own MSG there
 */
import { randomBytes } from 'node:crypto';
import { session, uploadAnswer, type Session } from './forum-raw.js';
import { openPgCluster } from './lib-pg-cluster.js';

const mode = process.argv[2] ?? 'uploads';
const cluster = await openPgCluster('pg-fill-');
const { sql, signal, startAll } = cluster;
const mib = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`;
const first = (r: { readonly lines: readonly string[] }): string => r.lines[0] ?? '';
/** An upload of `bytes` to `thread` by `s`: the transfer's answer, or UPD's refusal. */
const put = async (s: Session, thread: string, name: string, bytes: Buffer): Promise<string> => {
  const r = await s.request('UPD', [thread, name]);
  if (r.data.kind !== 'transfer') return `UPD: ${r.lines.join('|')}`;
  return (await uploadAnswer(s, r, bytes, signal)).trim();
};
const uploadBytes = async (): Promise<number> => Number((await sql<{ b: string }[]>`SELECT bytes AS b FROM upload_bytes`)[0]?.b ?? 0);
const replyBytes = async (): Promise<number> => Number((await sql<{ b: string }[]>`SELECT COALESCE(sum(reply_bytes), 0) AS b FROM threads`)[0]?.b ?? 0);
const dbSize = async (): Promise<number> => Number((await sql<{ b: string }[]>`SELECT pg_database_size(current_database()) AS b`)[0]?.b ?? 0);

try {
  if (mode === 'uploads') {
    const limit = Number(process.argv[3] ?? 64) * 2 ** 20;
    const file = randomBytes(Number(process.argv[4] ?? 8) * 2 ** 20);
    const servers = await startAll(2, ['--max-data-bytes', String(limit), ...process.argv.slice(5)]);
    const [s0, s1] = servers;
    if (s0 === undefined || s1 === undefined) throw new Error('servers');
    const victim = await session(s1.port, 'victim', signal);
    console.log(`victim CRT: ${first(await victim.request('CRT', ['v']))}; victim's first upload (64 KiB): ${await put(victim, 'v', 'before.bin', randomBytes(65536))}`);
    const attacker = await session(s0.port, 'attacker', signal);
    await attacker.request('CRT', ['a']);
    const t0 = Date.now();
    let stored = 0;
    const refusals = new Map<string, number>();
    // Then topped up: the size halved after each round refused whole, down to 4 KiB.
    let size = file.length;
    let bytes = 0;
    for (let round = 0; size >= 4096 && round < 1000; round++) {
      const answers = await Promise.all([0, 1, 2, 3].map((w) => put(attacker, 'a', `f${round}-${w}`, file.subarray(0, size))));
      let ok = 0;
      for (const a of answers) {
        if (a === 'OK') ok++;
        else refusals.set(a.replace(/\d+/g, 'N'), (refusals.get(a.replace(/\d+/g, 'N')) ?? 0) + 1);
      }
      stored += ok;
      bytes += ok * size;
      if (ok === 0) size /= 2;
    }
    const s = (Date.now() - t0) / 1000;
    console.log(`uploads: limit ${mib(limit)}, files ${mib(file.length)}: the attacker stored ${stored} files (${mib(bytes)}) in ${s.toFixed(1)} s; upload_bytes ${mib(await uploadBytes())}`);
    for (const [line, n] of refusals) console.log(`  refused ${n}×: ${line}`);
    console.log(`  victim (server 1), 64 KiB to its own thread: ${await put(victim, 'v', 'after.bin', randomBytes(65536))}`);
    const newcomer = await session(s0.port, 'newcomer', signal);
    await newcomer.request('CRT', ['n']);
    console.log(`  newcomer (server 0), 64 KiB: ${await put(newcomer, 'n', 'first.bin', randomBytes(65536))}`);
  } else if (mode === 'threads' || mode === 'thread') {
    const seconds = Number(process.argv[3] ?? (mode === 'thread' ? 120 : 60));
    const servers = await startAll(2, process.argv.slice(4));
    const [s0, s1] = servers;
    if (s0 === undefined || s1 === undefined) throw new Error('servers');
    const victim = await session(s1.port, 'victim', signal);
    await victim.request('CRT', ['v']);
    console.log(`victim's MSG before: ${first(await victim.request('MSG', ['v', 'hello']))}`);
    const attacker = await session(s0.port, 'attacker', signal);
    // Random letters: PostgreSQL compresses a run of one character (TOAST), and the database's growth would say little.
    const text = randomBytes(3000).toString('base64');
    const [db0, reply0] = [await dbSize(), await replyBytes()];
    const t0 = Date.now();
    const until = t0 + seconds * 1000;
    let posted = 0;
    let fullAt: number | undefined;
    const refusals = new Map<string, number>();
    const threads = mode === 'thread' ? ['v'] : Array.from({ length: 100 }, (_, i) => `a${i}`);
    if (mode === 'threads') for (const t of threads) await attacker.request('CRT', [t]);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (Date.now() < until && next < threads.length) {
        const thread = threads[next] ?? 'v';
        const line = first(await attacker.request('MSG', [thread, text]));
        if (line.startsWith('Message posted')) posted++;
        else {
          refusals.set(line.replace(/\d+/g, 'N'), (refusals.get(line.replace(/\d+/g, 'N')) ?? 0) + 1);
          // A thread full, or (since round 27's fix) the attacker's share of the victim's thread held: stop there.
          if (line.includes('is full') || line.includes('as one user may')) {
            if (thread === threads[next]) next++;
            fullAt ??= Date.now();
          }
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    // A victim's thread topped up once full: shorter MSGs, halving down to one character, as long as they are taken.
    let topped = 0;
    if (mode === 'thread') {
      for (let n = 2000; n >= 1; n = Math.floor(n / 2)) {
        while (first(await attacker.request('MSG', ['v', text.slice(0, n)])).startsWith('Message posted')) topped++;
      }
    }
    const s = (Date.now() - t0) / 1000;
    const [db1, reply1] = [await dbSize(), await replyBytes()];
    console.log(`${mode}: ${posted} MSGs of 4,000 characters in ${s.toFixed(1)} s (${(posted / s).toFixed(1)} a second); reply bytes +${mib(reply1 - reply0)} (${mib((reply1 - reply0) / s)}/s); database +${mib(db1 - db0)}`);
    if (fullAt !== undefined) console.log(`  first 'full' (or share held) after ${((fullAt - t0) / 1000).toFixed(1)} s; then ${topped} shorter MSGs topped it up`);
    for (const [line, n] of refusals) console.log(`  refused ${n}×: ${line}`);
    console.log(`  victim's MSG after: ${first(await victim.request('MSG', ['v', 'hello again']))}`);
    const newcomer = await session(s0.port, 'newcomer', signal);
    console.log(`  newcomer's CRT and MSG: ${first(await newcomer.request('CRT', ['n']))} / ${first(await newcomer.request('MSG', ['n', 'hi']))}`);
  } else throw new Error(`unknown mode ${mode}`);
} finally {
  await cluster.close();
}
