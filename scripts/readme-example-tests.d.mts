import type { ReadmeExample } from './readme-examples.mjs';
/**
 * Registers the tests of one README's examples (compiled against the built packages; the marked
 * ones run, printing a line per pattern of `runs`, by heading). Returns the examples.
 */
export declare function testReadmeExamples(readmePath: string, runs: Readonly<Record<string, readonly RegExp[]>>): ReadmeExample[];
