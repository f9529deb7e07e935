/**
 * The README's code examples compile against the BUILT package, imported by
 * name as a server's code would (`scripts/readme-examples.mjs`): the server
 * wiring and the account policy are fragments of a server, given its
 * surroundings (a connection, a request) in the comment before each block.
 * They had drifted: a store used without unwrapping its Either, and
 * `conn.remote`, which no connection has.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleProject, readmeExamples, typeCheckExamples } from '../../../scripts/readme-examples.mjs';

const examples = readmeExamples(fileURLToPath(new URL('../README.md', import.meta.url)));

let project: { readonly dir: string; dispose(): void };
beforeAll(() => {
  project = exampleProject();
});
afterAll(() => project.dispose());

describe('README.md examples', () => {
  it('finds the server wiring and the account policy', () => {
    expect(examples.map((e) => e.heading)).toEqual(['Server wiring', 'Accounts: plain or hashed passwords, login throttling']);
  });

  it('every example compiles against the built package (strict, moduleResolution nodenext)', () => {
    expect(typeCheckExamples(examples, project.dir)).toEqual([]);
  }, 30_000);
});
