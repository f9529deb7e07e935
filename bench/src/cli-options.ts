import { parseArgs } from 'node:util';
import { SYSTEMS, type SystemId } from './peers/systems.js';

/** Scenario names accepted by `--scenario`. */
export const SCENARIOS = ['chat', 'bulk', 'many', 'forum', 'micro', 'udp', 'many-real', 'relay-bulk', 'loopback'] as const;
/** One of `SCENARIOS`. */
export type ScenarioName = (typeof SCENARIOS)[number];
/** What a run without `--scenario` runs: every scenario (`relay-bulk` and `loopback` are parts of `udp`). */
export const DEFAULT_SCENARIOS: readonly ScenarioName[] = SCENARIOS.filter((s) => s !== 'relay-bulk' && s !== 'loopback');

/** Parsed command line. */
export interface CliOptions {
  readonly help: boolean;
  readonly quick: boolean;
  readonly scenarios: readonly ScenarioName[];
  /** Only this plain loss rate (no burst / duplication variants) when set. */
  readonly loss: number | undefined;
  /** First seed (`--seed`); the run uses `seeds`. */
  readonly seed: number;
  /** Every seed each simulated scenario runs on: `seed`, `seed + 1`, … (`--seeds` of them). */
  readonly seeds: readonly number[];
  readonly systems: readonly SystemId[];
  readonly outDir: string | undefined;
  /** Whether anything narrowed the run below the full suite. */
  readonly partial: boolean;
}

/** The text `--help` prints. */
export const USAGE = `Usage: pnpm bench [-- options]

  --quick               reduced set (a few minutes; many-real with 1,000 connections)
  --scenario NAME       chat | bulk | many | forum | micro | udp | many-real (repeatable; default: all)
                        many-real: 10,000 connections on real sockets, one server process (--quick: 1,000)
                        | relay-bulk (only udp's bulk transfers through the relay)
                        | loopback (only udp's throughput and CPU per byte on 127.0.0.1)
  --loss P              only this loss rate per direction, e.g. 0.1 (chat, bulk, forum)
  --seed N              first simulator seed (default 1)
  --seeds K             run every scenario on seeds N … N+K−1 (default 5; --quick: 2)
  --system NAME         rudp | kcp-flush | kcp-fast | kcp-default (repeatable; default: all)
  --out DIR             where the report and the SVG charts go (default bench/results;
                        a --quick run writes latest-quick.md and *-quick.svg, never latest.md)
  --help                this text
`;

/** Parses argv; `Error` values describe bad input. pnpm's `--` separators are ignored. */
export function parseCli(argv: readonly string[]): CliOptions | Error {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv.filter((a) => a !== '--'),
      options: {
        help: { type: 'boolean', short: 'h', default: false },
        quick: { type: 'boolean', default: false },
        scenario: { type: 'string', multiple: true },
        loss: { type: 'string' },
        seed: { type: 'string' },
        seeds: { type: 'string' },
        system: { type: 'string', multiple: true },
        out: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
  const v = parsed.values;
  const scenarios = (v.scenario ?? []).flatMap((s) => s.split(','));
  for (const s of scenarios) if (!(SCENARIOS as readonly string[]).includes(s)) return new Error(`unknown scenario '${s}' (${SCENARIOS.join(', ')})`);
  const systems = (v.system ?? []).flatMap((s) => s.split(','));
  for (const s of systems) if (!(SYSTEMS as readonly string[]).includes(s)) return new Error(`unknown system '${s}' (${SYSTEMS.join(', ')})`);
  let loss: number | undefined;
  if (v.loss !== undefined) {
    loss = Number(v.loss);
    if (!(loss >= 0 && loss < 1)) return new Error(`--loss must be in [0, 1), got '${v.loss}'`);
  }
  let seed = 1;
  if (v.seed !== undefined) {
    seed = Number(v.seed);
    if (!Number.isSafeInteger(seed) || seed < 0) return new Error(`--seed must be a non-negative integer, got '${v.seed}'`);
  }
  let seedCount = v.quick === true ? 2 : 5;
  if (v.seeds !== undefined) {
    seedCount = Number(v.seeds);
    if (!Number.isSafeInteger(seedCount) || seedCount < 1 || seedCount > 100) return new Error(`--seeds must be an integer in 1..100, got '${v.seeds}'`);
  }
  return {
    help: v.help === true,
    quick: v.quick === true,
    scenarios: scenarios.length ? (scenarios as ScenarioName[]) : [...DEFAULT_SCENARIOS],
    loss,
    seed,
    seeds: Array.from({ length: seedCount }, (_, i) => seed + i),
    systems: systems.length ? (systems as SystemId[]) : [...SYSTEMS],
    outDir: v.out,
    partial: v.quick === true || scenarios.length > 0 || systems.length > 0 || loss !== undefined || seedCount < 5,
  };
}
