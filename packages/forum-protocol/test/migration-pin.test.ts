/**
 * Each shipped migration's statements, pinned by hash: a database already at version N never runs
 * migrations 1..N again, so an edit to a shipped one reaches new databases only and the two drift
 * apart. The hash is over the statements `migrate` runs, including those built from shared code
 * (postgres-origin-counters.ts for 15 and 16): the files' TypeScript comments are free to change, but not
 * an SQL comment inside a statement (a function's body, comments and all, is what the database keeps).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../src/postgres-store/migrations/migrations.js';

/**
 * SHA-256 of each migration's statements as JSON (an array of strings: no two lists share an encoding),
 * the first (migration 1) first. A new migration adds its line here, as printed by the failing test.
 */
const SHIPPED: readonly string[] = [
  '7b8768b8933aef1b1924aa76a3c2fccab1d2a00f18d050e66e31e8fc93b08c08',
  '44bb06a7100b215c07b26d2cc0c7aa2f5d51499610adbcab1f93e33cf03cafa6',
  'bd132a781f7b9199dfa563c5628d769eb8bff90240df7858c782f63bb3b3b55b',
  'e7e353897c415a8e27904b6922ddcac2708a0dfdabfecbbf4adf9c57c8942c5d',
  '1b16a750e9f83ceb13cef6866b47da1245de4a8585440772dbece6b6f7260788',
  '5fea1fda87be53fa3519ee7ed03abe55d3fc69cca20becd2761df03df88ed9f9',
  '20951200dfd95c4ed0ef6d4746d421c1ad754a9a7300672a300d056ffc55a8c3',
  'a6a23827302dfad66222c7b4ff7c2568fdee7678b89d81d491a53802d5a4d8ec',
  '3bded54c7594d2fc9d65060817de00794ed22b6408fcf05aa3f26e376aeae308',
  'e6cc0fd20e635145fb8ea1586a36c798133df5aa31c5434ecc6404ec1c1bf71e',
  'bc69c091cfa49146ad15d1ae26c11556df35c30d075eb0c3f0037969fd1464c9',
  '49bca27fd2eda0c47fb6480fd3faee5ee88413ad089b08a7faa6dfdf6521b4e2',
  '6489e244f9202bb5dd23a04ebee4299eb2ee056a0ad6c799d32720b1a7bbe793',
  '6ea6023602999cbbb8c446fca0cbaa643a2c1783043c0c28e96cb5ee26212435',
  '546624cfaa1cf73bdb81b2e84b2bd76e26b3d64bf8c5df76115e993d0c7deba2',
  '05daaf01c8b198a595a1eb67f39ce6bd7f8673a6f901ed70d44523ef2e3f7e83',
];

const hashOf = (statements: readonly string[]): string => createHash('sha256').update(JSON.stringify(statements)).digest('hex');

const numbered = (n: number): string => String(n).padStart(2, '0');

describe('shipped migrations', () => {
  it.each(SHIPPED.map((hash, i) => [numbered(i + 1), hash, i] as const))('migration %s runs the statements it shipped with', (n, hash, i) => {
    const migration = MIGRATIONS[i];
    expect(migration, `migration ${n} was removed after it shipped: migrations are never removed`).toBeDefined();
    expect(hashOf(migration ?? []), `migration ${n} changed after it shipped: add a new migration instead`).toBe(hash);
  });

  it('every migration has its hash pinned', () => {
    const unpinned = MIGRATIONS.slice(SHIPPED.length).map((m, i) => `  '${hashOf(m)}', // migration ${numbered(SHIPPED.length + i + 1)}`);
    expect(unpinned, `a new migration: add its hash to SHIPPED (migration-pin.test.ts):\n${unpinned.join('\n')}`).toEqual([]);
  });
});
