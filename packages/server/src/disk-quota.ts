import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** The answer to {@link DiskQuota.reserve}: a release function, or the line to refuse with. */
export type QuotaGrant = { readonly ok: true; readonly release: () => void } | { readonly ok: false; readonly reason: string };

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

/**
 * The data directory's disk quota (`--max-data-bytes`). An upload reserves
 * its announced size before its first byte is stored; the reservation is
 * released when the upload ends (committed: the file is then counted on
 * disk; aborted: nothing stays). Usage is measured from the directory each
 * time, so files removed by RMV or added by hand are seen. Messages and new
 * threads are not checked here: their size is bounded per request
 * (limits.ts) and by the login and account limits.
 */
export class DiskQuota {
  private reserved = 0;

  constructor(
    private readonly dir: string,
    /** Most bytes the data directory may hold; `undefined`: no quota. */
    private readonly maxBytes: number | undefined,
  ) {}

  /** Reserves `bytes` for an upload, or says why it does not fit. */
  async reserve(bytes: number): Promise<QuotaGrant> {
    if (this.maxBytes === undefined) return { ok: true, release: () => undefined };
    const used = (await directoryBytes(this.dir)) + this.reserved;
    if (used + bytes > this.maxBytes) {
      return { ok: false, reason: `disk quota exceeded: the server stores at most ${this.maxBytes} bytes, ${Math.max(0, this.maxBytes - used)} are free, this file has ${bytes}` };
    }
    this.reserved += bytes;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.reserved -= bytes;
      },
    };
  }
}
