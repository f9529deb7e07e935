import type { Sql } from 'postgres';
import { MIN_CACHED_BYTES } from '../protocol/encoded-lines-cache.js';
import type { Thread } from '../store/thread.js';

/** The thread row's identity and version: `id` (a thread made again is a new row) and `xmin`, the transaction that last wrote it. */
interface RowVersion {
  readonly id: string;
  readonly version: string;
}

interface Kept extends RowVersion {
  readonly thread: Thread;
  /** What it counts against the bound: its reply's bytes and {@link ENTRY_HEAP_BYTES} a line. */
  readonly weight: number;
}

/** Most bytes the threads kept may count together (their replies' bytes and their lines): a few full threads (4 MiB each at most). */
export const RECENT_THREAD_BYTES = 16 * 1024 * 1024;

/**
 * What a kept thread's line costs in memory apart from its text (an entry object, its strings, its
 * slot: about 60 bytes measured at the line limit's scale, the 95 of attack round 25's small runs being
 * one-off heap spread thin; 96 kept as the bound). Counted by reply bytes alone, threads of one-character
 * lines (some 13 bytes of reply a line) kept about 8 times the bound in the heap.
 */
export const ENTRY_HEAP_BYTES = 96;

/**
 * The large threads this server read whole lately, each with its row's
 * version, so that an RDT of a thread nobody changed since returns the same
 * {@link Thread} value, and the encoded lines cached for that value
 * (encoded-lines-cache.ts) serve it: one lookup of the row instead of
 * reading and encoding every line. Before, each RDT built a new value from
 * the database and the cache never hit with PostgreSQL: accounts on two
 * servers reading a 3.9 MiB thread kept both servers and the database busy
 * (attack round 12). Every change to a thread's lines writes its row in the
 * same transaction (the size kept there; a server that does not is refused
 * by schema 4's fence), so the row's `xmin` changes with them, whichever
 * server writes; a removed and remade thread is another `id`.
 */
export class RecentThreads {
  private readonly byTitle = new Map<string, Kept>();
  private held = 0;

  constructor(private readonly maxBytes = RECENT_THREAD_BYTES) {}

  /** Whether a thread of `title` is kept (only then is its row's version worth asking for first). */
  has(title: string): boolean {
    return this.byTitle.has(title);
  }

  /** The thread kept for `title` if its row is still at `row`'s version, else `undefined` (and it is dropped). */
  get(title: string, row: RowVersion | undefined): Thread | undefined {
    const kept = this.byTitle.get(title);
    if (kept === undefined) return undefined;
    if (row === undefined || kept.id !== row.id || kept.version !== row.version) {
      this.drop(title, kept);
      return undefined;
    }
    // Most recently used last.
    this.byTitle.delete(title);
    this.byTitle.set(title, kept);
    return kept.thread;
  }

  /** Keeps `thread`, read at `row`'s version, if its reply is large enough to be worth it (`bytes`: its reply size). */
  set(row: RowVersion, thread: Thread, bytes: number): void {
    const old = this.byTitle.get(thread.title);
    if (old !== undefined) this.drop(thread.title, old);
    const weight = bytes + thread.entries.length * ENTRY_HEAP_BYTES;
    if (bytes < MIN_CACHED_BYTES || weight > this.maxBytes) return;
    while (this.held + weight > this.maxBytes) {
      const first = this.byTitle.entries().next();
      if (first.done === true) break;
      this.drop(first.value[0], first.value[1]);
    }
    this.byTitle.set(thread.title, { ...row, thread, weight });
    this.held += weight;
  }

  private drop(title: string, kept: Kept): void {
    this.byTitle.delete(title);
    this.held -= kept.weight;
  }
}

/** The version of thread `title`'s row, or `undefined` if there is no such thread. */
export const threadRowVersion = async (sql: Sql, title: string): Promise<RowVersion | undefined> => {
  const rows = await sql<{ id: string; version: string }[]>`SELECT id::text AS id, xmin::text AS version FROM threads WHERE title = ${title}`;
  return rows[0];
};
