/**
 * Attack round 9, angle 1: a forum-server A frozen (SIGSTOP) while its
 * clients' MSGs are in flight, a second server B started on the same data
 * directory, then A continued (SIGCONT). Does A write after B took over, and
 * does every message a client was told is posted end up on disk once?
 *
 *   npx tsx attack/fence-takeover.ts [mode=delete|pidns] [rounds=3] [posters=6] [seed=1]
 *
 * delete: A runs as usual; while it is frozen its lock file is deleted by
 *   hand and B starts at once.
 * pidns: A runs in a pid namespace of its own (`unshare --pid --fork`, a
 *   container); B, outside it, waits for A's lock to go unrenewed for
 *   STALE_MS (30 s) and takes it over.
 *
 * Per round, on a fresh directory: threads T0–T2 made through A; `posters`
 * accounts pipeline MSGs (1–6 at once, unique texts) to them through A for
 * 1–2 s; A is frozen; the thread files are read (F0); B starts; two accounts
 * post 12 MSGs each through B, all confirmed; the files are read (F1); A is
 * continued and waited for (its exit status); the files are read (F2: what
 * A wrote after B took over is F1 → F2); B's accounts post 12 more each; B
 * is asked for each thread (RDT) and stopped (SIGTERM); the files are read
 * (F3) and checked: lines numbered 1..n, each confirmed MSG (by A before
 * the freeze, by A after SIGCONT, by B) present exactly once, an
 * unconfirmed one at most once, B's RDT equal to the file, nothing left
 * behind; the directory is then opened by a third server, whose log must
 * hold no warning.
 */
import { setMaxListeners } from 'node:events';
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { leftovers, longSession, messageCounts, sleep, snapshot, startServer, threadProblems, type LongSession } from './fence-lib.js';

const mode = process.argv[2] ?? 'delete';
const rounds = Number(process.argv[3] ?? 3);
const posters = Number(process.argv[4] ?? 6);
let seed = Number(process.argv[5] ?? 1);
if (mode !== 'delete' && mode !== 'pidns') throw new Error('mode: delete or pidns');
const rand = (): number => {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed / 2 ** 32;
};
const THREADS = ['T0', 'T1', 'T2'];

interface Sent {
  readonly server: 'A' | 'B';
  readonly thread: string;
  readonly text: string;
  /** When its confirmation came: before A was frozen, after it was continued, or never. */
  acked: 'before' | 'after' | 'B' | undefined;
  refused?: string;
}

const problems: string[] = [];
const totals = { rounds: 0, ackedBefore: 0, ackedAfter: 0, unacked: 0, lateWrites: 0, lateBytes: 0, bConfirmedLost: 0, aConfirmedLost: 0, duplicates: 0, roundsBroken: 0 };

