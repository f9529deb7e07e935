/**
 * The server's global memory budget (`--memory-budget-mib`): while the
 * process's resident set is above it, new connections (rudp and TCP) are
 * refused, so connections already served keep working instead of the whole
 * process running out of memory. Existing connections are bounded one by one
 * (see client-connection.ts); this bounds how many there can be.
 */
export class MemoryBudget {
  constructor(
    /** Most resident bytes; `undefined`: no budget. */
    readonly maxRssBytes: number | undefined,
    private readonly rss: () => number = () => process.memoryUsage.rss(),
  ) {}

  /** Why new connections are refused now, or `undefined` if they are welcome. */
  overloaded(): string | undefined {
    if (this.maxRssBytes === undefined) return undefined;
    const rss = this.rss();
    return rss > this.maxRssBytes ? `memory budget reached (${mib(rss)} of ${mib(this.maxRssBytes)} in use)` : undefined;
  }
}

const mib = (n: number): string => `${Math.round(n / (1024 * 1024))} MiB`;
