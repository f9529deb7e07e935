/**
 * One server per data directory. The file store caches the directory and
 * writes through, and on start it undoes or finishes what its journal and
 * intent records say a crash cut short: a second server on the same directory
 * would roll back the first one's writes in flight and each would overwrite
 * the other's files from a stale cache. So a server holds a lock file while
 * it runs, naming its process id and where that id means something (host
 * name, boot id, process-id namespace); another refuses to start on the
 * directory while that process lives, and takes over a lock whose process is
 * provably gone (a server killed with SIGKILL), saying so. The holder renews
 * the lock's modification time every `RENEW_MS`: a lock of this host from an
 * earlier boot (last modified `STALE_MS` or more before this one began) is gone with that boot, and one of another container of this
 * boot (whose processes cannot be seen from here) is stale once it goes
 * unrenewed for `STALE_MS`. A lock from another host cannot be checked from
 * here and is refused, with the way to remove it. The holder checks the
 * lock before each write and at each renewal; found another's, or deleted,
 * it is lost and the server stops (`holding`).
 */
import { randomUUID } from 'node:crypto';
import * as nodeFs from 'node:fs/promises';
import { hostname, uptime } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { join } from 'node:path';
import { createWhole } from './no-hard-links.js';

/** The lock file's name in the data directory (a leading dot: no thread or upload can take it). */
export const LOCK_FILE = '.forum-server.lock';

/** A lock held on a data directory. */
export interface DataDirLock {
  /** For the log: the stale lock this one replaced (a server killed without cleaning up), if any. */
  readonly tookOver: string | undefined;
  /**
   * Aborted once the lock is found lost (another server's record in the
   * file, the file deleted, or unreadable for `staleMs`): its `reason` is a
   * {@link DataDirLockLostError} naming what was found. The server must then
   * write nothing more to the directory and stop.
   */
  readonly lost: AbortSignal;
  /**
   * Whether the lock is still this holder's now: the lock file is read and
   * compared (calls made while a read is under way share the next one, which
   * starts after them). A write to the directory goes ahead only on `true`;
   * `false` once the lock is lost or released.
   */
  held(): Promise<boolean>;
  /** Gives the directory up (the lock file is deleted if it is still this holder's). */
  release(): Promise<void>;
}

/** The error a lost lock's {@link DataDirLock.lost} is aborted with (`code` `ERR_DATA_DIR_LOCK_LOST`). */
export class DataDirLockLostError extends Error {
  readonly code = 'ERR_DATA_DIR_LOCK_LOST';
  constructor(message: string) {
    super(message);
    this.name = 'DataDirLockLostError';
  }
}

/**
 * Where a process id means something: two records that agree name the same
 * process-id space. `boot` and `pidns` are Linux's (`undefined` where they
 * cannot be read, e.g. on macOS, where the host name alone stands for it).
 */
export interface LockPlace {
  /** `os.hostname()`: per machine, and per container (its UTS namespace). */
  readonly host: string;
  /** `/proc/sys/kernel/random/boot_id`: changes at every boot; shared by the containers of one kernel. */
  readonly boot: string | undefined;
  /** `readlink /proc/self/ns/pid` (`pid:[inode]`): one per process-id namespace (container) of one boot. */
  readonly pidns: string | undefined;
  /** When this boot began, ms since the epoch (`Date.now() - os.uptime()`): judges a lock of another boot id. Not recorded. */
  readonly bootedAt?: number | undefined;
}

/** The file operations the lock uses (a seam: tests simulate file systems without hard links). */
export interface LockFs {
  readonly link: (existing: string, path: string) => Promise<void>;
  readonly writeFile: (path: string, data: string, options: { readonly flag: 'wx'; readonly mode: number }) => Promise<void>;
  readonly readFile: (path: string) => Promise<string>;
  readonly unlink: (path: string) => Promise<void>;
  readonly mkdir: (path: string) => Promise<unknown>;
  readonly realpath: (path: string) => Promise<string>;
  /** The file's modification time, ms since the epoch. */
  readonly mtimeMs: (path: string) => Promise<number>;
  /** Sets the file's modification time to now (the holder's renewal). */
  readonly touch: (path: string) => Promise<void>;
}

