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
import type { UploadStorageFullError } from '../store/errors.js';

/** One upload file counted for its uploader. */
interface Counted {
  readonly account: string;
  readonly bytes: number;
}

// A thread's upload is named by its thread and file name: a directory name may be claimed by two threads of
// hand-written files ("a-b" + "c" and "a" + "b-c"), each line counted for its own uploader.
const keyOf = (title: string, filename: string): string => `${title}\u0000${filename}`;

/** Each account's upload bytes, stored and reserved. */
export class UploadShares {
  private readonly held = new Map<string, number>();
  private readonly files = new Map<string, Counted>();

  /** Bytes `account`'s uploads hold: its stored files and the announced sizes of its uploads in progress. */
  of(account: string): number {
    return this.held.get(account) ?? 0;
  }

  /**
   * Holds `bytes` more of `account`'s share if they fit in `limit` (no limit: always), else the refusal
   * (`uploadStorageFull`, `who: 'account'`, with what is left and the file's size). `bytes` 0 always fits.
   */
  reserve(account: string, bytes: number, limit: number | undefined, size = bytes): UploadStorageFullError | undefined {
    const mine = this.of(account);
    if (limit !== undefined && bytes > 0 && mine + bytes > limit) {
      return { kind: 'uploadStorageFull', limit, who: 'account', announced: { free: Math.max(0, limit - mine), size } };
    }
    this.add(account, bytes);
    return undefined;
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
    const next = this.of(account) + bytes;
    if (next === 0) this.held.delete(account);
    else this.held.set(account, next);
  }
}
