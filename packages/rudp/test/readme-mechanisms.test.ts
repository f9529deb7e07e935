/**
 * The README's "Where each mechanism lives" table names every file of
 * `src/core/` and every folder beside it, and nothing that is gone: a file
 * added or removed without the table changing fails here (the table had
 * fallen behind by a dozen files, and listed a removed one's role).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = fileURLToPath(new URL('../src', import.meta.url));
const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');

/** The paths in backticks in the file column of the section's table. */
function tablePaths(markdown: string): readonly string[] {
  const start = markdown.indexOf('### Where each mechanism lives');
  if (start < 0) throw new Error('README.md has no "Where each mechanism lives" section');
  const end = markdown.indexOf('\n#', start + 1);
  const rows = markdown.slice(start, end < 0 ? undefined : end).split('\n').filter((l) => l.startsWith('|'));
  return rows.flatMap((row) => {
    const file = row.split('|').at(-2) ?? '';
    return [...file.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);
  });
}

/** Every `.ts` file under `dir`, as a path under `src/` with `/` separators. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) return filesUnder(full);
    return name.endsWith('.ts') ? [relative(src, full).split(sep).join('/')] : [];
  });
}

const listed = tablePaths(readme);

describe('README "Where each mechanism lives"', () => {
  it('names every file of src/core/ by its path under src/', () => {
    const files = filesUnder(join(src, 'core'));
    expect(files.length).toBeGreaterThan(50);
    expect(files.filter((f) => !listed.includes(f))).toEqual([]);
  });

  it('names every folder beside core/ (wire/, crypto/, node/, testing/)', () => {
    const folders = readdirSync(src).filter((d) => d !== 'core' && statSync(join(src, d)).isDirectory());
    expect(folders.length).toBeGreaterThanOrEqual(4);
    expect(folders.map((d) => `${d}/`).filter((d) => !listed.includes(d))).toEqual([]);
  });

  it('lists only paths that exist', () => {
    expect(listed.length).toBeGreaterThan(0);
    expect(listed.filter((p) => !existsSync(join(src, p)))).toEqual([]);
  });
});
