import type { BulkResult } from '../run/bulk-run.js';
import type { ChatResult } from '../run/chat-run.js';
import type { ForumResult } from '../run/forum-run.js';
import type { ManyResult } from '../run/many-run.js';
import type { MicroResult } from '../micro/micro-bench.js';
import type { UdpReport } from '../udp/udp-results.js';
import type { ManyRealResult, ManyRealScenario } from '../udp/many-real.js';
import type { BulkScenario } from '../scenarios/bulk.js';
import type { ChatScenario } from '../scenarios/chat.js';
import type { ManyScenario } from '../scenarios/many.js';
import type { MachineInfo } from './machine.js';

/** KCP-fast bulk goodput for one window size (the calibration behind the 128/128 choice). */
export interface WindowCalibration {
  readonly window: number;
  readonly results: readonly BulkResult[];
}

/** File names one run writes in the output directory. */
export interface OutputNames {
  readonly report: string;
  readonly chatSvg: string;
  readonly bulkSvg: string;
  /** Every figure of the run as JSON, so two runs can be compared seed for seed without re-running. */
  readonly json: string;
}

/** `latest.md` and its charts for a full run; `latest-quick.md` and `*-quick.svg` for `--quick`. */
export function outputNames(quick: boolean): OutputNames {
  const suffix = quick ? '-quick' : '';
  return { report: `latest${suffix}.md`, chatSvg: `chat-latency${suffix}.svg`, bulkSvg: `bulk-goodput${suffix}.svg`, json: `latest${suffix}.json` };
}

/** Everything one `pnpm bench` run measured, as the report reads it. */
export interface RunResults {
  readonly machine: MachineInfo;
  /** First seed. */
  readonly seed: number;
  /** Every seed the simulated scenarios ran on. */
  readonly seeds: readonly number[];
  readonly quick: boolean;
  /** True when only part of the suite ran (`--quick`, `--scenario`, `--loss` or `--system`). */
  readonly partial: boolean;
  readonly argv: readonly string[];
  readonly chatScenario: ChatScenario;
  readonly bulkScenario: BulkScenario;
  readonly manyScenario: ManyScenario;
  readonly chat: ChatResult[];
  readonly bulk: BulkResult[];
  readonly calibration: WindowCalibration[];
  readonly many: ManyResult[];
  readonly forum: ForumResult[];
  readonly micro: MicroResult[];
  readonly udp: UdpReport | undefined;
  /** Many mostly idle connections on real sockets (server process measured), every round. */
  readonly manyReal: ManyRealResult[];
  readonly manyRealScenario: ManyRealScenario;
  /** Things the reader must know: skipped parts and why, missing systems. */
  readonly notes: string[];
  /** Integrity violations and incomplete runs, one line each. */
  readonly problems: string[];
  readonly wallMs: number;
}
