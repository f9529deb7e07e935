import { defaultMaxThreadLines } from 'forum-protocol';
/**
 * The server's global memory budget (`--memory-budget-mib`): while the
 * process's resident set is above it, a new rudp connection takes the place
 * of the oldest one not logged in (login-room.ts) or is refused if there is
 * none, and new TCP connections are refused, so connections already served
 * keep working instead of the whole process running out of memory. Existing
 * connections are bounded one by one (see client-connection.ts); this bounds
 * how many there can be.
 *
 * Over the budget, rudp connections are held at the number there were when it
 * was found exceeded, not refused outright: a newcomer is welcome in the place
 * of any connection gone since. The resident set lags frees (the heap keeps
 * its pages and the allocator its chunks, for reuse), so after an attack it
 * stayed over the budget with the attacker's connections long closed
 * (measured: 8 hosts × 256 connections against a 100 MiB budget, 129 MiB
 * resident, 37 MiB of heap and buffers in use, unchanged 15, 30 and 45 s
 * later, every login refused meanwhile). Holding the count bounds memory as
 * well (each connection is bounded) without waiting for the system to get
 * the pages back.
 */
export class MemoryBudget {
  constructor(
    /** Most resident bytes; `undefined`: no budget. */
    readonly maxRssBytes: number | undefined,
    private readonly rss: () => number = () => process.memoryUsage.rss(),
  ) {}

  /** Connections held when the budget was found exceeded; `undefined` while within it. */
  private heldAtBudget: number | undefined;
  /** The last resident set read. */
  private lastRss = 0;

  /**
   * The resident set now, or the last one read when it cannot be read: Node reads it through a file
   * (`/proc/self/stat`), so at the descriptor limit it throws `EMFILE`, and thrown from a new
   * connection's admission it ended the process (attack round 5: a leak of download descriptors).
   */
  private readRss(): number {
    try {
      this.lastRss = this.rss();
    } catch {
      // The last reading stands; refusing for want of a descriptor would not help UDP connections, which need none.
    }
    return this.lastRss;
  }

  /**
   * Why a data directory whose threads fill `maxThreadBytes` would put the
   * server over this budget (the store keeps every thread in memory, and past
   * the budget every new connection is refused), or `undefined` if it fits.
   */
  threadsMayExceed(maxThreadBytes: number): string | undefined {
    if (this.maxRssBytes === undefined) return undefined;
    // The store's line limit (its default, which the server does not change) bounds what lines cost apart from their bytes.
    const maxThreadLines = defaultMaxThreadLines(maxThreadBytes);
    const needed = maxThreadBytes * THREAD_MEMORY_PER_BYTE + maxThreadLines * THREAD_MEMORY_PER_LINE + BASE_RSS_BYTES;
    return needed > this.maxRssBytes
      ? `--max-thread-bytes ${maxThreadBytes} lets the threads, which the server keeps in memory, need about ${mib(needed)} once full, more than the memory budget (${mib(this.maxRssBytes)}): new connections would then be refused`
      : undefined;
  }

  /**
   * Why a new connection is refused now, or `undefined` if it is welcome.
   * `held`: the connections of its kind already held, when the caller keeps
   * their number where it was at the budget (see the class comment); without
   * it, every newcomer is refused while over the budget.
   */
  overloaded(held?: number): string | undefined {
    if (this.maxRssBytes === undefined) return undefined;
    const rss = this.readRss();
    if (rss <= this.maxRssBytes) {
      this.heldAtBudget = undefined;
      return undefined;
    }
    if (held !== undefined) {
      this.heldAtBudget ??= held;
      if (held < this.heldAtBudget) return undefined;
    }
    return `memory budget reached (${mib(rss)} of ${mib(this.maxRssBytes)} in use)`;
  }
}

const mib = (n: number): string => `${Math.round(n / (1024 * 1024))} MiB`;

/**
 * Resident bytes per byte of thread files, at most: 1.3 measured for ASCII
 * text (64 MB of threads took a server from 66 to 146 MiB), and V8 keeps a
 * string with any character past U+00FF in two bytes per character.
 */
const THREAD_MEMORY_PER_BYTE = 2.5;
/**
 * Resident bytes per thread line apart from its text, above every cost a line
 * was measured at near the line limit's scale (one-character lines, the most
 * lines a byte; `attack/thread-lines-memory.ts`, re-measured after attack
 * round 25): 61 B of heap a line by MSG (`heap 100 5000`, 500,000 lines),
 * 59 B read at open; 56 to 70 B of the built server's resident set a line
 * read at start (`load 10`, `load 21`: 1.07 and 2.23 million lines took it
 * from 76.5 MiB empty to 162.6 and 224–227 MiB; round 25's 24.5 million,
 * 1.41 GiB, is 58), each with the line's text, which the per-byte term
 * counts again. The 95 to 134 B a line of small runs (10,000 to 20,000
 * lines) is some 0.7 MiB of one-off heap (the first MSGs' code and caches)
 * spread thin: 75 B at 40,000 lines, 65 at 100,000.
 */
const THREAD_MEMORY_PER_LINE = 100;
/** A server's resident size with no threads (66 MiB measured), with room. */
const BASE_RSS_BYTES = 128 * 1024 * 1024;
