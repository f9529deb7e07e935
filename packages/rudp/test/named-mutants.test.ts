/**
 * `pnpm mutation:named` rewrites one line per mutant and needs that line to
 * occur exactly once in today's source; it is run by hand, so a refactor that
 * moved a line went unnoticed (13 of 32 no longer matched after sessions of
 * changes). This checks the list against the source on every test run; the
 * mutants themselves are run by `pnpm mutation:named`.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MUTANTS, unit } from '../../../scripts/named-mutants-list.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** How many times `needle` occurs in `text`. */
const occurrences = (text: string, needle: string): number => text.split(needle).length - 1;

describe('named mutants', () => {
  it('have distinct names', () => {
    expect(new Set(MUTANTS.map((m) => m.name)).size).toBe(MUTANTS.length);
  });

  it.each(MUTANTS.map((m) => [m.name, m] as const))('%s: its line occurs once and its tests exist', (_name, m) => {
    const source = readFileSync(path.join(root, m.file), 'utf8');
    expect(occurrences(source, m.from)).toBe(1);
    expect(m.to).not.toBe(m.from);
    expect(m.tests.length).toBeGreaterThan(0);
    for (const t of m.tests) expect(existsSync(path.join(root, unit, `${t}.test.ts`))).toBe(true);
  });
});
