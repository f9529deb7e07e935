/**
 * Re-renders a full run's report with its real-socket sections (`udp`
 * and `many-real`, or either), and its micro-benchmarks and simulated
 * many-connections scenario if the later run has them, taken
 * from a later run of those scenarios alone, for when the full run's
 * machine-bound part was measured on a busy machine: simulated figures do
 * not depend on the machine's load, timings do. The report says so in its
 * notes, with both runs' dates and commands.
 *
 *   node --import tsx src/tools/splice-real-run.ts <full-run dir> <real-run dir> <out dir> "<why>"
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bulkGoodputSpec, chatLatencySpec, renderSvg } from '../report/charts.js';
import { plainBulk, plainChat, renderMarkdown } from '../report/markdown.js';
import { outputNames, type RunResults } from '../report/results.js';
import { DEFAULT_SCENARIOS } from '../cli-options.js';

const [fullDir, realDir, outDir, why] = process.argv.slice(2);
if (fullDir === undefined || realDir === undefined || outDir === undefined || why === undefined) {
  process.stderr.write('usage: splice-real-run.ts <full-run dir> <real-run dir> <out dir> "<why>"\n');
  process.exit(2);
}
const names = outputNames(false);
const load = async (dir: string): Promise<RunResults> => JSON.parse(await readFile(path.join(dir, names.json), 'utf8')) as RunResults;
const full = await load(fullDir);
const real = await load(realDir);
const withUdp = real.udp !== undefined;
const withManyReal = real.manyReal.length > 0;
if (!withUdp && !withManyReal) {
  process.stderr.write(`${realDir}: no udp or many-real results to splice\n`);
  process.exit(1);
}
const withMicro = real.micro.length > 0;
const withMany = real.many.length > 0;
/** The `--scenario` names of a run's command line (none: every scenario). */
const scenariosOf = (argv: readonly string[]): readonly string[] => {
  const named = argv.flatMap((a, i) => (argv[i - 1] === '--scenario' ? a.split(',') : []));
  return named.length > 0 ? named : DEFAULT_SCENARIOS;
};
// Two partial runs that between them ran every scenario (the simulated ones, then the machine-bound ones) make a whole.
const covered = new Set([...scenariosOf(full.argv), ...scenariosOf(real.argv)]);
const whole = DEFAULT_SCENARIOS.every((s) => covered.has(s)) && !full.argv.includes('--quick') && !real.argv.includes('--quick');
const spliced: RunResults = {
  ...full,
  ...(withMicro ? { micro: real.micro } : {}),
  ...(withMany ? { many: real.many, manyScenario: real.manyScenario } : {}),
  udp: withUdp ? real.udp : full.udp,
  manyReal: withManyReal ? real.manyReal : full.manyReal,
  manyRealScenario: withManyReal ? real.manyRealScenario : full.manyRealScenario,
  notes: [
    // The full run's notes about the sections replaced go; the rest stay.
    ...full.notes.filter((n) => !((withUdp && /real UDP/i.test(n)) || (withManyReal && /many-real|many idle connections on real sockets/i.test(n)))),
    ...real.notes,
    `${[withUdp ? 'Real UDP on 127.0.0.1 and bulk and chat through the relay' : '', withManyReal ? 'many idle connections on real sockets' : '', withMicro ? 'the micro-benchmarks' : '', withMany ? 'the simulated many-connections scenario' : ''].filter((x) => x !== '').join(', ')} come from a later run of those scenarios alone (\`${real.argv.join(' ')}\`, ${(real.wallMs / 1000).toFixed(0)} s), not from this full run: ${why}`,
  ],
  wallMs: full.wallMs,
  partial: full.partial && !whole,
};
await mkdir(outDir, { recursive: true });
await writeFile(path.join(outDir, names.report), renderMarkdown(spliced, names));
await writeFile(path.join(outDir, names.json), `${JSON.stringify(spliced, null, 1)}\n`);
await writeFile(path.join(outDir, names.chatSvg), await renderSvg(chatLatencySpec(plainChat(spliced.chat))));
await writeFile(path.join(outDir, names.bulkSvg), await renderSvg(bulkGoodputSpec(plainBulk(spliced.bulk), spliced.bulkScenario)));
process.stderr.write(`wrote ${path.join(outDir, names.report)}\n`);
