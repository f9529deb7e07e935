/**
 * The server's global memory budget (`--memory-budget-mib`): while the
 * process's resident set is above it, a new rudp connection takes the place
 * of the oldest one not logged in (login-room.ts) or is refused if there is
 * none, and new TCP connections are refused, so connections already served
 * keep working instead of the whole process running out of memory. Existing
 * connections are bounded one by one (see client-connection.ts); this bounds
 * how many there can be.
 */
export class MemoryBudget {
  constructor(
    /** Most resident bytes; `undefined`: no budget. */
    readonly maxRssBytes: number | undefined,
    private readonly rss: () => number = () => process.memoryUsage.rss(),
  ) {}

  /**
   * Why a data directory whose threads fill `maxThreadBytes` would put the
   * server over this budget (the store keeps every thread in memory, and past
   * the budget every new connection is refused), or `undefined` if it fits.
   */
  threadsMayExceed(maxThreadBytes: number): string | undefined {
    if (this.maxRssBytes === undefined) return undefined;
    const needed = maxThreadBytes * THREAD_MEMORY_PER_BYTE + BASE_RSS_BYTES;
    return needed > this.maxRssBytes
      ? `--max-thread-bytes ${maxThreadBytes} lets the threads, which the server keeps in memory, need about ${mib(needed)} once full, more than the memory budget (${mib(this.maxRssBytes)}): new connections would then be refused`
      : undefined;
  }

  /** Why new connections are refused now, or `undefined` if they are welcome. */
  overloaded(): string | undefined {
    if (this.maxRssBytes === undefined) return undefined;
    const rss = this.rss();
    return rss > this.maxRssBytes ? `memory budget reached (${mib(rss)} of ${mib(this.maxRssBytes)} in use)` : undefined;
  }
}

const mib = (n: number): string => `${Math.round(n / (1024 * 1024))} MiB`;

/**
 * Resident bytes per byte of thread files, at most: 1.3 measured for ASCII
 * text (64 MB of threads took a server from 66 to 146 MiB), and V8 keeps a
 * string with any character past U+00FF in two bytes per character.
 */
const THREAD_MEMORY_PER_BYTE = 2.5;
/** A server's resident size with no threads (66 MiB measured), with room. */
const BASE_RSS_BYTES = 128 * 1024 * 1024;