/** Options of {@link lockDataDir}; the defaults are the real ones, tests replace them. */
export interface LockOptions {
  /** The file system (default `node:fs`). */
  readonly fs?: LockFs;
  /** Where this process runs (default: read from the host, once per process). */
  readonly place?: LockPlace;
  /** How long a lock file that holds no complete record counts as one being written (default 3000 ms). */
  readonly partialGraceMs?: number;
  /** How often the holder renews its lock's modification time (default `RENEW_MS`). */
  readonly renewMs?: number;
  /** How long a lock of another container of this host may go unrenewed before it is stale (default `STALE_MS`). */
  readonly staleMs?: number;
  /** Told once when the start waits to see whether such a lock is renewed (for the log). */
  readonly onWait?: (message: string) => void;
}

/** How often a holder renews its lock (its modification time), ms. */
export const RENEW_MS = 5_000;

/**
 * How long a lock of another process-id namespace of this host and boot (a
 * container killed and started again gets a new one) may go unrenewed before
 * it counts as stale, ms: six renewals missed, so a server whose event loop
 * stalls for a while keeps its lock, and a restarted container waits at most
 * this long for its own lock instead of needing an operator.
 */
export const STALE_MS = 30_000;

/**
 * The lock's operations on `node:fs`, looked up at each call (not bound at import), so a test's module
 * mock of node:fs/promises reaches them.
 */
export const nodeLockFs: LockFs = {
  link: (existing, path) => nodeFs.link(existing, path),
  writeFile: (path, data, options) => nodeFs.writeFile(path, data, options),
  readFile: (path) => nodeFs.readFile(path, 'utf8'),
  unlink: (path) => nodeFs.unlink(path),
  mkdir: (path) => nodeFs.mkdir(path, { recursive: true }),
  realpath: (path) => nodeFs.realpath(path),
  mtimeMs: async (path) => (await nodeFs.stat(path)).mtimeMs,
  touch: async (path) => {
    const now = new Date();
    await nodeFs.utimes(path, now, now);
  },
};

const codeOf = (e: unknown): unknown => (e as { code?: unknown }).code;

/** Reads this process's {@link LockPlace}; what cannot be read (not Linux, /proc hidden) stays `undefined`. */
export const currentPlace = async (): Promise<LockPlace> => {
  const boot = (await nodeFs.readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => '')).trim();
  const pidns = await nodeFs.readlink('/proc/self/ns/pid').catch(() => '');
  return { host: hostname(), boot: boot === '' ? undefined : boot, pidns: pidns === '' ? undefined : pidns, bootedAt: Date.now() - uptime() * 1000 };
};
let placeHere: Promise<LockPlace> | undefined;

/** What a lock file says: a holder with its place, an older server's bare pid, or nothing complete. */
type LockRecord =
  | { readonly kind: 'current'; readonly pid: number; readonly place: LockPlace }
  | { readonly kind: 'legacy'; readonly pid: number }
  | { readonly kind: 'partial' };

/**
 * The record's text: JSON, so a file read half written never parses (a
 * prefix of an object is not one), and never reads as the bare pid of the
 * older format, which JSON's `{` cannot start.
 */
const recordText = (pid: number, place: LockPlace): string =>
  `${JSON.stringify({ pid, host: place.host, boot: place.boot ?? null, pidns: place.pidns ?? null, token: randomUUID() })}\n`;

const optionalString = (v: unknown): string | undefined | false => (v === null ? undefined : typeof v === 'string' ? v : false);

/** Decodes a lock file's text; what is not a whole record of either format is `partial`. */
const recordOf = (text: string): LockRecord => {
  // The format before host and namespace were recorded: the holder's pid alone.
  const bare = /^([0-9]{1,10})\n?$/.exec(text);
  if (bare !== null) return { kind: 'legacy', pid: Number(bare[1]) };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { kind: 'partial' };
  }
  if (typeof v !== 'object' || v === null) return { kind: 'partial' };
  const o = v as Record<string, unknown>;
  const boot = optionalString(o['boot']);
  const pidns = optionalString(o['pidns']);
  const pid = o['pid'];
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0 || typeof o['host'] !== 'string' || boot === false || pidns === false) {
    return { kind: 'partial' };
  }
  return { kind: 'current', pid, place: { host: o['host'], boot, pidns } };
};

/** Whether process `pid` of this namespace runs: signal 0 checks without sending anything (EPERM: it runs, as another user). */
const running = (pid: number): boolean => {
  // This process's own id: the lock of an earlier process of the same id (a restart as PID 1), gone.
  // (The locks this process holds never get here: `heldHere`.)
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return codeOf(e) === 'EPERM';
  }
};

