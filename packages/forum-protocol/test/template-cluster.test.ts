/**
 * The template cluster every throw-away PostgreSQL is copied from (scripts/template-cluster.mjs): its lock
 * keeps vitest's workers, starting at once from a cold temporary directory, from building it side by side,
 * and each cluster copied from it is a database of its own, deleted when it stops.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../../../scripts/embedded-postgres.mjs';
import { withLock } from '../../../scripts/template-cluster.mjs';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const scratch = async (): Promise<string> => {
  const d = await mkdtemp(join(tmpdir(), 'template-lock-'));
  dirs.push(d);
  return d;
};

describe('template cluster', () => {
  it('its lock lets one holder in at a time, and each in turn', async () => {
    const lock = join(await scratch(), 'lock');
    let inside = 0;
    let most = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        withLock(lock, async () => {
          inside++;
          most = Math.max(most, inside);
          // Gives the others a turn of the event loop (and a look at the lock) while this one holds it.
          await new Promise((resolve) => setImmediate(resolve));
          order.push(i);
          inside--;
        }),
      ),
    );
    expect(most).toBe(1);
    expect([...order].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    await expect(stat(lock)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a lock left by a process that is gone is taken over', async () => {
    const lock = join(await scratch(), 'lock');
    // A pid that was a process's and is no longer (it ran and was reaped).
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    await mkdir(lock);
    await writeFile(join(lock, 'pid'), String(gone));
    expect(await withLock(lock, () => Promise.resolve('taken'))).toBe('taken');
  });

  // initdb takes the cluster's locale from the environment (LC_ALL, LC_COLLATE, ..., LANG). A template made
  // under one locale was copied under another: text sorted and cased as where the template was made.
  const cUtf8 = (() => {
    try {
      return /^C\.utf-?8$/im.test(execFileSync('locale', ['-a'], { encoding: 'utf8' }));
    } catch {
      return false;
    }
  })();
  it.skipIf(!cUtf8)("a cluster has the locale of the environment it starts in, not of the one its template was made in", async () => {
    const dir = await scratch();
    // Under root the server's user reaches the template through it.
    await chmod(dir, 0o755);
    const saved = { TMPDIR: process.env['TMPDIR'], LC_ALL: process.env['LC_ALL'] };
    try {
      process.env['TMPDIR'] = dir;
      for (const locale of ['C.UTF-8', 'C']) {
        process.env['LC_ALL'] = locale;
        const pg = await startEmbeddedPostgres();
        const sql = postgres(pg.url, { max: 1, onnotice: () => undefined });
        try {
          expect(await sql`SELECT datctype FROM pg_database WHERE datname = current_database()`).toEqual([{ datctype: locale }]);
        } finally {
          await sql.end();
          await pg.stop();
        }
      }
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it('two clusters started at once are two databases, and each directory goes when it stops', async () => {
    const [a, b] = await Promise.all([startEmbeddedPostgres(), startEmbeddedPostgres()]);
    const sa = postgres(a.url, { max: 1, onnotice: () => undefined });
    const sb = postgres(b.url, { max: 1, onnotice: () => undefined });
    try {
      await sa`CREATE TABLE only_in_a (x integer)`;
      expect(await sb`SELECT to_regclass('only_in_a') AS t`).toEqual([{ t: null }]);
      const dataDirs = await Promise.all([sa, sb].map(async (s) => (await s<{ d: string }[]>`SELECT current_setting('data_directory') AS d`)[0]?.d ?? ''));
      expect(new Set(dataDirs).size).toBe(2);
      await Promise.all([sa.end(), sb.end()]);
      await Promise.all([a.stop(), b.stop()]);
      for (const d of dataDirs) await expect(stat(d)).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await Promise.all([sa.end(), sb.end(), a.stop(), b.stop()]);
    }
  });
});
