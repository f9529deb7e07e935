/**
 * Before/after comparisons of the many-real scenario (10,000 mostly idle
 * connections on real sockets): each round runs every rudp server variant
 * and udx-native, interleaved in fresh processes (order reversed on odd
 * rounds), and prints the server CPU, datagrams and memory of each run and
 * the ratios to udx-native of the same round (median and min–max).
 *
 * A variant is `name=json`: the JSON is transport options for the server's
 * `listen`; a name starting with `build:` runs the server on another build
 * of rudpx (`build:/path/to/rudp/dist/index.js`), e.g. one of the commit
 * before a change, so both sides of a change run in one session.
 *
 * Usage (from bench/): node --expose-gc --import tsx src/tools/many-real-compare.ts
 *   [rounds=3] [variants='new={}'] [measureMs=30000] [connections=10000]
 */
import { MANY_REAL, runManyRealOnce } from '../udp/many-real.js';
import { cell } from './median-cell.js';

const rounds = Number(process.argv[2] ?? '3');
const variants = (process.argv[3] ?? 'new={}').split(';').map((v) => {
  const at = v.lastIndexOf('=');
  return { name: v.slice(0, at), options: v.slice(at + 1) };
});
const scenario = { ...MANY_REAL, rounds, measureMs: Number(process.argv[4] ?? '30000'), connections: Number(process.argv[5] ?? '10000') };

interface Row {
  readonly name: string;
  readonly round: number;
  readonly cpu: number;
  readonly datagrams: number;
  readonly rss: number;
  readonly heap: number;
}

const rows: Row[] = [];
for (let round = 0; round < rounds; round++) {
  const order: ({ name: string; options: string } | undefined)[] = [...variants, undefined];
  if (round % 2 === 1) order.reverse();
  for (const v of order) {
    // The server child reads these when it starts (many-real-worker.ts).
    if (v) {
      process.env['MANY_REAL_SERVER_OPTIONS'] = v.options;
      if (v.name.startsWith('build:')) process.env['MANY_REAL_SERVER_RUDP'] = v.name.slice('build:'.length);
      else delete process.env['MANY_REAL_SERVER_RUDP'];
    }
    const r = await runManyRealOnce(v ? 'rudp' : 'udx-native', round, scenario, (line) => console.log(`${v?.name ?? 'udx-native'}: ${line}`));
    const w = r.window;
    const row: Row = { name: v?.name ?? 'udx-native', round, cpu: r.serverCpuPercent, datagrams: r.datagramsPerMessage, rss: r.rssPerConnection, heap: r.heapPerConnection };
    rows.push(row);
    console.log(
      `${row.name} round ${round + 1}: server CPU ${row.cpu.toFixed(2)}% (user ${((100 * w.userSeconds) / w.wallSeconds).toFixed(2)}%, system ${((100 * w.systemSeconds) / w.wallSeconds).toFixed(2)}%), ` +
        `${row.datagrams.toFixed(3)} datagrams/message, RSS ${(row.rss / 1024).toFixed(2)} KiB/conn, heap ${(row.heap / 1024).toFixed(2)} KiB/conn, ${r.clean ? 'clean' : 'NOT CLEAN'}`,
    );
  }
}

for (const v of variants) {
  const cpu: number[] = [];
  const rss: number[] = [];
  const datagrams: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const mine = rows.find((r) => r.round === round && r.name === v.name);
    const udx = rows.find((r) => r.round === round && r.name === 'udx-native');
    if (!mine || !udx) continue;
    cpu.push(mine.cpu / udx.cpu);
    rss.push(mine.rss / udx.rss);
    datagrams.push(mine.datagrams);
  }
  if (cpu.length > 0) console.log(`${v.name}: server CPU ÷ udx-native ${cell(cpu)}; RSS/conn ÷ udx-native ${cell(rss)}; datagrams/message ${cell(datagrams)}`);
}
