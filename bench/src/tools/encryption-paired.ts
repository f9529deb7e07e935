/**
 * Encrypted ÷ plaintext rudp of one or more builds, each run in a process
 * of its own: one connection of `size`-byte messages over real UDP on
 * loopback (`rudpThroughput`, as the bench's real-UDP part runs it), the
 * encrypted run and the plaintext run of a build back to back. Every round
 * runs each build's pair, builds in reverse order on odd rounds and the two
 * kinds of a pair mirrored from build to build and round to round (ABBA),
 * so neither kind nor build always runs first.
 *
 * Reported per build: encrypted and plaintext MB/s, and encrypted ÷
 * plaintext bytes/s and CPU per byte of the same round (median and min–max
 * of the rounds' ratios); per later build, its encrypted and plaintext
 * bytes/s and encrypted CPU per byte over the first build's in the same
 * round. CPU per byte (process CPU over bytes delivered) moves less than
 * bytes/s when other processes take the cores.
 *
 * Why pairs of fresh processes: on a shared 2-core VM the machine's load
 * moves a run's rate by a tenth or more from minute to minute; two runs
 * seconds apart share it, and a ratio of the two keeps what the code does.
 * Other processes' bursts (tests of other work) still moved single pairs'
 * ratios from 0.2 to 1.8: every run also reports the cores others used
 * meanwhile (busy time in /proc/stat less its own CPU), and a round counts
 * only if every run of it saw less than `quiet` cores (0.15 by default)
 * taken by others; rounds are repeated, up to 4× `rounds` tries, until
 * `rounds` of them count.
 *
 * A build is `name=path/to/rudp/dist/index.js`; `new` (this workspace's
 * built rudpx) by default.
 *
 * Usage (from bench/): node --import tsx src/tools/encryption-paired.ts
 *   [size=64000] [rounds=6] [ms=1000] [builds='base=…/dist/index.js;new=rudpx'] [quiet=0.15]
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { rudpThroughput } from '../udp/throughput.js';
import { cell } from './median-cell.js';

type RudpApi = typeof import('rudpx');

/** What one run measured. */
interface Run {
  readonly mbPerSec: number;
  readonly cpuPerGB: number;
  /** Cores other processes kept busy, on average, while it ran. */
  readonly others: number;
}

/** Busy and total time of all cores so far, in clock ticks (/proc/stat's first line). */
function machineTicks(): { readonly busy: number; readonly total: number } {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  // idle and iowait are not busy.
  return { busy: total - (fields[3] ?? 0) - (fields[4] ?? 0), total };
}

/** Clock ticks per second of /proc/stat (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** One run in this process: rudp from `path`, encrypted or `plaintext`. */
async function runOne(size: number, path: string, ms: number, plaintext: boolean): Promise<Run> {
  const api = (await import(path)) as RudpApi;
  const t0 = performance.now();
  const m0 = machineTicks();
  const cpu0 = process.cpuUsage();
  const r = await rudpThroughput(api, size, ms, { plaintext });
  const own = process.cpuUsage(cpu0);
  const seconds = (performance.now() - t0) / 1000;
  const busy = (machineTicks().busy - m0.busy) / TICKS_PER_SECOND;
  return { mbPerSec: (r.messagesPerSec * size) / 1e6, cpuPerGB: (r.cpuSeconds * 1e9) / r.bytes, others: Math.max(0, busy - (own.user + own.system) / 1e6) / seconds };
}

const self = fileURLToPath(import.meta.url);
if (process.argv[2] === '--one') {
  console.log(JSON.stringify(await runOne(Number(process.argv[3]), process.argv[4] as string, Number(process.argv[5]), process.argv[6] === 'plain')));
} else {
  const size = process.argv[2] ?? '64000';
  const rounds = Number(process.argv[3] ?? '6');
  const ms = process.argv[4] ?? '1000';
  const quiet = Number(process.argv[6] ?? '0.15');
  const builds = (process.argv[5] ?? 'new=rudpx').split(';').map((b) => ({ name: b.slice(0, b.indexOf('=')), path: b.slice(b.indexOf('=') + 1) }));
  const run = (path: string, plain: boolean): Run =>
    JSON.parse(
      execFileSync(process.execPath, [...process.execArgv, self, '--one', size, path, ms, plain ? 'plain' : 'encrypted'], { encoding: 'utf8' }).trim().split('\n').pop() as string,
    ) as Run;
  const encrypted = new Map<string, Run[]>(builds.map((b) => [b.name, []]));
  const plain = new Map<string, Run[]>(builds.map((b) => [b.name, []]));
  let round = 0;
  for (let attempt = 0; round < rounds && attempt < 4 * rounds; attempt++) {
    const order = round % 2 === 1 ? [...builds].reverse() : builds;
    const thisRound = order.map((b, i) => {
      const plainFirst = (i + round) % 2 === 1;
      const first = run(b.path, plainFirst);
      const second = run(b.path, !plainFirst);
      return { name: b.name, encrypted: plainFirst ? second : first, plain: plainFirst ? first : second };
    });
    const busiest = Math.max(...thisRound.flatMap((r) => [r.encrypted.others, r.plain.others]));
    process.stderr.write(`try ${attempt + 1}: others used up to ${busiest.toFixed(2)} cores${busiest < quiet ? `: round ${round + 1}/${rounds}` : ', not counted'}\n`);
    if (busiest >= quiet) continue;
    for (const r of thisRound) {
      encrypted.get(r.name)?.push(r.encrypted);
      plain.get(r.name)?.push(r.plain);
    }
    round++;
  }
  const base = builds[0]?.name as string;
  const over = (a: readonly number[], b: readonly number[]): number[] => a.map((x, i) => x / (b[i] as number));
  const rates = (runs: readonly Run[]): number[] => runs.map((r) => r.mbPerSec);
  const cpu = (runs: readonly Run[]): number[] => runs.map((r) => r.cpuPerGB);
  console.log(`${round} rounds counted (others < ${quiet} cores), ${ms} ms runs`);
  for (const b of builds) {
    const e = encrypted.get(b.name) as Run[];
    const p = plain.get(b.name) as Run[];
    const [e0, p0] = [encrypted.get(base) as Run[], plain.get(base) as Run[]];
    const vsBase =
      b.name === base
        ? ''
        : `\n  ÷ ${base}, same round: encrypted bytes/s ${cell(over(rates(e), rates(e0)))}, CPU per byte ${cell(over(cpu(e), cpu(e0)))}; plaintext bytes/s ${cell(over(rates(p), rates(p0)))}`;
    console.log(
      `${b.name} @ ${size} B: encrypted MB/s ${cell(rates(e), 1)}, CPU s/GB ${cell(cpu(e))}; plaintext MB/s ${cell(rates(p), 1)}, CPU s/GB ${cell(cpu(p))}` +
        `\n  encrypted ÷ plaintext: bytes/s ${cell(over(rates(e), rates(p)))}, CPU per byte ${cell(over(cpu(e), cpu(p)))}${vsBase}`,
    );
  }
}
