import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInThisContext } from 'node:vm';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { mapStackTraces } from '../src/process/stack-source-maps.js';

// A generated file on disk (frames name it, the hook reads its map from it), run through vm so that vitest's own
// transform does not touch it. Its one line maps, from column 1 on, to src/boom.ts line 10, column 5 (VLQ AASI).
const dir = mkdtempSync(join(tmpdir(), 'stack-maps-'));
const generated = (name: string, sources: readonly string[]): ((make: () => unknown) => unknown) => {
  const file = join(dir, `${name}.js`);
  const code = `(function boom(make) { throw make(); })\n//# sourceMappingURL=${name}.js.map\n`;
  writeFileSync(file, code);
  writeFileSync(join(dir, `${name}.js.map`), JSON.stringify({ version: 3, sources, names: [], mappings: 'AASI' }));
  return runInThisContext(code, { filename: file }) as (make: () => unknown) => unknown;
};
const thrown = (f: () => unknown): unknown => {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('nothing thrown');
};

const before = Error.prepareStackTrace;
afterEach(() => {
  Error.prepareStackTrace = before;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('mapStackTraces (the binaries stack traces in their sources)', () => {
  it('puts a frame of a file with a map in the source the map names', () => {
    const boom = generated('plain', ['src/boom.ts']);
    mapStackTraces();
    const e = thrown(() => boom(() => new Error('x'))) as Error;
    expect(e.stack).toContain(`at boom (${join(dir, 'src/boom.ts')}:10:5)`);
  });

  it('never throws from a trace: a source its map names that is no path leaves the frame in the generated file', () => {
    // fileURLToPath refuses an encoded '/': a hook that throws makes reading .stack throw, and an uncaught
    // error print without its trace or cause.
    const boom = generated('encoded-slash', ['src%2Fboom.ts']);
    mapStackTraces();
    const e = thrown(() => boom(() => new Error('x'))) as Error;
    expect(() => e.stack).not.toThrow();
    expect(e.stack).toContain(`at boom (${join(dir, 'encoded-slash.js')}:1:`);
  });

  it("keeps Node's own errors' code in the first line, as Node's trace does", () => {
    mapStackTraces();
    const e = thrown(() => Buffer.alloc(-1)) as Error;
    expect(e.stack?.split('\n')[0]).toMatch(/^RangeError \[ERR_OUT_OF_RANGE\]: The value of "size" is out of range/);
  });

  it('heads the trace of any object (Error.captureStackTrace) as V8 does: name and message', () => {
    mapStackTraces();
    const named = { name: 'Timeout', message: 'late' };
    const empty = {};
    Error.captureStackTrace(named);
    Error.captureStackTrace(empty);
    expect((named as { stack?: string }).stack?.split('\n')[0]).toBe('Timeout: late');
    expect((empty as { stack?: string }).stack?.split('\n')[0]).toBe('Error');
  });
});