/** How a lock file's holder stands, seen from `here`. */
type Verdict =
  | { readonly kind: 'held'; readonly why: string }
  | { readonly kind: 'stale'; readonly why: string }
  | { readonly kind: 'being-written' }
  | { readonly kind: 'unrenewed' };

/**
 * How the lock of a holder at `there` is judged from `here`: by its pid (the
 * same process-id space), as gone (this host before a reboot: no process
 * outlives its boot), by its renewals (another namespace of this boot: a
 * container's processes cannot be seen from the next one), or not at all
 * (another host). A boot id is drawn at random at every boot, so one shared
 * is this kernel's whatever the host name: a container recreated (Docker
 * names each new container's host after its id) is judged by renewals, not
 * refused as another host's until an operator deletes the lock.
 */
const placeRule = (there: LockPlace, here: LockPlace): 'pid' | 'earlier-boot' | 'renewals' | 'elsewhere' => {
  if (there.boot !== undefined && there.boot === here.boot && there.host !== here.host) return 'renewals';
  if (there.host !== here.host) return 'elsewhere';
  if (there.boot !== here.boot) return there.boot !== undefined && here.boot !== undefined ? 'earlier-boot' : 'elsewhere';
  return there.pidns === here.pidns ? 'pid' : 'renewals';
};

/**
 * `placeRule`, but a lock of another boot id modified since `staleMs` before
 * this host booted is judged by its renewals: a live machine of the same name
 * on a shared file system renews it every `RENEW_MS`, so its last renewal may
 * predate a boot seconds old (a server started at boot), while a lock of an
 * earlier boot of this host older than that is stale by renewals too.
 */
const ruleFor = (there: LockPlace, here: LockPlace, seen: LockSighting, staleMs: number): ReturnType<typeof placeRule> => {
  const rule = placeRule(there, here);
  return rule === 'earlier-boot' && here.bootedAt !== undefined && seen.ageMs < Date.now() - here.bootedAt + staleMs ? 'renewals' : rule;
};

/** What a judge knows of the lock file beyond its text. */
interface LockSighting {
  /** When this text was first seen, by this process's clock (`performance.now()`). */
  readonly since: number;
  /** Whether its modification time moved since this text was first seen: its holder renews it. */
  readonly renewed: boolean;
  /** How long ago it was last modified, ms (by the wall clock its holder renews it with). */
  readonly ageMs: number;
}

/**
 * The verdict on a lock file that holds `text`. Stale only when it is
 * provably so: its process is of this process-id space and no longer runs,
 * it was taken before this host's last boot, it is another container's of
 * this boot and went unrenewed for `staleMs`, or the file has held no
 * complete record for `graceMs`.
 */
const verdictOf = (text: string, path: string, here: LockPlace, seen: LockSighting, graceMs: number, staleMs: number): Verdict => {
  const r = recordOf(text);
  if (r.kind === 'partial') {
    // Created and not written yet (a file system without hard links creates it empty), or a server
    // killed as it wrote it: the first is done within milliseconds.
    if (performance.now() - seen.since < graceMs) return { kind: 'being-written' };
    return { kind: 'stale', why: 'a server killed as it started' };
  }
  const held = (where: string): Verdict => ({ kind: 'held', why: `in use by forum-server process ${r.pid}${where} (${path}); one server per data directory` });
  if (r.kind === 'legacy') {
    // An older forum-server's lock knows no place: judged as that server judged it (this machine's pids).
    if (running(r.pid)) return held('');
    return { kind: 'stale', why: `process ${r.pid}, which is no longer running (an older forum-server's lock, without host)` };
  }
  switch (ruleFor(r.place, here, seen, staleMs)) {
    case 'pid':
      if (running(r.pid)) return held('');
      return { kind: 'stale', why: `process ${r.pid}, which is no longer running` };
    case 'earlier-boot':
      return { kind: 'stale', why: `process ${r.pid} before this host restarted (boot id ${r.place.boot ?? 'unknown'}, now ${here.boot ?? 'unknown'})` };
    case 'renewals': {
      const where =
        r.place.boot !== here.boot
          ? ` of boot id ${r.place.boot ?? 'unknown'} (here ${here.boot ?? 'unknown'}) on a host named ${JSON.stringify(r.place.host)} too, modified since shortly before this host booted`
          : r.place.host === here.host
            ? ` in another container or process-id namespace of this host (${r.place.pidns ?? 'unknown'}, here ${here.pidns ?? 'unknown'})`
            : ` in another container of this host (host name ${JSON.stringify(r.place.host)}, boot id ${r.place.boot ?? 'unknown'})`;
      if (seen.renewed) return held(`${where}, which renews it`);
      // Unrenewed by its holder's clock, or for as long under watch here (a clock set back since it was written).
      const unrenewed = Math.max(seen.ageMs, performance.now() - seen.since);
      if (unrenewed >= staleMs) return { kind: 'stale', why: `process ${r.pid}${where}, unrenewed for ${Math.round(unrenewed / 1000)} s` };
      return { kind: 'unrenewed' };
    }
    case 'elsewhere':
      return {
        kind: 'held',
        why: `in use by forum-server process ${r.pid} on host ${JSON.stringify(r.place.host)} (${path}), which cannot be checked from here; one server per data directory. If no server runs there any more, delete ${path} and start again`,
      };
  }
};

