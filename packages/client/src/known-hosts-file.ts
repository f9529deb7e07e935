/**
 * The client's known-hosts file on disk (per user; `--known-hosts FILE` to
 * choose another), and the SSH-like decision on a server's identity key:
 * first contact prints the fingerprint and records it; a changed key refuses.
 */
import { appendKnownHost, changedKeyMessage, checkHostKey, firstContactMessage, parseKnownHosts, type KnownHosts } from 'forum-protocol';
import { appendFile, mkdir, open, stat, unlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fingerprint, nodeCryptoProvider } from 'rudpx';
import { errorCode } from './error-code.js';

/** The default file: `~/.forum-client/known_hosts`. */
export const defaultKnownHostsPath = (): string => join(homedir(), '.forum-client', 'known_hosts');

/**
 * The largest known-hosts file read: some 7,000 servers' lines (about 150 bytes each). It is read whole
 * up to three times a start (the pin before connecting, the trust decision, again under the lock on a
 * first contact); before this limit a 300 MiB one took the client to 3,184 MiB resident and 79 s (attack
 * round 11, attack/known-hosts-abuse.ts huge), even 15 MiB cost 286 MiB and 3.4 s, and
 * `--known-hosts /dev/zero` had no end.
 */
export const KNOWN_HOSTS_MAX_BYTES = 1024 * 1024;

/** Why a known-hosts file is not read: larger than {@link KNOWN_HOSTS_MAX_BYTES}. */
export class KnownHostsTooLargeError extends Error {
  override readonly name = 'KnownHostsTooLargeError';
  readonly code = 'EFBIG';
}

