/**
 * The simulated chat's p99 in consecutive windows of one long run: does the
 * first window (a fresh connection) differ from the later ones, or do the
 * windows only scatter? Each window's p99 is over the messages sent in it.
 *
 * Usage (from bench/): node --import tsx src/tools/chat-p99-windows.ts [windowMs=8000] [seeds=1,2,3,4,5] [plain|burst] [loss=0.1] [durationMs=64000]
 */
import { makePayload, parsePayload } from '../integrity/payload.js';
import { SystemFactory, type SystemId } from '../peers/systems.js';
import { CHAT } from '../scenarios/chat.js';
import { burstLoss, plainLoss } from '../scenarios/link-variants.js';
import { SimPair } from '../sim/sim-pair.js';
import { spread } from '../stats/seeds.js';
import { quantileSorted } from '../stats/summary.js';

const windowMs = Number(process.argv[2] ?? '8000');
const seeds = (process.argv[3] ?? '1,2,3,4,5').split(',').map(Number);
const kind = process.argv[4] ?? 'burst';
const loss = Number(process.argv[5] ?? '0.1');
const durationMs = Number(process.argv[6] ?? '64000');
const variant = kind === 'burst' ? burstLoss(loss) : plainLoss(loss);
const factory = await SystemFactory.load();

/** (sent − chat start, latency) of every timed message of one run. */
function run(system: SystemId, seed: number): { at: number; lat: number }[] {
  const n = Math.floor(durationMs / CHAT.intervalMs);
  const sent = new Map<string, number>();
  const out: { at: number; lat: number }[] = [];
  let start = 0;
  const pair: SimPair = new SimPair({
    factory,
    system,
    link: variant.link,
    seed,
    onMessage: (side, data, now) => {
      const p = parsePayload(data);
      const t = p && sent.get(`${side}:${p.seq}`);
      if (t !== undefined && t !== null) out.push({ at: t - start, lat: now - t });
    },
    onEstablished: (now) => {
      start = now;
      for (let i = 0; i < n; i++) {
        pair.sim.schedule(now + i * CHAT.intervalMs, (t) => {
          sent.set(`server:${i + 1}`, t);
          pair.send('client', makePayload(i + 1, CHAT.messageBytes));
          sent.set(`client:${i}`, t);
          pair.send('server', makePayload(i, CHAT.messageBytes));
        });
      }
    },
  });
  pair.connect();
  pair.send('client', makePayload(0, CHAT.messageBytes));
  pair.sim.runFor(durationMs + 30_000);
  if (out.length !== 2 * n) throw new Error(`${system} seed ${seed}: ${out.length}/${2 * n} delivered`);
  return out;
}

const windows = Math.floor(durationMs / windowMs);
/** Every seed's latencies per window, pooled: a p99 of 20 seeds' windows is steadier than one window's. */
const pooled = new Map<SystemId, number[][]>();
const ratioByWindow: number[][] = Array.from({ length: windows }, () => []);
const p99ByWindow = new Map<SystemId, number[][]>();
console.log(`${variant.id}: p99 per ${windowMs} ms window of a ${durationMs} ms chat (rudp / kcp-flush / ratio)`);
for (const seed of seeds) {
  const cells: string[] = [];
  const bySystem = new Map<SystemId, number[]>();
  for (const system of ['rudp', 'kcp-flush'] as const) {
    const lat = run(system, seed);
    const per: number[] = [];
    const pool = pooled.get(system) ?? Array.from({ length: windows }, () => []);
    pooled.set(system, pool);
    for (let w = 0; w < windows; w++) {
      const xs = lat.filter((m) => m.at >= w * windowMs && m.at < (w + 1) * windowMs).map((m) => m.lat).sort((a, b) => a - b);
      pool[w]?.push(...xs);
      per.push(quantileSorted(xs, 0.99));
    }
    bySystem.set(system, per);
    const all = p99ByWindow.get(system) ?? Array.from({ length: windows }, () => []);
    per.forEach((v, w) => all[w]?.push(v));
    p99ByWindow.set(system, all);
  }
  const r = bySystem.get('rudp') as number[];
  const k = bySystem.get('kcp-flush') as number[];
  for (let w = 0; w < windows; w++) {
    ratioByWindow[w]?.push((r[w] as number) / (k[w] as number));
    cells.push(`${(r[w] as number).toFixed(0)}/${(k[w] as number).toFixed(0)}/${((r[w] as number) / (k[w] as number)).toFixed(2)}`);
  }
  console.log(`seed ${seed}: ${cells.join('  ')}`);
}
const med = (xs: number[]): string => spread(xs).median.toFixed(2);
console.log(`median over seeds, per window: rudp ${p99ByWindow.get('rudp')?.map((w) => spread(w).median.toFixed(0)).join(' ')}`);
console.log(`                          kcp-flush ${p99ByWindow.get('kcp-flush')?.map((w) => spread(w).median.toFixed(0)).join(' ')}`);
console.log(`                              ratio ${ratioByWindow.map(med).join(' ')}`);
const pooledP99 = (system: SystemId): number[] => (pooled.get(system) ?? []).map((xs) => quantileSorted([...xs].sort((a, b) => a - b), 0.99));
const pr = pooledP99('rudp');
const pk = pooledP99('kcp-flush');
console.log(`p99 of the seeds' messages pooled, per window: rudp ${pr.map((v) => v.toFixed(0)).join(' ')}`);
console.log(`                                           kcp-flush ${pk.map((v) => v.toFixed(0)).join(' ')}`);
console.log(`                                               ratio ${pr.map((v, i) => (v / (pk[i] as number)).toFixed(2)).join(' ')}`);
const first = ratioByWindow[0] ?? [];
const later = ratioByWindow.slice(1).flat();
console.log(`ratio, first window: ${med(first)} (${spread(first).min.toFixed(2)}–${spread(first).max.toFixed(2)}); later windows pooled: ${med(later)} (${spread(later).min.toFixed(2)}–${spread(later).max.toFixed(2)})`);
