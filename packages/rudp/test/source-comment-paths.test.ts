/**
 * The paths the sources' comments point a reader to (`see
 * core/repair/repair-code.ts`, `test/measure/overcommit-pace.ts`) exist: a
 * file moved or split without its mentions changing fails here (two TSDocs
 * still sent readers to `core/repair-code.ts` after it moved into `repair/`).
 * Only paths with a folder in front are checked; a bare file name is read
 * as a neighbour's and is not resolved.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const pkg = fileURLToPath(new URL('..', import.meta.url));
const src = join(pkg, 'src');
const root = join(pkg, '..', '..');

/** Every `.ts` file under `dir`. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) return filesUnder(full);
    return name.endsWith('.ts') ? [full] : [];
  });
}

/** Where a path named in a comment may be read from: the source folder, the package, the repository, the benchmark. */
const BASES = [src, pkg, root, join(root, 'bench')];

describe('paths named in the comments of src/', () => {
  const named = filesUnder(src).flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(/\b(?:src|core|wire|node|crypto|testing|test|scripts|native)\/[A-Za-z0-9_/.-]+\.(?:ts|mjs|c)\b/g)].map((m) => ({
      file: relative(src, file).split(sep).join('/'),
      path: m[0],
    })),
  );

  it('exist', () => {
    expect(named.length).toBeGreaterThan(10);
    expect(named.filter(({ path }) => !BASES.some((base) => existsSync(join(base, path))))).toEqual([]);
  });
});