/** The file's bytes, or a {@link KnownHostsTooLargeError} past the limit (read through one handle: no size to trust first). */
const readBounded = async (path: string): Promise<Buffer> => {
  const handle = await open(path, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const { bytesRead, buffer } = await handle.read(Buffer.alloc(64 * 1024), 0, 64 * 1024, null);
      if (bytesRead === 0) return Buffer.concat(chunks, total);
      total += bytesRead;
      if (total > KNOWN_HOSTS_MAX_BYTES) throw new KnownHostsTooLargeError(`it is larger than the ${KNOWN_HOSTS_MAX_BYTES / 2 ** 20} MiB a known-hosts file may be (delete the lines of servers no longer used)`);
      chunks.push(buffer.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
};

/** Reads the file; a missing file is an empty one. Rejects on a real read error (permissions…) or a file too large. */
export const loadKnownHosts = async (path: string): Promise<{ readonly text: string; readonly hosts: KnownHosts }> => {
  let text = '';
  try {
    text = (await readBounded(path)).toString('utf8');
  } catch (e) {
    if (errorCode(e) !== 'ENOENT') throw e;
  }
  return { text, hosts: parseKnownHosts(text) };
};

/**
 * The warnings for a file's damaged lines: the first ten one by one, then how many more. Each was a
 * line: a million damaged lines were a million warnings (108 MiB of them) at every start, and 1 GiB of memory.
 */
const damagedWarnings = (path: string, hosts: KnownHosts): readonly string[] => [
  ...hosts.problems.map((p) => `Warning: ${path} ${p}; the line is skipped`),
  ...(hosts.unlisted > 0 ? [`Warning: ${path} has ${hosts.unlisted} more lines that cannot be read; they are skipped too`] : []),
];

/** The decision on a server's key: go on (after printing `lines`), or refuse (printing `lines`). */
export type ServerTrust = { readonly ok: boolean; readonly lines: readonly string[] };

/** How long a first contact waits for another client's (held for milliseconds) before appending unlocked. */
export const KNOWN_HOSTS_LOCK_WAIT_MS = 2000;
/** How often a first contact tries again for a lock another client holds, ms. */
export const KNOWN_HOSTS_LOCK_POLL_MS = 10;
/** A lock file older than this is a client's killed while it held it: deleted. */
export const KNOWN_HOSTS_LOCK_STALE_MS = 10_000;

/** How long ago `path` was last modified, ms; 0 if it cannot be read (gone). */
const ageOf = (path: string): Promise<number> =>
  stat(path).then(
    (s) => Date.now() - s.mtimeMs,
    () => 0,
  );

/**
 * Deletes `lock` if it is still stale, under `LOCK.takeover` (created
 * exclusively). Deleted by name alone, a lock another client had created
 * in place of the stale one meanwhile went too, and both clients appended (7
 * of 100 rounds of 8 first contacts on a stale lock). Under the guard the
 * lock can only be the stale one: nobody else deletes it, and its own client
 * is gone. A guard left by a client killed while holding it (for
 * microseconds) is deleted once stale.
 */
const removeStaleLock = async (lock: string): Promise<void> => {
  const guard = `${lock}.takeover`;
  try {
    await writeFile(guard, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
  } catch {
    if ((await ageOf(guard)) > KNOWN_HOSTS_LOCK_STALE_MS) await unlink(guard).catch(() => undefined);
    else await delay(1);
    return;
  }
  try {
    if ((await ageOf(lock)) > KNOWN_HOSTS_LOCK_STALE_MS) await unlink(lock).catch(() => undefined);
  } finally {
    await unlink(guard).catch(() => undefined);
  }
};

/**
 * Takes `FILE.lock` (created exclusively, naming this process): resolves with
 * its release, or with why it could not be had within `waitMs` (by default
 * {@link KNOWN_HOSTS_LOCK_WAIT_MS}; the caller then appends without it).
 */
const lockKnownHosts = async (path: string, pollMs: number, waitMs: number): Promise<{ readonly release: () => Promise<void> } | { readonly problem: string }> => {
  const lock = `${path}.lock`;
  const deadline = performance.now() + waitMs;
  for (;;) {
    try {
      await writeFile(lock, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return { release: () => unlink(lock).catch(() => undefined) };
    } catch (e) {
      if (errorCode(e) !== 'EEXIST') return { problem: `could not lock ${lock}: ${e instanceof Error ? e.message : String(e)}` };
    }
    if (performance.now() >= deadline) return { problem: `${lock} stayed locked for ${waitMs / 1000} s (delete it if no forum-client is starting)` };
    if ((await ageOf(lock)) > KNOWN_HOSTS_LOCK_STALE_MS) await removeStaleLock(lock);
    else await delay(pollMs);
  }
};

/** How a first contact waits for the known-hosts lock: the defaults but in tests. */
export interface LockWait {
  /**
   * How often a client waiting for the lock tries again, ms (default {@link KNOWN_HOSTS_LOCK_POLL_MS}): a test of
   * 100 rounds of 8 clients at once waited out 10 s of the default's polls.
   */
  readonly pollMs?: number;
  /**
   * How long it waits before appending without the lock, ms (default {@link KNOWN_HOSTS_LOCK_WAIT_MS}): a test of
   * many clients at once whose last one waits out the others' turns (over 1.3 s at load 10 on 2 cores) would
   * otherwise, past it, append a second key as the race it looks for does.
   */
  readonly waitMs?: number;
}

/**
 * Decides whether to trust `offered`, the key the server at `id` proved it
 * holds, and records it on first contact (directory 0700, file 0600). The
 * record is checked again and appended under `FILE.lock`, so clients meeting
 * the server at once write one line, and one that was offered another key
 * than the one just recorded is refused as a changed key. `wait`, for tests
 * only: how the lock is waited for.
 */
export const trustServerKey = async (path: string, id: string, offered: Uint8Array, wait: LockWait = {}): Promise<ServerTrust> => {
  const { text, hosts } = await loadKnownHosts(path);
  const fp = (key: Uint8Array): string => fingerprint(nodeCryptoProvider, key);
  // Said every time: a damaged line may be this server's pin, which then reads as a first contact.
  const damaged = damagedWarnings(path, hosts);
  const check = checkHostKey(hosts, id, offered);
  if (check.kind === 'trusted') return { ok: true, lines: damaged };
  if (check.kind === 'changed') return { ok: false, lines: [...damaged, ...changedKeyMessage(id, fp(check.known), fp(offered), path)] };
  const lines = [...damaged, ...firstContactMessage(id, fp(offered), path)];
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  } catch (e) {
    lines.push(`Warning: could not record it in ${path}: ${e instanceof Error ? e.message : String(e)}`);
    return { ok: true, lines };
  }
  const lock = await lockKnownHosts(path, wait.pollMs ?? KNOWN_HOSTS_LOCK_POLL_MS, wait.waitMs ?? KNOWN_HOSTS_LOCK_WAIT_MS);
  if ('problem' in lock) lines.push(`Warning: ${lock.problem}`);
  try {
    // Read again under the lock: another client may have recorded this server since.
    const now = 'release' in lock ? await loadKnownHosts(path) : { text, hosts };
    const again = checkHostKey(now.hosts, id, offered);
    if (again.kind === 'trusted') return { ok: true, lines };
    if (again.kind === 'changed') return { ok: false, lines: [...damaged, ...changedKeyMessage(id, fp(again.known), fp(offered), path)] };
    // Appended, not rewritten from the text read: bytes that are not UTF-8 stay as they were (a rewrite
    // turned them into U+FFFD), and a line another client added since is not lost.
    await appendFile(path, appendKnownHost(now.text, id, offered).slice(now.text.length), { mode: 0o600 });
  } catch (e) {
    lines.push(`Warning: could not record it in ${path}: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    if ('release' in lock) await lock.release();
  }
  return { ok: true, lines };
};
