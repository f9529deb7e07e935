import type net from 'node:net';
import { hostOf } from 'forum-protocol';

/** Limits of {@link RefusalGraces}. */
export interface GraceLimits {
  /** Refused connections kept for their grace at once, in all. */
  readonly total: number;
  /** A host's share (`hostOf`): graces it holds up to this many are never taken from it for another host's. */
  readonly perHost: number;
}

/**
 * Which refused transfer connections (refused on arrival, or evicted for a newcomer) are kept for a short grace,
 * reading and dropping, so that their clients read the refusal line rather than a reset. They hold no slot, so
 * their number is bounded in all; past it one is closed at once. The bound is shared by every host, and one host
 * flooding the transfer port kept it full by itself, so that every other host's evicted connections were closed
 * bare again (their clients told nothing, forum-client unable to try again). Now a host may hold more than its
 * share (`perHost`) only on loan: when all are taken, a refusal of a host holding less than its share takes the
 * oldest grace of the host holding the most beyond its share, which is closed at once (its line was sent when its
 * grace began). A host within its share keeps its graces whoever floods, and one host alone, a burst of its
 * honest clients evicted in one turn of the event loop, may still use them all.
 */
export class RefusalGraces {
  // Insertion order is age order: a host's first entry is its oldest.
  private readonly held = new Map<net.Socket, string>();
  private readonly counts = new Map<string, number>();

  /** `cut` ends a connection whose grace is taken for another host's (by default a bare close). */
  constructor(
    private readonly limits: GraceLimits,
    private readonly cut: (socket: net.Socket) => void = (socket) => void socket.destroy(),
  ) {}

  /**
   * A grace for `socket`, refused, from `address` (its remote IP address): `true`, held until it closes (maybe
   * taking another host's grace, see the class); `false`, none: the caller closes it at once.
   */
  take(socket: net.Socket, address: string): boolean {
    const host = hostOf(address);
    if (this.held.size >= this.limits.total && !this.lend(host)) return false;
    this.held.set(socket, host);
    this.counts.set(host, (this.counts.get(host) ?? 0) + 1);
    socket.once('close', () => this.remove(socket));
    return true;
  }

  /** Refused connections held for their grace. */
  get size(): number {
    return this.held.size;
  }

  /** Graces held by the host of `address`. */
  heldBy(address: string): number {
    return this.counts.get(hostOf(address)) ?? 0;
  }

  /** Frees a grace for `host`, below its share, from the host holding the most beyond its own; `false`: none. */
  private lend(host: string): boolean {
    if ((this.counts.get(host) ?? 0) >= this.limits.perHost) return false;
    let lender: string | undefined;
    let most = this.limits.perHost;
    for (const [h, n] of this.counts) {
      if (n > most) [lender, most] = [h, n];
    }
    if (lender === undefined) return false;
    for (const [socket, h] of this.held) {
      if (h !== lender) continue;
      // Removed now (not on 'close', which comes later) so the grace is free for the caller.
      this.remove(socket);
      this.cut(socket);
      return true;
    }
    return false;
  }

  private remove(socket: net.Socket): void {
    const host = this.held.get(socket);
    if (host === undefined) return;
    this.held.delete(socket);
    const n = (this.counts.get(host) ?? 0) - 1;
    if (n > 0) this.counts.set(host, n);
    else this.counts.delete(host);
  }
}
