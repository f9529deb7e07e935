/**
 * One-off figure for issue 13's short jittery path: 2 MiB one way over a
 * link of 5 ± 5 ms one-way delay drawn per datagram (non-FIFO) with 10% of
 * datagrams held 25 ms longer, no loss, 1 Gbit/s (no real bottleneck).
 * Prints completion time per seed for rudp and KCP (flush profile).
 *
 * Usage (from bench/): node --import tsx src/tools/short-jitter-bulk.ts [seeds=1,2,3,4,5] [MiB=2]
 */
import { runBulk } from '../run/bulk-run.js';
import type { BulkScenario } from '../scenarios/bulk.js';
import type { LinkVariant } from '../scenarios/link-variants.js';
import { SystemFactory, type SystemId } from '../peers/systems.js';

const seeds = (process.argv[2] ?? '1,2,3,4,5').split(',').map(Number);
const mib = Number(process.argv[3] ?? '2');
const scenario: BulkScenario = {
  totalBytes: mib * 1024 * 1024,
  chunkBytes: 16 * 1024,
  bandwidthBps: 1_000_000_000,
  queueBytes: 4 * 1024 * 1024,
  timeLimitMs: 120_000,
};
const variants: readonly LinkVariant[] = [
  { id: 'fifo 5±5', loss: 0, kind: 'plain', link: { delayMs: 5, jitterMs: 5 } },
  {
    id: 'indep 5±5 + reorder 10%/25ms',
    loss: 0,
    kind: 'jitter-reorder',
    link: { delayMs: 5, jitterMs: 5, jitterMode: 'independent', reorder: 0.1, reorderHoldMs: 25 },
  },
];
const systems: readonly SystemId[] = ['rudp', 'kcp-flush'];

const factory = await SystemFactory.load();
for (const v of variants) {
  for (const system of systems) {
    const times = seeds.map((seed) => runBulk(factory, system, v, seed, scenario));
    const ms = times.map((r) => (r.completed ? r.completionMs : Number.NaN));
    const sorted = [...ms].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] as number;
    const spurious = times.map((r) => r.sender?.spuriousRetransmissions ?? r.sender?.packetsRetransmitted ?? Number.NaN);
    console.log(
      `${v.id.padEnd(30)} ${system.padEnd(10)} ms per seed ${ms.map((x) => x.toFixed(0)).join(' ')}  median ${median.toFixed(0)} (min ${sorted[0]?.toFixed(0)} max ${sorted[sorted.length - 1]?.toFixed(0)})  resent/spurious ${spurious.join(' ')}`,
    );
  }
}
