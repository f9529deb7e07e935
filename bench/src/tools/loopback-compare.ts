/**
 * Before/after loopback throughput on real sockets: each round runs one
 * connection of `size`-byte messages for every rudp build given and for
 * udx-native, interleaved in this process (order reversed on odd rounds),
 * and prints bytes/s, CPU per GB and the ratios to udx-native of the same
 * round (median and min–max over rounds).
 *
 * A build is `name=path/to/rudp/dist/index.js`; `new` (this workspace's
 * built rudpx) runs by default. A size written `s1024` writes each rudp
 * connection's `stream()` as a byte stream (as udx-native is written)
 * instead of messages.
 *
 * Every run follows a forced GC, as in the bench, unless the sixth argument
 * is `keep` (none) or `minor` (a scavenge only): a forced full GC, which
 * V8 runs to reduce memory, while no rudp connection is alive lets the
 * hidden classes of rudp's per-connection objects die, and the optimized
 * code built on them is thrown away ("weak objects" in --trace-deopt), so
 * the run after it warms V8 up again (udx-native, C, has nothing to lose).
 *
 * Usage (from bench/): node --expose-gc --import tsx src/tools/loopback-compare.ts
 *   [rounds=5] [size=64000|s64000] [ms=1000] [builds='base=…;new=rudpx'] [gc|minor|keep]
 */
import { loadUdx } from '../peers/udx-native.js';
import { collectGarbage } from '../run/many-run.js';
import { type Rate, rudpStreamThroughput, rudpThroughput, udxThroughput } from '../udp/throughput.js';
import { cell } from './median-cell.js';

const rounds = Number(process.argv[2] ?? '5');
const sizeArg = process.argv[3] ?? '64000';
const asStream = sizeArg.startsWith('s');
const size = Number(asStream ? sizeArg.slice(1) : sizeArg);
const rudpRun = asStream ? rudpStreamThroughput : rudpThroughput;
const ms = Number(process.argv[4] ?? '1000');
const builds = (process.argv[5] ?? 'new=rudpx').split(';').map((b) => {
  const at = b.indexOf('=');
  return { name: b.slice(0, at), path: b.slice(at + 1) };
});
const gcMode = process.argv[6] ?? 'gc';
/** A scavenge: young garbage gone, hidden classes and optimized code kept. */
const minorGc = (): void => (globalThis as { gc?: (options: { type: 'minor' }) => void }).gc?.({ type: 'minor' });
const udx = loadUdx();
if (typeof udx === 'string') throw new Error(`udx-native: ${udx}`);

type Api = typeof import('rudpx');
const apis = new Map<string, Api>();
for (const b of builds) apis.set(b.name, (await import(b.path)) as Api);

const rates = new Map<string, Rate[]>();
const ratios = new Map<string, { bytes: number[]; cpu: number[] }>();
const perGb = (r: Rate): number => (r.cpuSeconds * 1e9) / r.bytes;
for (let round = 0; round < rounds; round++) {
  const order: (string | undefined)[] = [...builds.map((b) => b.name), undefined];
  if (round % 2 === 1) order.reverse();
  const thisRound = new Map<string, Rate>();
  for (const name of order) {
    if (gcMode === 'gc') collectGarbage();
    else if (gcMode === 'minor') minorGc();
    const r = name === undefined ? await udxThroughput(udx, size, ms) : await rudpRun(apis.get(name) as Api, size, ms);
    thisRound.set(name ?? 'udx-native', r);
    rates.set(name ?? 'udx-native', [...(rates.get(name ?? 'udx-native') ?? []), r]);
    console.log(`round ${round + 1} ${name ?? 'udx-native'}: ${((r.messagesPerSec * size) / 1e6).toFixed(1)} MB/s, ${perGb(r).toFixed(2)} CPU s/GB`);
  }
  const u = thisRound.get('udx-native') as Rate;
  for (const b of builds) {
    const r = thisRound.get(b.name) as Rate;
    const entry = ratios.get(b.name) ?? { bytes: [], cpu: [] };
    entry.bytes.push(r.messagesPerSec / u.messagesPerSec);
    entry.cpu.push(perGb(r) / perGb(u));
    ratios.set(b.name, entry);
  }
}

for (const [name, list] of rates) {
  console.log(`${name}: MB/s ${cell(list.map((r) => (r.messagesPerSec * size) / 1e6), 1)}; CPU s/GB ${cell(list.map(perGb))}`);
}
for (const [name, r] of ratios) console.log(`${name} ÷ udx-native (same round): bytes/s ${cell(r.bytes)}; CPU per byte ${cell(r.cpu)}`);
