/**
 * Live connections per client host and per coarser IPv6 prefix, against one
 * per-host limit: a connection counts at every level `hostLevels` gives its
 * address, and is admitted only if each level is below its limit (the
 * per-host limit times the level's multiple). Keys with no connection are
 * deleted, so the map holds only hosts and prefixes that have some.
 */
import type { HostLevel } from './host-key.js';

/** Counts per host and prefix; see the file's comment. */
export class HostTally {
  private readonly counts = new Map<string, number>();

  /** `perHost`: the limit of a level of multiple 1. */
  constructor(private readonly perHost: number) {}

  /** The first (finest) of `levels` already at its limit, or `undefined`: one more connection fits at every level. */
  full(levels: readonly HostLevel[]): HostLevel | undefined {
    for (const level of levels) if ((this.counts.get(level.key) ?? 0) >= this.perHost * level.multiple) return level;
    return undefined;
  }

  /**
   * The first (finest) of `to` already at its limit for a connection counted
   * at `from` that moves there, or `undefined`: it fits. A level `from`
   * shares with `to` (the same /56 or /48) already counts it.
   */
  fullForMove(from: readonly HostLevel[], to: readonly HostLevel[]): HostLevel | undefined {
    for (const level of to) {
      const own = from.some((f) => f.key === level.key) ? 1 : 0;
      if ((this.counts.get(level.key) ?? 0) - own >= this.perHost * level.multiple) return level;
    }
    return undefined;
  }

  /** Counts one connection at every level. */
  add(levels: readonly HostLevel[]): void {
    for (const { key } of levels) this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  /** Uncounts one connection `add`ed with the same levels, at every level. */
  remove(levels: readonly HostLevel[]): void {
    for (const { key } of levels) {
      const n = (this.counts.get(key) ?? 0) - 1;
      if (n > 0) this.counts.set(key, n);
      else this.counts.delete(key);
    }
  }

  /** Connections counted under `key` (a host or a prefix). */
  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  /** Hosts and prefixes with a connection. */
  get size(): number {
    return this.counts.size;
  }
}
