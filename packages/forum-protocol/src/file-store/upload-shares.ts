/**
 * What each account's uploads hold of the data directory (`FileStoreOptions.maxUserUploadBytes`, the server's
 * `--max-data-bytes-per-user`). The server's disk quota (`--max-data-bytes`) is the forum's, and only a
 * thread's creator may remove its uploads (RMV): one account uploading to threads of its own filled it, after
 * which every other user's upload was refused until it removed them (attack round 27, measured on PostgreSQL,
 * the same shape here). Counted per upload line's uploader, from the files' sizes: at open from the directory,
 * then as uploads commit and threads go.
 *
 * An upload in progress holds its announced size from its start (`reserve`), so that two uploads of one
 * account at once, however many connections, never pass the share together: the check and the hold are one
 * synchronous step, as the other shares' are, and no await comes between them.
 */
import type { HostLevel } from '../limits/host-of.js';
import type { UploadStorageFullError } from '../store/errors.js';
import { levelPassed } from '../store/origin-shares.js';

/** One upload file counted for its uploader. */
interface Counted {
  readonly account: string;
  readonly bytes: number;
}

// A thread's upload is named by its thread and file name: a directory name may be claimed by two threads of
// hand-written files ("a-b" + "c" and "a" + "b-c"), each line counted for its own uploader.
const keyOf = (title: string, filename: string): string => `${title}\u0000${filename}`;

const addTo = (held: Map<string, number>, key: string, bytes: number): void => {
  const next = (held.get(key) ?? 0) + bytes;
  if (next === 0) held.delete(key);
  else held.set(key, next);
};

/** Each account's upload bytes, stored and reserved, and each origin level's (store/origin-shares.ts): its accounts' together. */
export class UploadShares {
  private readonly held = new Map<string, number>();
  private readonly byLevel = new Map<string, number>();
  private readonly files = new Map<string, Counted>();

  /** `levelsOf`: the levels of the origin an account records (`originLevels`), none if it has none (an account's never changes once it has one). */
  constructor(private readonly levelsOf: (account: string) => readonly HostLevel[] = () => []) {}

  /** Bytes `account`'s uploads hold: its stored files and the announced sizes of its uploads in progress. */
  of(account: string): number {
    return this.held.get(account) ?? 0;
  }

  /** Bytes the uploads of the accounts of origin level `key` (an origin, a /56, a /48) hold together. */
  ofLevel(key: string): number {
    return this.byLevel.get(key) ?? 0;
  }

  /**
   * Holds `bytes` more of `account`'s share if they fit in `limit` (no limit: always), and in
   * `originLimit`, its origin's accounts' together, and in that times each wider level's multiple, its /56's
   * and /48's accounts' (none, or no origin: always), else the refusal (`uploadStorageFull`, `who: 'account'`
   * or `'origin'` (`network` for a wider level), with what is left and the file's size). `bytes` 0 always fits.
   */
  reserve(account: string, bytes: number, limit: number | undefined, size = bytes, originLimit?: number): UploadStorageFullError | undefined {
    const mine = this.of(account);
    if (limit !== undefined && bytes > 0 && mine + bytes > limit) {
      return { kind: 'uploadStorageFull', limit, who: 'account', announced: { free: Math.max(0, limit - mine), size } };
    }
    const passed = levelPassed(this.levelsOf(account), (key) => this.ofLevel(key), bytes, originLimit);
    if (passed !== undefined) {
      return { kind: 'uploadStorageFull', limit: passed.limit, who: 'origin', ...(passed.network ? { network: true } : {}), announced: { free: Math.max(0, passed.limit - passed.held), size } };
    }
    this.add(account, bytes);
    return undefined;
  }

  /** Counts what `account`'s uploads hold already for its origin, just recorded (as `AccountShares.joined`). */
  joined(account: string): void {
    for (const level of this.levelsOf(account)) addTo(this.byLevel, level.key, this.of(account));
  }

  /** Lets go of `bytes` held by {@link reserve} (an upload that ended without its file, or became {@link stored}). */
  release(account: string, bytes: number): void {
    this.add(account, -bytes);
  }

  /** Counts upload `filename` of thread `title`, `bytes` on disk, for `account` (at open, or as it commits, its reservation released). */
  stored(title: string, filename: string, account: string, bytes: number): void {
    const key = keyOf(title, filename);
    if (this.files.has(key)) return;
    this.files.set(key, { account, bytes });
    this.add(account, bytes);
  }

  /** Gives back what upload `filename` of removed thread `title` held (RMV). */
  removed(title: string, filename: string): void {
    const key = keyOf(title, filename);
    const counted = this.files.get(key);
    if (counted === undefined) return;
    this.files.delete(key);
    this.add(counted.account, -counted.bytes);
  }

  private add(account: string, bytes: number): void {
    addTo(this.held, account, bytes);
    for (const level of this.levelsOf(account)) addTo(this.byLevel, level.key, bytes);
  }
}
