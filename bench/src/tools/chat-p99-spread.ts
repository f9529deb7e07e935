/**
 * How much the chat p99 ratio (rudp ÷ KCP flush) moves with the run's length
 * and seed, in the simulator: the relay chat runs 8 s (400 messages each way)
 * where the simulated chat runs 60 s (3,000 each way).
 *
 * Usage (from bench/): node --import tsx src/tools/chat-p99-spread.ts [durationMs=8000] [seeds=1-20] [plain|burst] [loss=0.1] [skipMs=0]
 * skipMs: also report the p99 of the messages sent at least this long after the chat began.
 */
import { runChat } from '../run/chat-run.js';
import { SystemFactory, type SystemId } from '../peers/systems.js';
import { CHAT } from '../scenarios/chat.js';
import { burstLoss, plainLoss } from '../scenarios/link-variants.js';
import { spread } from '../stats/seeds.js';

const durationMs = Number(process.argv[2] ?? '8000');
const seedArg = process.argv[3] ?? '1-20';
const seeds = seedArg.includes('-')
  ? (() => {
      const [a, b] = seedArg.split('-').map(Number) as [number, number];
      return Array.from({ length: b - a + 1 }, (_, i) => a + i);
    })()
  : seedArg.split(',').map(Number);
const kind = process.argv[4] ?? 'burst';
const loss = Number(process.argv[5] ?? '0.1');
const variant = kind === 'burst' ? burstLoss(loss) : plainLoss(loss);
const factory = await SystemFactory.load();
const systems: SystemId[] = ['rudp', 'kcp-flush'];
const ratios: number[] = [];
const wireRatios: number[] = [];
const p99s = new Map<SystemId, number[]>(systems.map((s) => [s, []]));
console.log(`${variant.id}, chat of ${durationMs} ms (${Math.floor(durationMs / CHAT.intervalMs)} messages each way)`);
for (const seed of seeds) {
  const r = systems.map((s) => runChat(factory, s, variant, seed, { ...CHAT, durationMs }));
  const [a, b] = r as [(typeof r)[0], (typeof r)[0]];
  ratios.push(a.latency.p99 / b.latency.p99);
  wireRatios.push(a.wirePerPayload / b.wirePerPayload);
  p99s.get('rudp')?.push(a.latency.p99);
  p99s.get('kcp-flush')?.push(b.latency.p99);
  console.log(`seed ${seed}: rudp p99 ${a.latency.p99.toFixed(1)} (n ${a.latency.count}), kcp-flush p99 ${b.latency.p99.toFixed(1)}; ratio ${(a.latency.p99 / b.latency.p99).toFixed(2)}; wire ÷ kcp-flush ${(a.wirePerPayload / b.wirePerPayload).toFixed(3)}`);
}
const fmt = (xs: number[], d = 2): string => {
  const s = spread(xs);
  const sorted = [...xs].sort((x, y) => x - y);
  const q = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
  return `median ${s.median.toFixed(d)} (min ${s.min.toFixed(d)}, p10 ${q(0.1).toFixed(d)}, p90 ${q(0.9).toFixed(d)}, max ${s.max.toFixed(d)})`;
};
console.log(`rudp p99: ${fmt(p99s.get('rudp') ?? [], 1)}`);
console.log(`kcp-flush p99: ${fmt(p99s.get('kcp-flush') ?? [], 1)}`);
console.log(`ratio: ${fmt(ratios)}`);
console.log(`wire ÷ kcp-flush: ${fmt(wireRatios, 3)}`);
// Medians of 5 consecutive seeds, as the report's cells are.
const groups: number[] = [];
for (let i = 0; i + 5 <= ratios.length; i += 5) groups.push(spread(ratios.slice(i, i + 5)).median);
if (groups.length > 0) console.log(`median of each 5 seeds: ${groups.map((g) => g.toFixed(2)).join(', ')}`);
