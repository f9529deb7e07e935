/**
 * Tells when the data directory's disk stopped answering: a write of the
 * store's (its syncs) under way for longer than a limit. A hung fsync cannot
 * be given up (past the rename or in-place write the change is on its way to
 * disk whatever the store answers), so the write waits; but new ones would
 * queue behind it forever, so they are refused at once until it returns.
 */
import type { IoError } from '../store/errors.js';

/** Default of `FileStoreOptions.diskStallMs`: 30 s, far past a healthy disk's slowest sync under load. */
export const DEFAULT_DISK_STALL_MS = 30_000;

/** The store's writes to disk under way, by when each began. */
export class DiskWatch {
  // Insertion order is start order (the clock never goes back): the first entry is the oldest write.
  private readonly started = new Map<number, number>();
  private nextId = 0;

  constructor(
    private readonly clock: () => number,
    private readonly stallMs: number,
  ) {}

  /** Runs `work`, a write to disk, counted as under way until it settles. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    const id = this.nextId++;
    this.started.set(id, this.clock());
    try {
      return await work();
    } finally {
      this.started.delete(id);
    }
  }

  /** The error a new change is refused with while the oldest write under way has waited past the limit; `undefined` otherwise. */
  stalled(): IoError | undefined {
    const oldest = this.started.values().next();
    if (oldest.done === true) return undefined;
    const waited = this.clock() - oldest.value;
    if (waited <= this.stallMs) return undefined;
    return { kind: 'io', message: `the data directory's disk has not finished a write for ${Math.floor(waited / 1000)} s: changes are refused until it does (reads go on)` };
  }
}