const runRound = async (round: number): Promise<void> => {
  const dir = await mkdtemp(join(tmpdir(), 'a9-fence-'));
  const portA = 41_000 + Math.floor(rand() * 9_000) * 2;
  const portB = portA + 2;
  const portC = portA + 4;
  const say = (s: string): void => void problems.push(`round ${round}: ${s}`);
  const a = await startServer(dir, portA, { ownPidns: mode === 'pidns' });
  const abort = new AbortController();
  setMaxListeners(0, abort.signal);
  const owner = await longSession(portA, 'owner', abort.signal);
  for (const t of THREADS) await owner.request('CRT', [t]);
  const sent: Sent[] = [];
  let frozen = false;
  let continued = false;
  const sessionsA = await Promise.all(Array.from({ length: posters }, (_, i) => longSession(portA, `a${i}`, abort.signal)));
  const post = (s: LongSession, server: 'A' | 'B', user: string, n: number): Promise<void> => {
    const entry: Sent = { server, thread: THREADS[Math.floor(rand() * THREADS.length)] as string, text: `${user}-${n}-${'x'.repeat(Math.floor(rand() * 200))}`, acked: undefined };
    sent.push(entry);
    return s.request('MSG', [entry.thread, entry.text]).then(
      (r) => {
        // SIGSTOP takes effect a moment after kill() returns: an answer may still come in that moment.
        if (r.lines[0]?.startsWith('Message posted')) entry.acked = server === 'B' ? 'B' : continued ? 'after' : 'before';
        else entry.refused = r.lines.join('|');
      },
      () => undefined,
    );
  };
  const pending: Promise<void>[] = [];
  const loops = sessionsA.map(async (s, i) => {
    let n = 0;
    while (!frozen) {
      const batch = Array.from({ length: 1 + Math.floor(rand() * 6) }, () => post(s, 'A', `a${i}`, ++n));
      pending.push(...batch);
      await Promise.race([Promise.all(batch), sleep(200)]);
    }
  });
  await sleep(1000 + Math.floor(rand() * 1000));
  process.kill(a.pid, 'SIGSTOP');
  // Ignored by the kernel until the process is stopped; the first loop iteration after this sees `frozen`.
  frozen = true;
  await Promise.all(loops);
  const f0 = await snapshot(dir, THREADS);
  const inFlight = sent.filter((e) => e.acked === undefined && e.refused === undefined).length;
  if (mode === 'delete') await unlink(join(dir, '.forum-server.lock'));
  const tB = Date.now();
  const b = await startServer(dir, portB, { waitMs: 45_000 }).catch((e: unknown) => {
    // A frozen server left behind would outlive the script: ended first.
    process.kill(a.pid, 'SIGKILL');
    a.child.kill('SIGKILL');
    throw e;
  });
  const bStartMs = Date.now() - tB;
  const bLog = b.out();
  const bAbort = new AbortController();
  setMaxListeners(0, bAbort.signal);
  const sessionsB = await Promise.all(['b0', 'b1'].map((u) => longSession(portB, u, bAbort.signal)));
  const postB = async (k0: number): Promise<void> => {
    await Promise.all(sessionsB.map(async (s, i) => {
      for (let k = k0; k < k0 + 12; k += 3) await Promise.all([0, 1, 2].map((j) => post(s, 'B', `b${i}`, k + j)));
    }));
  };
  await postB(0);
  const f1 = await snapshot(dir, THREADS);
  continued = true;
  // A9_B_BUSY: B's accounts keep posting while A wakes (F1 → F2 then also holds B's writes).
  let aDone = false;
  const busy = process.env['A9_B_BUSY'] === undefined ? Promise.resolve() : (async () => {
    for (let k = 1000; !aDone; k += 12) await postB(k);
  })();
  const tCont = Date.now();
  process.kill(a.pid, 'SIGCONT');
  const aCode = await Promise.race([a.exited, sleep(45_000).then(() => 'still running after 45 s' as const)]);
  const aExitMs = Date.now() - tCont;
  aDone = true;
  await busy;
  if (aCode !== 3) say(`A ended with ${String(aCode)}, not 3`);
  await Promise.race([Promise.all(pending), sleep(3000)]);
  const f2 = await snapshot(dir, THREADS);
  let late = 0;
  let lateBytes = 0;
  for (const t of THREADS) {
    if (f1.get(t) !== f2.get(t)) {
      late++;
      lateBytes += Math.abs((f2.get(t)?.length ?? 0) - (f1.get(t)?.length ?? 0));
    }
  }
  await postB(100);
  // What B serves of each thread, against the file.
  const reads = new Map<string, string>();
  for (const t of THREADS) {
    const r = await sessionsB[0]?.request('RDT', [t]).catch(() => undefined);
    reads.set(t, r === undefined ? '(no answer)' : r.lines.join('\n'));
  }
  bAbort.abort();
  abort.abort();
  b.child.kill('SIGTERM');
  const bCode = await b.exited;
  if (bCode !== 0) say(`B ended with ${String(bCode)}`);
  for (const l of b.out().split('\n')) if (/Warning|Error|error/.test(l)) say(`B said: ${l.slice(0, 200)}`);
  for (const e of sent.filter((x) => x.server === 'B' && x.refused !== undefined)) say(`B refused a MSG: ${e.refused ?? ''}`);
  const f3 = await snapshot(dir, THREADS);
  for (const t of THREADS) {
    const text = f3.get(t) ?? '';
    for (const p of threadProblems(t, text)) say(p);
    const fileLines = text.split('\n').slice(1).filter((l) => l !== '');
    const served = reads.get(t) ?? '';
    if (served !== fileLines.join('\n')) say(`B's RDT of ${t} differs from the file (${served.split('\n').length} lines served, ${fileLines.length} in the file)`);
    const counts = messageCounts(text);
    for (const e of sent.filter((x) => x.thread === t)) {
      const c = counts.get(e.text) ?? 0;
      if (e.acked !== undefined && c !== 1) {
        say(`MSG confirmed by ${e.server}${e.acked === 'after' ? ' after SIGCONT' : ''} (${e.text.slice(0, 8)}) on ${t} found ${c} times`);
        if (c === 0 && e.server === 'B') totals.bConfirmedLost++;
        if (c === 0 && e.server === 'A') totals.aConfirmedLost++;
        if (c > 1) totals.duplicates++;
      }
      if (e.acked === undefined && c > 1) {
        say(`unconfirmed MSG ${e.text.slice(0, 8)} on ${t} found ${c} times`);
        totals.duplicates++;
      }
    }
  }
  for (const n of await leftovers(dir)) say(`left behind ${n}`);
  const c = await startServer(dir, portC);
  c.child.kill('SIGTERM');
  await c.exited;
  for (const l of c.out().split('\n')) if (/Warning|Recovery|Error/.test(l)) say(`third server: ${l}`);
  const acked = (k: Sent['acked']): number => sent.filter((e) => e.server === 'A' && e.acked === k).length;
  totals.ackedBefore += acked('before');
  totals.ackedAfter += acked('after');
  totals.unacked += sent.filter((e) => e.server === 'A' && e.acked === undefined).length;
  totals.lateWrites += late;
  totals.lateBytes += lateBytes;
  totals.rounds++;
  const broken = problems.some((p) => p.startsWith(`round ${round}:`));
  if (broken) totals.roundsBroken++;
  const sizes = (m: Map<string, string>): string => THREADS.map((t) => m.get(t)?.length ?? 0).join('/');
  console.log(
    `round ${round}: A sent ${sent.filter((e) => e.server === 'A').length} (confirmed before freeze ${acked('before')}, in flight ${inFlight}, confirmed after SIGCONT ${acked('after')}); ` +
      `B started in ${bStartMs} ms${/Took over/.test(bLog) ? ' (took over)' : ''}${/Recovery/.test(bLog) ? `, recovery: ${bLog.split('\n').filter((l) => /Recovery/.test(l)).length} lines` : ''}; ` +
      `bytes F0 ${sizes(f0)} F1 ${sizes(f1)} F2 ${sizes(f2)} F3 ${sizes(f3)}; A exit ${String(aCode)} after ${aExitMs} ms; threads A changed after B took over: ${late} (${lateBytes} bytes net); ${broken ? 'BROKEN' : 'ok'}`,
  );
  if (process.env['A9_KEEP'] === undefined) await rm(dir, { recursive: true, force: true });
  else console.log(`  kept ${dir}; A said:\n${a.out()}\n  B said:\n${b.out()}`);
};

for (let r = 1; r <= rounds; r++) await runRound(r);
console.log(JSON.stringify(totals));
console.log(problems.length === 0 ? 'HELD: no problem found' : `PROBLEMS (${problems.length}):\n${[...new Set(problems)].slice(0, 40).join('\n')}`);
process.exit(0);
