// The tests every README with code examples gets (see readme-examples.mjs), registered by its
// package's test/readme-examples.test.ts: one place for the project, the compile and the runs.
import { basename, dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleProject, readmeExamples, runExample, typeCheckExamples } from './readme-examples.mjs';

/**
 * Registers the tests of one README's examples: every block compiles against the built packages;
 * the blocks marked to run are exactly those named in `runs`, and each exits 0 with nothing on
 * stderr, printing one line per pattern, in order. Returns the examples, for a file's own checks.
 * @param {string} readmePath
 * @param {Readonly<Record<string, readonly RegExp[]>>} runs the lines each runnable example prints, by the heading it sits under
 */
export function testReadmeExamples(readmePath, runs) {
  const examples = readmeExamples(readmePath);
  /** @type {{ readonly dir: string; dispose(): void } | undefined} */
  let project;
  beforeAll(() => {
    project = exampleProject();
  });
  afterAll(() => project?.dispose());
  const dir = () => /** @type {{ readonly dir: string }} */ (project).dir;

  describe(`${basename(dirname(readmePath))}/README.md examples`, () => {
    it('every example compiles against the built packages (strict, moduleResolution nodenext)', () => {
      expect(typeCheckExamples(examples, dir())).toEqual([]);
    }, 30_000);

    it('runs exactly the examples marked to run', () => {
      expect(examples.filter((e) => e.run).map((e) => e.heading).sort()).toEqual(Object.keys(runs).sort());
    });

    it.each(Object.entries(runs))('the "%s" example runs by itself, prints what it says and exits 0', async (heading, lines) => {
      const e = examples.find((x) => x.run && x.heading === heading);
      if (e === undefined) throw new Error(`no example marked to run under "${heading}"`);
      const { code, stdout, stderr } = await runExample(e, dir());
      expect(stderr).toBe('');
      expect(code).toBe(0);
      const out = stdout === '' ? [] : stdout.trimEnd().split('\n');
      expect(out).toHaveLength(lines.length);
      for (const [i, re] of lines.entries()) expect(out[i], `${heading} printed ${JSON.stringify(out)}`).toMatch(re);
    }, 30_000);
  });
  return examples;
}
