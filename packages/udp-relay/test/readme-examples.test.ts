/**
 * The README's example compiles against the BUILT package, imported by name
 * (`scripts/readme-examples.mjs`), and runs: a relay started, impaired,
 * partitioned, rebound and closed on loopback, with nothing printed.
 */
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { testReadmeExamples } from '../../../scripts/readme-example-tests.mjs';

const examples = testReadmeExamples(fileURLToPath(new URL('../README.md', import.meta.url)), { 'udp-relay': [] });

it('is one block, the one that runs', () => {
  expect(examples.map((e) => [e.heading, e.run])).toEqual([['udp-relay', true]]);
});
