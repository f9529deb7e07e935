/** A ```ts or ```js block of a README, and what the example comments before it say (see readme-examples.mjs). */
export interface ReadmeExample {
  /** The README's path. */
  readonly readme: string;
  /** The README line of the block's first line of code. */
  readonly line: number;
  /** The heading the block sits under. */
  readonly heading: string;
  readonly lang: 'ts' | 'js';
  readonly code: string;
  /** `<!-- example: given … -->`: declarations put before the block. */
  readonly given: string;
  /** `<!-- example: declares A, B from 'module' -->`: each must be that module's export of the name. */
  readonly declares: { readonly names: readonly string[]; readonly from: string } | undefined;
  /** `<!-- example: run -->`. */
  readonly run: boolean;
  /** A ```js block that calls `require(`: compiled as CommonJS JavaScript. */
  readonly commonJs: boolean;
}
/** The examples of one README; throws on a malformed or misplaced example comment. */
export declare function readmeExamples(readmePath: string): ReadmeExample[];
/** An empty project linking the workspace's built library packages in its node_modules. */
export declare function exampleProject(): { readonly dir: string; dispose(): void };
/** Compiles the examples in one program; each problem as a line naming the README line. */
export declare function typeCheckExamples(examples: readonly ReadmeExample[], project: string): string[];
/** Runs one example with node in `project`. */
export declare function runExample(e: ReadmeExample, project: string, timeoutMs?: number): Promise<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }>;
