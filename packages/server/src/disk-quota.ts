import { readdir, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The answer to {@link DiskQuota.reserve}: a release function (`part`: release only that many bytes
 * of the reservation, as they land on disk; by default all that is left), or the line to refuse with.
 */
export type QuotaGrant = { readonly ok: true; readonly release: (part?: number) => void } | { readonly ok: false; readonly reason: string };

/** Bytes in the regular files directly inside `dir` (the data directory is flat). */
export const directoryBytes = async (dir: string): Promise<number> => {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isFile()) continue;
    // A file may vanish between readdir and stat (an RMV, a temp renamed): it then costs nothing.
    total += await stat(join(dir, entry.name)).then(
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

/** Default free space kept on the data directory's file system (`--min-free-bytes`): 1 GiB. */
export const DEFAULT_MIN_FREE_BYTES = 1024 ** 3;

/**
 * The data directory's disk limits: its quota (`--max-data-bytes`) and the
 * free space kept on its file system (`--min-free-bytes`), so that uploads,
 * from any number of accounts, never fill the disk the threads, the
 * credentials and their crash journal need. A reservation is released once
 * its bytes are on disk (counted there from then on) or will never be (an
 * upload aborted); an upload reserves ahead of its bytes piece by piece
 * (upload-reservation.ts), so it holds little more than what it has sent. Usage and free space are measured each time, so files removed by
 * RMV or added by hand are seen. Messages and new threads are not checked
 * here: the data-directory store bounds all thread files together
 * (`maxThreadBytes`, `--max-thread-bytes`).
 */
export class DiskQuota {
  private reserved = 0;
  /** Bytes of reservations released so far: one released while another upload measured was on neither side of its count. */
  private releasedTotal = 0;

  constructor(
    private readonly dir: string,
    /** Most bytes the data directory may hold; `undefined`: no quota. */
    private readonly maxBytes: number | undefined,
    /** Free bytes an upload must leave on the file system; 0: none. */
    private readonly minFreeBytes = 0,
    private readonly freeBytes: (dir: string) => Promise<number> = availableBytes,
  ) {}

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
      this.maxBytes === undefined ? 0 : directoryBytes(this.dir),
      this.minFreeBytes > 0 ? this.freeBytes(this.dir) : Number.POSITIVE_INFINITY,
    ]);
    // From here to the reservation nothing awaits: concurrent uploads each see the others' reservations.
    // An upload that ended while we measured may have been missed by the measurement and was dropped from
    // `reserved`: count its bytes as stored (and not free), which errs on the safe side.
    const releasedMeanwhile = this.releasedTotal - releasedBefore;
    const stored = measuredStored + releasedMeanwhile;
    const available = measuredAvailable - releasedMeanwhile;
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
    };
  }
}
