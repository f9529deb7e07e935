/** One hand-made one-line bug (see named-mutants-list.mjs). */
export interface NamedMutant {
  readonly name: string;
  /** Repository-relative source file. */
  readonly file: string;
  /** The text replaced: must occur exactly once in `file`. */
  readonly from: string;
  readonly to: string;
  /** Unit test files (under `unit`, without `.test.ts`) that must fail on the mutant. */
  readonly tests: readonly string[];
}
/** The rudp core's source folder, repository-relative. */
export declare const core: string;
/** The rudp unit tests' folder, repository-relative. */
export declare const unit: string;
/** Every named mutant. */
export declare const MUTANTS: readonly NamedMutant[];
