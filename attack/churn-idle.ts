/**
 * Attack round 14: time. `sessions` logged-in connections from as many hosts stay open and idle
 * (their transports send only keep-alives; every `pokeS` seconds each sends one LST if given), and
 * the server is measured after a forced GC every `everyS` seconds for `minutes` (churn-probe.cjs).
 * Prints each sample and the slope of each figure per minute (samples after the first minute).
 *
 * CHURN_SNAPSHOT=1: heap-snapshot rows that grew between the first sample past a minute and the last.
 *
 * Run: `npx tsx attack/churn-idle.ts [sessions=200] [minutes=10] [every s=30] [poke s=0] [server options…]`
 */
import { randomInt } from 'node:crypto';
import { describe, hosts, rawSession, sleep, slope, startChurnServer, summary, type RawSession, type Sample } from './churn-lib.js';

const count = Number(process.argv[2] ?? 200);
const minutes = Number(process.argv[3] ?? 10);
const everyS = Number(process.argv[4] ?? 30);
const pokeS = Number(process.argv[5] ?? 0);
const extra = process.argv.slice(6);
const port = 20000 + randomInt(20000);
const server = await startChurnServer(port, extra);
const next = hosts();

console.log(`churn idle: ${count} sessions for ${minutes} min, a probe every ${everyS} s, ${pokeS > 0 ? `an LST each every ${pokeS} s` : 'no requests'}; server ${extra.join(' ') || '(defaults)'}`);
const first = await server.probe(0);
console.log(`  before: ${describe(first)}`);
const sessions: RawSession[] = [];
let closed = 0;
for (let i = 0; i < count; i += 16) {
  const batch = await Promise.all(
    Array.from({ length: Math.min(16, count - i) }, async (_, j) => {
      const s = await rawSession(port, next(), 60_000);
      const r = await s.login(`idle${i + j}`, `pw-idle${i + j}`);
      if (r?.lines[0] !== 'Welcome to the forum') throw new Error(`login: ${r?.lines.join('|')}`);
      s.conn.on('close', () => closed++);
      return s;
    }),
  );
  sessions.push(...batch);
}
const t0 = performance.now();
let pokes = 0;
const poker =
  pokeS > 0
    ? setInterval(() => {
        for (const s of sessions) void s.request('LST', []).then((r) => void (r !== undefined && pokes++));
      }, pokeS * 1000)
    : undefined;
const samples: { readonly min: number; readonly s: Sample }[] = [];
while (performance.now() - t0 < minutes * 60_000) {
  await sleep(everyS * 1000);
  const min = (performance.now() - t0) / 60_000;
  // CHURN_SNAPSHOT=1: heap snapshots at the first sample past a minute and at the last, diffed at the end.
  const last = performance.now() - t0 + everyS * 1000 >= minutes * 60_000;
  const snap = process.env.CHURN_SNAPSHOT === '1' && ((min >= 1 && !samples.some((x) => x.min >= 1)) || last);
  const s = await server.probe(Math.round(min * 60), snap);
  samples.push({ min, s });
  console.log(`  ${min.toFixed(1)} min: sessions closed ${closed}, LSTs answered ${pokes}; ${describe(s)}`);
}
if (poker !== undefined) clearInterval(poker);
const used = samples.filter((x) => x.min >= 1);
const per = (f: (s: Sample) => number): string => slope(used.map((x) => x.min), used.map((x) => f(x.s))).toFixed(0);
const snaps = samples.filter((x) => x.s.counts !== undefined);
if (snaps.length >= 2) console.log(summary([(snaps[0] as { s: Sample }).s, (snaps[0] as { s: Sample }).s, (snaps[snaps.length - 1] as { s: Sample }).s]).split('\n')[1] ?? '');
console.log(`slope per minute (samples from 1 min on): heap ${per((s) => s.memory.heapUsed)} B, external ${per((s) => s.memory.external)} B, rss ${per((s) => s.memory.rss)} B, fds ${per((s) => s.fds)}, data files ${per((s) => s.dataFiles)}`);
for (const s of sessions) s.conn.destroy();
await server.stop();
process.exit(0);
