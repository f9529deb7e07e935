/** One tinybench task's figures. */
export interface MicroResult {
  readonly name: string;
  readonly opsPerSec: number;
  /** Mean time per operation, ns. */
  readonly meanNs: number;
  /** Relative margin of error of the mean, %. */
  readonly rme: number;
  readonly samples: number;
}

/** Runs the hot-path micro-benchmarks that can run now; notes say what was skipped. */
export async function runMicro(_quick: boolean): Promise<{ results: MicroResult[]; notes: string[] }> {
  return { results: [], notes: ['micro-benchmarks not wired yet.'] };
}
