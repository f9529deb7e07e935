/**
 * The README's code examples compile against the BUILT package, imported by
 * name as a server's code would (`scripts/readme-examples.mjs`): the server
 * wiring and the account policy are fragments of a server, given their
 * surroundings (a connection, a request) in the comment before each block.
 * They had drifted: a store used without unwrapping its Either, and
 * `conn.remote`, which no connection has.
 */
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { testReadmeExamples } from '../../../scripts/readme-example-tests.mjs';

const examples = testReadmeExamples(fileURLToPath(new URL('../README.md', import.meta.url)), {});

it('finds the server wiring and the account policy', () => {
  expect(examples.map((e) => e.heading)).toEqual(['Server wiring', 'Accounts: plain or hashed passwords, login throttling']);
});
