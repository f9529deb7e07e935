/**
 * Bytes of requests waiting to run, per connection and per client host. A
 * connection's requests run one after another behind its host's (before
 * login) or account's pace, so what arrives meanwhile is held: 256
 * connections of one host, each keeping 32 requests of 128 KiB queued, took
 * the server up 430 MiB and rising (attack finding 2), until the memory
 * budget refused everyone. Counts are bounded (32 a connection); this bounds
 * the bytes, so one host holds a few MiB at most whatever it sends.
 *
 * Over its own bound a connection is closed (as over the count). Over the
 * host's bound, the host's connections holding the most are closed until it
 * fits: a flooder's queues are large and a neighbour's login is small, so the
 * neighbour on the same NAT address keeps its place.
 */

/** A connection whose queued requests the budget counts. */
export interface QueueHolder {
  /** Its client host (`hostOf` of its address). */
  readonly host: string;
  /** Drops everything it has queued and closes it; must call {@link QueueBudget.forget}. */
  evict(reason: string): void;
}

/** Bounds of {@link QueueBudget}, bytes. */
export interface QueueBudgetLimits {
  /** All queued requests of one host's connections. */
  readonly perHost: number;
  /** One logged-in connection's queued requests. */
  readonly perConnection: number;
  /** One connection's before it has logged in: room for one largest request and a few small ones. */
  readonly perConnectionBeforeLogin: number;
}

/** Why a charge was refused. */
export type ChargeResult = 'ok' | 'connectionFull' | 'evicted';

/** Counts queued request bytes; see the file's comment. */
export class QueueBudget {
  private readonly held = new Map<QueueHolder, number>();
  private readonly hosts = new Map<string, Set<QueueHolder>>();
  private readonly hostTotals = new Map<string, number>();

  constructor(readonly limits: QueueBudgetLimits) {}

  /**
   * Counts `bytes` more queued by `holder`. `connectionFull`: that would take
   * the connection past its own bound (nothing counted; the caller closes it).
   * Past the host's bound, the host's largest holders are evicted until it
   * fits; `evicted` if `holder` was one of them (the charge is then dropped).
   */
  charge(holder: QueueHolder, bytes: number, loggedIn: boolean): ChargeResult {
    const own = this.held.get(holder) ?? 0;
    if (own + bytes > (loggedIn ? this.limits.perConnection : this.limits.perConnectionBeforeLogin)) return 'connectionFull';
    this.held.set(holder, own + bytes);
    let peers = this.hosts.get(holder.host);
    if (peers === undefined) this.hosts.set(holder.host, (peers = new Set()));
    peers.add(holder);
    this.hostTotals.set(holder.host, (this.hostTotals.get(holder.host) ?? 0) + bytes);
    while (this.hostBytes(holder.host) > this.limits.perHost) {
      const largest = this.largestOf(peers);
      if (largest === undefined) break;
      largest.evict('too many queued requests from this host');
      // evict() must forget it; make sure, so the loop ends even if it did not.
      this.forget(largest);
      if (largest === holder) return 'evicted';
    }
    return 'ok';
  }

  /** Counts `bytes` of `holder` as no longer queued (its request ran). */
  release(holder: QueueHolder, bytes: number): void {
    const own = this.held.get(holder);
    if (own === undefined) return;
    const take = Math.min(own, bytes);
    this.held.set(holder, own - take);
    this.hostTotals.set(holder.host, (this.hostTotals.get(holder.host) ?? take) - take);
  }

  /** Stops counting `holder` (it ended or was evicted): all it held is released. */
  forget(holder: QueueHolder): void {
    const own = this.held.get(holder);
    if (own === undefined) return;
    this.held.delete(holder);
    const total = (this.hostTotals.get(holder.host) ?? own) - own;
    const peers = this.hosts.get(holder.host);
    peers?.delete(holder);
    if (peers === undefined || peers.size === 0) {
      this.hosts.delete(holder.host);
      this.hostTotals.delete(holder.host);
    } else {
      this.hostTotals.set(holder.host, total);
    }
  }

  /** Bytes queued by `host`'s connections now. */
  hostBytes(host: string): number {
    return this.hostTotals.get(host) ?? 0;
  }

  /** Bytes queued by `holder` now. */
  bytesOf(holder: QueueHolder): number {
    return this.held.get(holder) ?? 0;
  }

  private largestOf(peers: ReadonlySet<QueueHolder>): QueueHolder | undefined {
    let best: QueueHolder | undefined;
    let most = -1;
    for (const p of peers) {
      const b = this.held.get(p) ?? 0;
      if (b > most) [best, most] = [p, b];
    }
    return best;
  }
}
