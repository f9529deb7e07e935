/**
 * Bytes of replies sent and not yet acknowledged, summed over the connections
 * of one client host. Each connection's backlog is bounded (1 MiB plus the
 * reply that crossed it, `REPLY_BACKLOG_BYTES`), but nothing bounded the
 * sum: 20 logged-in accounts of one host, each behind a proxy that drops
 * what the server sends and asking for a 3.9 MiB thread, held the server
 * +180–220 MiB until the transport let them go 10–15 s later (attack round 8,
 * `attack/many-accounts-backlog.ts`); 256 accounts some 2 GiB.
 *
 * Counted as every other per-host limit (`hostLevelsOf`): an IPv4 address or
 * an IPv6 /64 gets {@link ReplyBudget.perHost}, its /56 four times and its
 * /48 sixteen times. A request reserves what its reply may take before it
 * runs (the largest reply for LST and RDT, 64 KiB for the one-line others:
 * client-connection.ts) and only runs if that fits at every level, so what a
 * host holds does not pass its budget, however many of its connections run
 * at once. Pure: the caller waits (and times out) on
 * {@link ReplyBudget.released}.
 */
import type { HostLevel } from 'forum-protocol';

/**
 * Default per-host budget, bytes. Four largest replies (`MAX_SERVER_MESSAGE_BYTES`,
 * 8 MiB) or 32 connections' full backlogs (`REPLY_BACKLOG_BYTES`, 1 MiB): honest
 * users behind one NAT address acknowledge within a round trip, so they rarely
 * hold more than a few replies in flight together, while a host of silent
 * connections is held to this instead of N × 5–10 MiB.
 */
export const REPLY_BUDGET_PER_HOST = 32 * 1024 * 1024;

/** Bytes charged to a host's levels; {@link release} gives them back once, however often it is called. */
export interface ReplyCharge {
  readonly bytes: number;
  /** Uncounts the bytes at every level; later calls do nothing. */
  release(): void;
}

/** Counts unacknowledged reply bytes per host level; see the file's comment. */
export class ReplyBudget {
  private readonly held = new Map<string, number>();
  // Per level key, not one for all: a release wakes only who waits on that host or prefix, so the acknowledgements of
  // every other host do not make each waiter check again.
  private readonly wakes = new Map<string, { readonly promise: Promise<void>; readonly resolve: () => void }>();

  /** `perHost`: the budget of a level of multiple 1, bytes; must hold one largest reservation. */
  constructor(readonly perHost: number) {
    if (!(perHost > 0)) throw new RangeError(`reply budget must be positive, got ${perHost}`);
  }

  /** The first (finest) of `levels` where `bytes` more would pass its budget, or `undefined`: they fit everywhere. */
  wouldOverflow(levels: readonly HostLevel[], bytes: number): HostLevel | undefined {
    for (const level of levels) if ((this.held.get(level.key) ?? 0) + bytes > this.perHost * level.multiple) return level;
    return undefined;
  }

  /** Counts `bytes` at every level of `levels`, whatever they hold already (the caller checked {@link wouldOverflow} where it must). */
  charge(levels: readonly HostLevel[], bytes: number): ReplyCharge {
    for (const { key } of levels) this.held.set(key, (this.held.get(key) ?? 0) + bytes);
    let done = false;
    return {
      bytes,
      release: () => {
        if (done) return;
        done = true;
        for (const { key } of levels) {
          const n = (this.held.get(key) ?? 0) - bytes;
          if (n > 0) this.held.set(key, n);
          else this.held.delete(key);
          const w = this.wakes.get(key);
          this.wakes.delete(key);
          w?.resolve();
        }
      },
    };
  }

  /** Bytes held under `key` (a host or a prefix). */
  bytesOf(key: string): number {
    return this.held.get(key) ?? 0;
  }

  /** Hosts and prefixes holding bytes (0 once all are released: nothing leaks). */
  get size(): number {
    return this.held.size;
  }

  /** Settles at the next release of bytes under `key` (the level {@link wouldOverflow} named): a waiter checks again. */
  released(key: string): Promise<void> {
    let w = this.wakes.get(key);
    if (w === undefined) {
      let resolve = (): void => undefined;
      const promise = new Promise<void>((r) => (resolve = r));
      w = { promise, resolve };
      this.wakes.set(key, w);
    }
    return w.promise;
  }
}