// The locks this process holds (by the directory's real path). A lock file naming this process's id
// is taken for a stale one (a restart as the same pid), so a second server started in this process
// on the same directory would take it over, and the first one's stop delete it under the second.
const heldHere = new Set<string>();


/** The lock's file operations on one file system: create-whole and the judgement of what is found. */
interface Locker {
  readonly fs: LockFs;
  readonly here: LockPlace;
  readonly graceMs: number;
  readonly staleMs: number;
  readonly renewMs: number;
  readonly onWait: ((message: string) => void) | undefined;
  /** When each text was first seen and its modification time then, per file (the clocks of its grace and renewals). */
  readonly seen: Map<string, { readonly text: string; readonly since: number; readonly mtimeMs: number | undefined }>;
}

/**
 * Creates the file `path` holding `content`, whole or not at all, `false` if
 * it exists: `content` is written to a file of its own and linked to the
 * name, which fails if the name exists. (Created empty and written after, a
 * server starting beside it read the empty file as a dead server's, deleted it
 * and took the lock too: both held it in 5 of 10 starts side by side.) On a
 * file system without hard links, the name is created exclusively and the
 * content written into it; readers then take a file without a whole record
 * for one being written (`partialGraceMs`), not for a dead server's.
 */
const created = async (l: Locker, path: string, content: string): Promise<boolean> =>
  (await createWhole(l.fs, path, `${path}.${process.pid}.${randomUUID()}`, content, 0o644)).created;

/** The verdict on the file `path` holding `text` (its clocks kept in `l`). */
const judged = async (l: Locker, path: string, text: string): Promise<Verdict> => {
  const mtimeMs = await l.fs.mtimeMs(path).catch(() => undefined);
  const first = l.seen.get(path);
  const again = first !== undefined && first.text === text;
  const since = again ? first.since : performance.now();
  const firstMtime = again ? first.mtimeMs : mtimeMs;
  l.seen.set(path, { text, since, mtimeMs: firstMtime });
  const sighting: LockSighting = {
    since,
    renewed: mtimeMs !== undefined && firstMtime !== undefined && mtimeMs !== firstMtime,
    ageMs: mtimeMs === undefined ? 0 : Math.max(0, Date.now() - mtimeMs),
  };
  return verdictOf(text, path, l.here, sighting, l.graceMs, l.staleMs);
};

/**
 * Whether the takeover guard `guard`, found holding `text`, was left by a
 * takeover that never finished: its process is provably gone (judged as a
 * lock is), or it has been there `staleMs` (by its modification time, or as
 * long under watch here). A takeover holds its guard for milliseconds, and
 * a guard is never renewed: one of another container or host, or a record
 * cut short, would otherwise stop every start on the directory until an
 * operator deleted it. (Should its holder still be alive, frozen mid-takeover
 * that long, the lock it then deletes by name is the new holder's, which
 * notices and stops: `holding`.)
 */
const guardLeft = async (l: Locker, guard: string, text: string): Promise<string | undefined> => {
  const verdict = await judged(l, guard, text);
  if (verdict.kind === 'stale') return verdict.why;
  const mtimeMs = await l.fs.mtimeMs(guard).catch(() => undefined);
  const watched = performance.now() - (l.seen.get(guard)?.since ?? performance.now());
  const age = Math.max(mtimeMs === undefined ? 0 : Date.now() - mtimeMs, watched);
  return age >= l.staleMs ? `a takeover that did not finish within ${Math.round(age / 1000)} s` : undefined;
};

