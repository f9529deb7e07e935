/**
 * vitest's globalSetup that puts the tests' temporary files on a memory file system (scripts/test-temp-dir.mjs),
 * pointed here at a directory of this test's (FORUM_TEST_SHM) instead of /dev/shm: TMPDIR is set to a fresh
 * directory that other users may write in as /tmp (PostgreSQL runs as another user), a TMPDIR the person running
 * the tests chose is kept, the directory goes at the end with what is in it, and one left by a killed run goes
 * once its process is gone. A forked file: it writes the process's environment.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';

const saved = process.env['TMPDIR'];
const shm = await mkdtemp(join(tmpdir(), 'test-temp-dir-'));
process.env['FORUM_TEST_SHM'] = shm;
const { setup, teardown } = await import('../../../scripts/test-temp-dir.mjs');
afterAll(async () => {
  if (saved === undefined) delete process.env['TMPDIR'];
  else process.env['TMPDIR'] = saved;
  delete process.env['FORUM_TEST_SHM'];
  await rm(shm, { recursive: true, force: true });
});

/** A pid no process has: a child's, once it has ended. */
const deadPid = (): number => {
  const r = spawnSync(process.execPath, ['-e', '']);
  return r.pid ?? 0;
};

it('points TMPDIR at a fresh 1777 directory, removes it and what it holds at the end, and removes one a killed run left', async () => {
  const prefix = `forum-tests-${userInfo().uid}-`;
  const leftByKilledRun = join(shm, `${prefix}${deadPid()}`);
  const ofLiveRun = join(shm, `${prefix}${process.ppid}`);
  await mkdir(join(leftByKilledRun, 'data'), { recursive: true });
  await mkdir(ofLiveRun);
  delete process.env['TMPDIR'];
  await setup();
  const dir = join(shm, `${prefix}${process.pid}`);
  expect(process.env['TMPDIR']).toBe(dir);
  expect((await stat(dir)).mode & 0o7777).toBe(0o1777);
  expect((await readdir(shm)).sort()).toEqual([`${prefix}${process.pid}`, `${prefix}${process.ppid}`].sort());
  await writeFile(join(dir, 'left-by-a-test'), 'x');
  await teardown();
  expect(process.env['TMPDIR']).toBeUndefined();
  expect(await readdir(shm)).toEqual([`${prefix}${process.ppid}`]);
});

it('keeps a TMPDIR the person running the tests set, and makes nothing', async () => {
  process.env['TMPDIR'] = shm;
  await setup();
  expect(process.env['TMPDIR']).toBe(shm);
  const before = await readdir(shm);
  await teardown();
  expect(process.env['TMPDIR']).toBe(shm);
  expect(await readdir(shm)).toEqual(before);
});
