/**
 * Before/after loopback cost of rudp builds, each run in a process of its
 * own: one connection of `size`-byte messages, written as rudp's README
 * shows (`write()` until it returns false, then `'drain'`), measured for
 * `ms` after a warm-up. Every round runs each build once, order reversed on
 * odd rounds, and the report gives each build's CPU per GB, MB/s and
 * datagrams/s, and each build's CPU per byte and bytes/s over the first
 * build's in the same round (median and min–max).
 *
 * Why processes of their own (unlike `loopback-compare.ts`, which runs
 * builds and udx-native interleaved in one process): on a shared 2-core VM
 * one process's figures drift with its heap and its JIT's history, and
 * paired rounds of fresh processes were the measurement that repeated.
 *
 * A build is `name=path/to/rudp/dist/index.js`; `new` (this workspace's
 * built rudpx) by default. A size written `s1024` writes the connection's
 * `stream()` as a byte stream (as udx-native is written) instead of
 * messages.
 *
 * Usage (from bench/): node --import tsx src/tools/loopback-paired.ts
 *   [size=1024|s1024] [rounds=12] [ms=1000] [builds='base=…/dist/index.js;new=rudpx']
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { rudpStreamThroughput, rudpThroughput } from '../udp/throughput.js';
import { cell } from './median-cell.js';

/** What one run measured. */
interface Run {
  readonly cpuPerGB: number;
  readonly mbPerSec: number;
  readonly datagramsPerSec: number;
}

type RudpApi = typeof import('rudpx');

/** One run in this process: rudp from `path`, as the bench's real-UDP part runs it. */
async function runOne(sizeArg: string, path: string, ms: number): Promise<Run> {
  const stream = sizeArg.startsWith('s');
  const size = Number(stream ? sizeArg.slice(1) : sizeArg);
  const api = (await import(path)) as RudpApi;
  const r = await (stream ? rudpStreamThroughput : rudpThroughput)(api, size, ms);
  return { cpuPerGB: (r.cpuSeconds * 1e9) / r.bytes, mbPerSec: (r.messagesPerSec * size) / 1e6, datagramsPerSec: r.datagramsPerSec };
}

const self = fileURLToPath(import.meta.url);
if (process.argv[2] === '--one') {
  console.log(JSON.stringify(await runOne(process.argv[3] as string, process.argv[4] as string, Number(process.argv[5]))));
} else {
  const size = process.argv[2] ?? '1024';
  const rounds = Number(process.argv[3] ?? '12');
  const ms = process.argv[4] ?? '1000';
  const builds = (process.argv[5] ?? 'new=rudpx').split(';').map((b) => ({ name: b.slice(0, b.indexOf('=')), path: b.slice(b.indexOf('=') + 1) }));
  const runs = new Map<string, Run[]>(builds.map((b) => [b.name, []]));
  const ratios = new Map<string, number[]>(builds.map((b) => [b.name, []]));
  const rateRatios = new Map<string, number[]>(builds.map((b) => [b.name, []]));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 1 ? [...builds].reverse() : builds;
    const thisRound = new Map<string, Run>();
    for (const b of order) {
      const out = execFileSync(process.execPath, [...process.execArgv, self, '--one', size, b.path, ms], { encoding: 'utf8' });
      const run = JSON.parse(out.trim().split('\n').pop() as string) as Run;
      thisRound.set(b.name, run);
      runs.get(b.name)?.push(run);
    }
    const first = thisRound.get(builds[0]?.name as string) as Run;
    for (const b of builds) {
      const run = thisRound.get(b.name) as Run;
      ratios.get(b.name)?.push(run.cpuPerGB / first.cpuPerGB);
      rateRatios.get(b.name)?.push(run.mbPerSec / first.mbPerSec);
    }
  }
  for (const b of builds) {
    const list = runs.get(b.name) as Run[];
    const ratio = b === builds[0] ? '' : `; ÷ ${builds[0]?.name}, same round: CPU per byte ${cell(ratios.get(b.name) as number[])}, bytes/s ${cell(rateRatios.get(b.name) as number[])}`;
    console.log(`${b.name}: CPU s/GB ${cell(list.map((r) => r.cpuPerGB))}; MB/s ${cell(list.map((r) => r.mbPerSec), 1)}; datagrams/s ${cell(list.map((r) => r.datagramsPerSec), 0)}${ratio}`);
  }
}
