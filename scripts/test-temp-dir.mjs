// vitest's globalSetup: the tests' temporary files on a memory file system (tmpfs) where the machine has one.
//
// The data-directory store syncs every change (write, fsync, rename, fsync of the directory), as the spec's
// crash rule asks; on an ext4 /tmp one such sync cost ~4.6 ms, most of many store tests' time. What the tests
// check of a crash is a process killed at any moment (SIGKILL), which a tmpfs keeps exactly as a disk does
// (the kernel holds what was written); a power cut is out of any test's reach on either. So when the person
// running the tests has not chosen a TMPDIR, the tests (and every process they start: servers, clients,
// PostgreSQL clusters) use a fresh directory under /dev/shm, removed at the end. A whole run held at most
// 710 MB there at once (sampled every 5 s; each file's PostgreSQL cluster is deleted when the file ends).
import { chmod, mkdir, readdir, rm, statfs } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { alive } from './process-alive.mjs';

/** Where a memory file system is mounted on Linux (another place only for this script's own test). */
const SHM = process.env.FORUM_TEST_SHM ?? '/dev/shm';
/** Below this much free memory file system the tests keep the system's temporary directory. */
const MIN_FREE_BYTES = 4 * 1024 ** 3;
const PREFIX = `forum-tests-${userInfo().uid}-`;


/** Room on the memory file system in bytes, or 0 where there is none (not Linux, not mounted, not writable). */
const shmRoom = async () => {
  try {
    const s = await statfs(SHM);
    return s.bavail * s.bsize;
  } catch {
    return 0;
  }
};

let created;

/** Points TMPDIR at a fresh directory on /dev/shm unless TMPDIR is set or there is too little room. */
export const setup = async () => {
  if (process.env.TMPDIR !== undefined && process.env.TMPDIR !== '') return;
  if ((await shmRoom()) < MIN_FREE_BYTES) return;
  // A run killed before its teardown left its directory: removed once its process is gone.
  for (const name of await readdir(SHM).catch(() => [])) {
    const pid = Number(name.slice(PREFIX.length));
    if (name.startsWith(PREFIX) && Number.isSafeInteger(pid) && !alive(pid)) await rm(join(SHM, name), { recursive: true, force: true });
  }
  const dir = join(SHM, `${PREFIX}${process.pid}`);
  try {
    await mkdir(dir);
    // As /tmp: the tests run PostgreSQL and some clients as another user (root may not run PostgreSQL), who
    // must make their own files here; the sticky bit keeps each user's files their own.
    await chmod(dir, 0o1777);
  } catch {
    return;
  }
  created = dir;
  // Workers and the processes the tests start inherit it; os.tmpdir() reads it at each call.
  process.env.TMPDIR = dir;
};

/** Removes the run's directory and what the tests left in it. */
export const teardown = async () => {
  if (created === undefined) return;
  delete process.env.TMPDIR;
  await rm(created, { recursive: true, force: true, maxRetries: 3 });
  created = undefined;
};
