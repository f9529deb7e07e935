/**
 * Before/after comparisons of the many-real scenario (10,000 mostly idle
 * connections on real sockets) that hold up on a busy machine: each round
 * runs every rudp server variant and udx-native at the same time, each with
 * its own server and client processes, and their measured windows start
 * together (a barrier after the traffic settled), so every run of a round
 * shares the same background load. `many-real-compare.ts` runs them one
 * after another instead, minutes apart, where other work on the machine can
 * move one run's CPU by 10% and more. Running side by side, the runs load
 * the machine more (each server's CPU includes some contention with the
 * others), alike for all.
 *
 * A variant is `name=json` as in `many-real-compare.ts` (`build:/path/to/dist/index.js=json` runs another build).
 *
 * Usage (from bench/): node --expose-gc --import tsx src/tools/many-real-ab.ts
 *   [rounds=3] [variants='new={}'] [measureMs=30000] [connections=10000] [intervalMs=10000]
 *
 * A shorter `intervalMs` (each connection sends more often) gives the servers more work per window, and
 * a difference between builds more CPU to show in, at the cost of the scenario's one datagram a wake-up.
 */
import { MANY_REAL, runManyRealOnce, type ManyRealResult } from '../udp/many-real.js';
import { cell } from './median-cell.js';

const rounds = Number(process.argv[2] ?? '3');
const variants = (process.argv[3] ?? 'new={}').split(';').map((v) => {
  const at = v.lastIndexOf('=');
  return { name: v.slice(0, at), options: v.slice(at + 1) };
});
const scenario = { ...MANY_REAL, rounds, measureMs: Number(process.argv[4] ?? '30000'), connections: Number(process.argv[5] ?? '10000'), intervalMs: Number(process.argv[6] ?? '10000') };

/** Resolves every waiter once `n` have arrived. */
function barrier(n: number): () => Promise<void> {
  let arrived = 0;
  let open: () => void = () => {};
  const opened = new Promise<void>((r) => (open = r));
  return () => {
    arrived++;
    if (arrived === n) open();
    return opened;
  };
}

const cpu = new Map<string, number[]>();
for (let round = 0; round < rounds; round++) {
  const wait = barrier(variants.length + 1);
  const runs: Promise<{ readonly name: string; readonly r: ManyRealResult }>[] = [];
  for (const v of [...variants, undefined]) {
    const name = v?.name ?? 'udx-native';
    // The server child reads these when it is forked, which runManyRealOnce does before its first await.
    if (v) {
      process.env['MANY_REAL_SERVER_OPTIONS'] = v.options;
      if (v.name.startsWith('build:')) process.env['MANY_REAL_SERVER_RUDP'] = v.name.slice('build:'.length);
      else delete process.env['MANY_REAL_SERVER_RUDP'];
    }
    runs.push(runManyRealOnce(v ? 'rudp' : 'udx-native', round, scenario, (line) => console.log(`${name}: ${line}`), wait).then((r) => ({ name, r })));
  }
  const results = await Promise.all(runs);
  const udx = results.find((x) => x.name === 'udx-native')?.r.serverCpuPercent ?? Number.NaN;
  const first = results[0]?.r.serverCpuPercent ?? Number.NaN;
  for (const { name, r } of results) {
    const w = r.window;
    (cpu.get(name) ?? cpu.set(name, []).get(name) ?? []).push(r.serverCpuPercent);
    console.log(
      `${name} round ${round + 1}: server CPU ${r.serverCpuPercent.toFixed(2)}% (user ${((100 * w.userSeconds) / w.wallSeconds).toFixed(2)}%, system ${((100 * w.systemSeconds) / w.wallSeconds).toFixed(2)}%), ` +
        `÷ udx-native ${(r.serverCpuPercent / udx).toFixed(2)}, ÷ ${results[0]?.name} ${(r.serverCpuPercent / first).toFixed(3)}, ` +
        `${r.datagramsPerMessage.toFixed(3)} datagrams/message, ${r.clean ? 'clean' : 'NOT CLEAN'}`,
    );
  }
}

const udxAll = cpu.get('udx-native') ?? [];
const firstAll = cpu.get(variants[0]?.name ?? '') ?? [];
for (const v of variants) {
  const mine = cpu.get(v.name) ?? [];
  console.log(
    `${v.name}: server CPU ÷ udx-native ${cell(mine.map((c, i) => c / (udxAll[i] ?? Number.NaN)))}; ÷ ${variants[0]?.name} ${cell(mine.map((c, i) => c / (firstAll[i] ?? Number.NaN)))}`,
  );
}
