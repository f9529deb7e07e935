/**
 * The README's example compiles against the BUILT package, imported by name
 * (`scripts/readme-examples.mjs`), and runs: a relay started, impaired,
 * partitioned, rebound and closed on loopback, with nothing printed.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleProject, readmeExamples, runExample, typeCheckExamples } from '../../../scripts/readme-examples.mjs';

const examples = readmeExamples(fileURLToPath(new URL('../README.md', import.meta.url)));

let project: { readonly dir: string; dispose(): void };
beforeAll(() => {
  project = exampleProject();
});
afterAll(() => project.dispose());

describe('README.md example', () => {
  it('is one block, marked to run', () => {
    expect(examples.map((e) => [e.heading, e.run])).toEqual([['udp-relay', true]]);
  });

  it('compiles against the built package (strict, moduleResolution nodenext)', () => {
    expect(typeCheckExamples(examples, project.dir)).toEqual([]);
  }, 30_000);

  it('runs by itself and exits 0 without a word', async () => {
    const e = examples[0];
    if (e === undefined) throw new Error('no example');
    expect(await runExample(e, project.dir)).toEqual({ code: 0, stdout: '', stderr: '' });
  }, 30_000);
});