/**
 * Removes the stale lock whose text was `stale`, and only that one. Deleted
 * by name, a lock another server had meanwhile replaced went with it, and
 * both servers held the directory. So a takeover holds a guard of its own
 * (`LOCK.takeover`, created as the lock is): under it the lock can only be
 * the stale one (nobody else deletes it, and a name that exists cannot be
 * created again), and it is checked once more before it is deleted. A guard
 * found there is waited for while another takeover may be using it, and
 * deleted once left over (`guardLeft`; the log says so). `'waiting'`: another
 * takeover's guard is there (not counted against the caller's attempts:
 * bounded by `staleMs`).
 */
const removedStale = async (l: Locker, path: string, stale: string): Promise<{ readonly kind: 'done' | 'waiting' } | { readonly kind: 'guard-removed'; readonly why: string }> => {
  const guard = `${path}.takeover`;
  if (!(await created(l, guard, recordText(process.pid, l.here)))) {
    const text = await l.fs.readFile(guard).catch(() => undefined);
    if (text === undefined) return { kind: 'done' };
    const left = await guardLeft(l, guard, text);
    if (left !== undefined) {
      if ((await l.fs.readFile(guard).catch(() => undefined)) === text) await l.fs.unlink(guard).catch(() => undefined);
      return { kind: 'guard-removed', why: left };
    }
    // Another server is taking over: it is done within milliseconds.
    await delay(5);
    return { kind: 'waiting' };
  }
  try {
    if ((await l.fs.readFile(path).catch(() => undefined)) === stale) await l.fs.unlink(path).catch(() => undefined);
  } finally {
    await l.fs.unlink(guard).catch(() => undefined);
  }
  return { kind: 'done' };
};

/**
 * Takes the lock of data directory `dir` (creating the directory if needed).
 * Rejects with a readable error when a running process holds it, or one that
 * cannot be checked from here (another host, container or boot).
 */
export const lockDataDir = async (dir: string, options: LockOptions = {}): Promise<DataDirLock> => {
  const fs = options.fs ?? nodeLockFs;
  try {
    await fs.mkdir(dir);
  } catch (e) {
    // mkdir's own words for a file in the way ("EEXIST: file already exists, mkdir") name the wrong problem.
    if (codeOf(e) === 'EEXIST' || codeOf(e) === 'ENOTDIR') throw new Error('not a directory');
    throw e;
  }
  const path = join(dir, LOCK_FILE);
  const here = await fs.realpath(dir);
  if (heldHere.has(here)) throw new Error(`in use by a server of this process (${path}); one server per data directory`);
  // Held from here on, not only once taken: two starts in this process at once would otherwise both see
  // the other's fresh lock, naming this process, as stale.
  heldHere.add(here);
  try {
    const place = options.place ?? (await (placeHere ??= currentPlace()));
    return await takeLock({ fs, here: place, graceMs: options.partialGraceMs ?? 3000, staleMs: options.staleMs ?? STALE_MS, renewMs: options.renewMs ?? RENEW_MS, onWait: options.onWait, seen: new Map() }, path, here);
  } catch (e) {
    heldHere.delete(here);
    throw e;
  }
};

/** {@link lockDataDir}'s loop: the lock file of `dir` at `path` taken, or a readable refusal. */
const takeLock = async (l: Locker, path: string, dir: string): Promise<DataDirLock> => {
  let tookOver: string | undefined;
  let guardNote = '';
  let waited = false;
  const mine = recordText(process.pid, l.here);
  // A stale lock is removed and the lock taken again; servers starting together wait for each other's
  // takeover. A lock being written is waited for too, up to its grace (then it is stale), and another
  // container's up to STALE_MS for a renewal (then it is stale): the bound is on the attempts that found
  // something else.
  for (let attempt = 0; attempt < 200; ) {
    if (await created(l, path, mine)) return holding(l, path, dir, mine, tookOver);
    const text = await l.fs.readFile(path).catch(() => undefined);
    // Gone since the create failed (its server stopped, or another took it over): try again.
    if (text === undefined) {
      attempt++;
      continue;
    }
    const verdict = await judged(l, path, text);
    if (verdict.kind === 'held') throw new Error(verdict.why);
    if (verdict.kind === 'being-written') {
      await delay(20);
      continue;
    }
    if (verdict.kind === 'unrenewed') {
      if (!waited) l.onWait?.(`The data directory lock ${path} is another container's; waiting up to ${Math.round(l.staleMs / 1000)} s to see whether it is renewed`);
      waited = true;
      await delay(Math.min(500, l.renewMs / 4));
      continue;
    }
    tookOver = `Took over the data directory lock ${path}, left by ${verdict.why}${guardNote}`;
    const removed = await removedStale(l, path, text);
    if (removed.kind === 'waiting') continue;
    attempt++;
    if (removed.kind === 'guard-removed') {
      guardNote = ` (and its takeover guard ${path}.takeover, left by ${removed.why})`;
      tookOver += guardNote;
    }
  }
  throw new Error(`could not take ${path}: other servers are starting on it (if none is, delete ${path}.takeover)`);
};

