/** What a data-directory lock file records: who holds it and where that process id means something. */
import { randomUUID } from 'node:crypto';
import * as nodeFs from 'node:fs/promises';
import { hostname, uptime } from 'node:os';

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

/** Reads this process's {@link LockPlace}; what cannot be read (not Linux, /proc hidden) stays `undefined`. */
export const currentPlace = async (): Promise<LockPlace> => {
  const boot = (await nodeFs.readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => '')).trim();
  const pidns = await nodeFs.readlink('/proc/self/ns/pid').catch(() => '');
  return { host: hostname(), boot: boot === '' ? undefined : boot, pidns: pidns === '' ? undefined : pidns, bootedAt: Date.now() - uptime() * 1000 };
};
/** What a lock file says: a holder with its place, an older server's bare pid, or nothing complete. */
export type LockRecord =
  | { readonly kind: 'current'; readonly pid: number; readonly place: LockPlace }
  | { readonly kind: 'legacy'; readonly pid: number }
  | { readonly kind: 'partial' };

/**
 * The record's text: JSON, so a file read half written never parses (a
 * prefix of an object is not one), and never reads as the bare pid of the
 * older format, which JSON's `{` cannot start.
 */
export const recordText = (pid: number, place: LockPlace): string =>
  `${JSON.stringify({ pid, host: place.host, boot: place.boot ?? null, pidns: place.pidns ?? null, token: randomUUID() })}\n`;

const optionalString = (v: unknown): string | undefined | false => (v === null ? undefined : typeof v === 'string' ? v : false);

/** Decodes a lock file's text; what is not a whole record of either format is `partial`. */
export const recordOf = (text: string): LockRecord => {
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

/** Who a lock file's `text` names, for the error of a holder that lost it. */
export const holderOf = (text: string): string => {
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
