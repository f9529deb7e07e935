import { readdir, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The answer to {@link DiskQuota.reserve}: a release function (`part`: release only that many bytes
 * of the reservation, as they land on disk, where they are counted from then on; by default all that
 * is left) and a cancel function (what is left will never be on disk: dropped, not counted as stored),
 * or the line to refuse with.
 */
export type QuotaGrant =
  | { readonly ok: true; readonly release: (part?: number) => void; readonly cancel: () => void }
  | { readonly ok: false; readonly reason: string };

/** Bytes in the regular files directly inside `dir` (the data directory is flat). */
export const directoryBytes = async (dir: string): Promise<number> => {
  let total = 0;
  // Names as bytes: a name that is not UTF-8, read as a string, came back with U+FFFD, and its stat found nothing.
  const prefix = Buffer.from(join(dir, '/'));
  for (const entry of await readdir(dir, { withFileTypes: true, encoding: 'buffer' })) {
    if (!entry.isFile()) continue;
    // A file may vanish between readdir and stat (an RMV, a temp renamed): it then costs nothing.
    total += await stat(Buffer.concat([prefix, entry.name])).then(
      (s) => s.size,
      () => 0,
    );
  }
  return total;
};

/** Bytes the file system holding `dir` has free for an unprivileged writer. */
export const availableBytes = async (dir: string): Promise<number> => {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
};

/**
 * A measurement of the directory is reused for this many times as long as it took: the quota's
 * `stat` per file made an upload's cost grow with the files clients made (attack round 5: with
 * 20,000 thread files, 836 ms of server CPU per 1,000-byte upload and 70% of a core for one
 * account's 4 uploads at a time), so measuring now takes at most about a tenth of the time,
 * whatever the directory holds; a small directory (a millisecond to measure) is measured again
 * after some 10 ms, about as often as before.
 */
export const MEASUREMENT_REUSE_FACTOR = 10;

/** One measurement of the directory's bytes, shared by the reservations that overlap it or follow soon after. */
interface Usage {
  /** The bytes measured, `releasedTotal` when the measurement started and `removedTotal` when it ended. */
  readonly result: Promise<{ readonly bytes: number; readonly releasedBefore: number; readonly removedBefore: number }>;
  /** When the measurement ended and how long it took, once it has. */
  ended?: { readonly at: number; readonly tookMs: number };
}

/** Default free space kept on the data directory's file system (`--min-free-bytes`): 1 GiB. */
export const DEFAULT_MIN_FREE_BYTES = 1024 ** 3;

/**
 * The data directory's disk limits: its quota (`--max-data-bytes`) and the
 * free space kept on its file system (`--min-free-bytes`), so that uploads,
 * from any number of accounts, never fill the disk the threads, the
 * credentials and their crash journal need. A reservation is released once
 * its bytes are on disk (counted there from then on) or will never be (an
 * upload aborted); an upload reserves ahead of its bytes piece by piece
 * (upload-reservation.ts), so it holds little more than what it has sent. Free space is measured each time; the directory's usage
 * (a `stat` per file) is measured at most about a tenth of the time ({@link MEASUREMENT_REUSE_FACTOR}): upload files
 * RMV deletes are counted off at once ({@link DiskQuota.uploadsRemoved}), files added or removed by hand are seen at the next measurement. Messages and new threads are not checked
 * here: the data-directory store bounds all thread files together
 * (`maxThreadBytes`, `--max-thread-bytes`).
 */
export class DiskQuota {
  private reserved = 0;
  /** Bytes of reservations released so far: one released while another upload measured was on neither side of its count. */
  private releasedTotal = 0;
  /** Bytes of upload files RMV deleted so far ({@link uploadsRemoved}). */
  private removedTotal = 0;
  private usage: Usage | undefined;

  constructor(
    private readonly dir: string,
    /** Most bytes the data directory may hold; `undefined`: no quota. */
    private readonly maxBytes: number | undefined,
    /** Free bytes an upload must leave on the file system; 0: none. */
    private readonly minFreeBytes = 0,
    private readonly freeBytes: (dir: string) => Promise<number> = availableBytes,
    /** Bytes the directory holds (a seam for tests: the walk's count and duration). */
    private readonly storedBytes: (dir: string) => Promise<number> = directoryBytes,
    /** Milliseconds, for how long a walk took and how old it is. */
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /**
   * The directory's bytes as measured by a measurement under way or one recent enough
   * ({@link MEASUREMENT_REUSE_FACTOR}), else a new one. Reuse errs on the safe side for what
   * uploads do: bytes released since the measurement started are added to it (reserve), and
   * upload files RMV deleted after it ended are taken off (those deleted while it ran stay
   * counted); only files written or deleted by other means since (thread growth, which
   * `--max-thread-bytes` bounds; files added or deleted by hand) are missed until the next.
   */
  private measureStored(): Usage['result'] {
    const last = this.usage;
    const now = this.clock();
    if (last !== undefined && (last.ended === undefined || now - last.ended.at <= MEASUREMENT_REUSE_FACTOR * last.ended.tookMs)) return last.result;
    const releasedBefore = this.releasedTotal;
    const usage: Usage = {
      result: this.storedBytes(this.dir).then(
        (bytes) => {
          const at = this.clock();
          usage.ended = { at, tookMs: at - now };
          return { bytes, releasedBefore, removedBefore: this.removedTotal };
        },
        (e: unknown) => {
          if (this.usage === usage) this.usage = undefined;
          throw e;
        },
      ),
    };
    this.usage = usage;
    return usage.result;
  }

  /**
   * An upload file of `bytes` is about to be deleted (RMV), told before its unlink; negative `bytes`
   * take back a deletion that failed. A measurement that ended before the call counted the file and
   * counts it off, so the room comes back at once rather than at the next measurement (up to some
   * seconds later in a directory of many files, {@link MEASUREMENT_REUSE_FACTOR}); one that ended
   * after keeps it (it may or may not have seen it: the safe side).
   */
  uploadsRemoved(bytes: number): void {
    this.removedTotal += bytes;
  }

  /** The free bytes and the floor, when already under it (every upload would be refused); `undefined` otherwise or when unknown. */
  async freeUnderFloor(): Promise<{ readonly free: number; readonly floor: number } | undefined> {
    if (this.minFreeBytes === 0) return undefined;
    const free = await this.freeBytes(this.dir).catch(() => undefined);
    return free !== undefined && free < this.minFreeBytes ? { free, floor: this.minFreeBytes } : undefined;
  }

  /**
   * Checks that `bytes` fit now and reserves `hold` of them (all by default), or says why not;
   * `subject` ends the refusal's line (`this file has N` by default).
   */
  async reserve(bytes: number, hold = bytes, subject = `this file has ${bytes}`): Promise<QuotaGrant> {
    const releasedBefore = this.releasedTotal;
    const [measuredStored, measuredAvailable] = await Promise.all([
      this.maxBytes === undefined ? undefined : this.measureStored(),
      this.minFreeBytes > 0 ? this.freeBytes(this.dir) : Number.POSITIVE_INFINITY,
    ]);
    // From here to the reservation nothing awaits: concurrent uploads each see the others' reservations.
    // An upload that ended since a measurement started may have been missed by it and was dropped from
    // `reserved`: count its bytes as stored (and not free), which errs on the safe side.
    // Files removed since the measurement ended were in its count: taken off. One removed while it ran
    // may or may not have been, so it stays counted (the safe side) until the next measurement.
    const stored =
      measuredStored === undefined
        ? 0
        : Math.max(0, measuredStored.bytes + (this.releasedTotal - measuredStored.releasedBefore) - (this.removedTotal - measuredStored.removedBefore));
    const available = measuredAvailable - (this.releasedTotal - releasedBefore);
    if (this.maxBytes !== undefined) {
      const used = stored + this.reserved;
      if (used + bytes > this.maxBytes) {
        return { ok: false, reason: `disk quota exceeded: the server stores at most ${this.maxBytes} bytes, ${Math.max(0, this.maxBytes - used)} are free, ${subject}` };
      }
    }
    // Reservations are released as their bytes land (upload-reservation.ts); bytes written but not yet
    // released are counted twice, on disk and reserved, which errs on the safe side.
    const free = available - this.reserved;
    if (free - bytes < this.minFreeBytes) {
      return { ok: false, reason: `disk nearly full: the server keeps ${this.minFreeBytes} bytes free, ${Math.max(0, free - this.minFreeBytes)} can be used, ${subject}` };
    }
    this.reserved += hold;
    let left = hold;
    return {
      ok: true,
      release: (part = left) => {
        const bytes = Math.min(Math.max(0, part), left);
        left -= bytes;
        this.reserved -= bytes;
        this.releasedTotal += bytes;
      },
      // Released instead, they were counted as stored until the next measurement: the room of an upload
      // stopped early (RMV, a sender gone) came back only then, up to 10 × a walk's time later.
      cancel: () => {
        this.reserved -= left;
        left = 0;
      },
    };
  }
}