/** Who a lock file's `text` names, for the error of a holder that lost it. */
const holderOf = (text: string): string => {
  const r = recordOf(text);
  switch (r.kind) {
    case 'current':
      return `forum-server process ${r.pid} on host ${JSON.stringify(r.place.host)} (boot id ${r.place.boot ?? 'unknown'}, pid namespace ${r.place.pidns ?? 'unknown'})`;
    case 'legacy':
      return `process ${r.pid} (an older forum-server's lock)`;
    case 'partial':
      return 'a record being written (another server taking the directory over)';
  }
};

/**
 * The lock `path` of `dir`, just created holding `mine`: renewed every
 * `renewMs` while it is ours, and checked before every write (`held`). Found
 * holding another's record, it is lost: another server judged it stale (this
 * one was frozen, its clock jumped, or a container went unrenewed for
 * `staleMs`) and may already be writing. Found deleted, it is lost too,
 * though nobody holds it now: another server may have held it meanwhile
 * (started and stopped while this one was frozen) and changed files this
 * one's cache still holds the old state of, which its next write would put
 * back. So it is created again, exclusively, only to keep a server starting
 * now from opening the directory (whose recovery would undo this one's
 * writes in flight) while those finish and the holder stops; `release`
 * deletes it. A file that cannot be read (EIO, EACCES) refuses the writes
 * meanwhile, and is lost once unread for `staleMs`: others may judge it stale
 * from then.
 */
const holding = (l: Locker, path: string, dir: string, mine: string, tookOver: string | undefined): DataDirLock => {
  const lost = new AbortController();
  let released = false;
  // When the file last read as ours, by this process's clock (see STALE_MS): the clock of an unreadable file.
  let verifiedAt = performance.now();
  const lose = (why: string): void => {
    clearInterval(renewal);
    lost.abort(new DataDirLockLostError(`lost the data directory lock ${path}: ${why}; this server stops so that two servers never write the directory`));
  };
  const verify = async (): Promise<boolean> => {
    if (released || lost.signal.aborted) return false;
    let text: string | undefined;
    try {
      text = await l.fs.readFile(path);
    } catch (e) {
      if (codeOf(e) !== 'ENOENT') {
        const unread = performance.now() - verifiedAt;
        if (unread >= l.staleMs && !lost.signal.aborted) lose(`it could not be read for ${Math.round(unread / 1000)} s (${e instanceof Error ? e.message : String(e)}), and other servers may judge it stale`);
        return false;
      }
    }
    if (released || lost.signal.aborted) return false;
    if (text === mine) {
      verifiedAt = performance.now();
      return true;
    }
    if (text !== undefined) {
      lose(`it now names ${holderOf(text)}, which took the directory over`);
      return false;
    }
    lose('the lock file was deleted while this server held it, and another server may have used the directory meanwhile');
    // Held again only while this one stops (see above); if another was quicker, it keeps it.
    await created(l, path, mine).catch(() => false);
    return false;
  };
  // Calls during a read share the next one, which starts after them: a write goes ahead only on a read begun after it asked.
  let current: Promise<boolean> | undefined;
  let next: Promise<boolean> | undefined;
  const held = (): Promise<boolean> => {
    if (current === undefined) {
      current = verify()
        .catch(() => false)
        .finally(() => {
          current = undefined;
        });
      return current;
    }
    next ??= current.then(() => {
      next = undefined;
      return held();
    });
    return next;
  };
  // Renewed while it is ours (see STALE_MS); the timer keeps no process alive.
  const renewal = setInterval(() => {
    void held().then(async (ours) => {
      if (ours) await l.fs.touch(path).catch(() => undefined);
    });
  }, l.renewMs);
  renewal.unref();
  return {
    tookOver,
    lost: lost.signal,
    held,
    release: async () => {
      if (released) return;
      released = true;
      clearInterval(renewal);
      // Only our own (and the one held again while stopping): a lock another server took over meanwhile stays.
      if ((await l.fs.readFile(path).catch(() => '')) === mine) await l.fs.unlink(path).catch(() => undefined);
      heldHere.delete(dir);
    },
  };
};
