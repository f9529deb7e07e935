import type net from 'node:net';
import { type HostLevel, hostLevelsOf, hostOf } from 'forum-protocol';

/** Limits of {@link RefusalGraces}. */
export interface GraceLimits {
  /** Refused connections kept for their grace at once, in all. */
  readonly total: number;
  /**
   * A host's share (`hostOf`): graces it holds up to this many are never taken from it for another host's. An
   * IPv6 host's /56 and /48 have shares too (see {@link RefusalGraces}).
   */
  readonly perHost: number;
}

/**
 * Watches a refused connection's line: `onRead(true)` each time it is found safe to close on (the line, and the
 * FIN after it, acknowledged by the peer's kernel, and nothing the peer sent left unread, so that a close sends
 * nothing more, never a reset), `onRead(false)` when found not; returns what ends the watch. Tells nothing where
 * it cannot know (not Linux): graces are then kept as long as before.
 */
export type LineWatch = (socket: net.Socket, onRead: (safe: boolean) => void) => () => void;

/**
 * How long after a read first found a grace's line safe its peer may go on sending and still keep its grace, ms. A
 * peer that sends nothing since is ended at once when one is needed; one that sends now and then was never ended
 * early (a close with its bytes unread, or theirs arriving after, is answered by a reset), so one byte every 50 ms
 * from each attacker connection kept every grace its whole 2 s again: 16 hosts × 8 connections a second left 0 of 9
 * victims their line (attack round 33). A peer still sending this long after its kernel acknowledged the line is
 * not reading it (forum-client stops at the line within a round trip), and at 2 s it would be ended the same way.
 */
export const CHATTY_AFTER_SAFE_MS = 300;

/** A level's count of graces, and its share of them. */
interface LevelCount {
  n: number;
  readonly share: number;
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
 *
 * Shares are counted per level, as transfer admission counts hosts (`hostLevelsOf`): an IPv6 host's /64 has
 * `perHost`, and its /56 and /48 `perHost` times their multiple (4 and 16), each capped at half the total (with
 * 64 and 8: 8 a /64, 32 a /56, 32 a /48). Counted by /64 alone, 8 /64s of one /56, each within its share, held
 * all 64 for good; capped, no one /56 or /48 keeps more than half while another prefix needs them. A refusal may
 * take a grace back only when its host is below its share at every level (so never from its own prefix), and it
 * takes the oldest grace under the level (host, /56 or /48) holding the most beyond its share: a /64 within its
 * own share but of a /56 or /48 beyond its share may lose its graces, a host within its shares at every level not.
 *
 * Between them, hosts each within its shares still kept all 64: 8 IPv4 addresses or 2 /48s whose connections
 * stay half-open (never answering the server's FIN) each hold a grace its whole 2 s, and other hosts' refused
 * connections were closed bare (attack round 32). A grace is for a line still in flight; once its line has
 * reached the peer's kernel it protects nothing. So when all are taken, a refusal (of any host, within its share
 * or not) first ends the oldest grace whose line a {@link LineWatch} found safe (and whose peer has sent nothing
 * since), before any taking back: the 64 then bound only the lines not yet known delivered. Only a peer that
 * does not acknowledge the line (its own TCP stack) holds its grace the whole 2 s. A peer that sent since was not
 * ended, and one byte every 50 ms from each attacker connection undid it (attack round 33); it is ended too once
 * its line has been known safe {@link CHATTY_AFTER_SAFE_MS}, after those whose peers are silent.
 */
export class RefusalGraces {
  // Insertion order is age order: a host's first entry is its oldest.
  private readonly held = new Map<net.Socket, readonly string[]>();
  // Level keys (`HostLevel.key`) are distinct across levels, so one map holds them all.
  private readonly counts = new Map<string, LevelCount>();
  // Graces whose line was last found safe, with the bytes their socket had read then (one read since may be the
  // first of more, not yet read, that a close would answer with a reset) and when a read first found it so. In the
  // order first found: oldest first.
  private readonly delivered = new Map<net.Socket, { readonly read: number; readonly since: number }>();
  private releases = 0;

  /**
   * `cut` ends a connection whose grace is taken for another host's (by default a bare close); `watch` tells whose
   * line is safe to close on (by default none is ever known: graces end only by their peer, timer or taking back).
   */
  constructor(
    private readonly limits: GraceLimits,
    private readonly cut: (socket: net.Socket) => void = (socket) => void socket.destroy(),
    private readonly watch?: LineWatch,
    /** The clock (ms) that times {@link CHATTY_AFTER_SAFE_MS}; a test's stand-in. */
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * A grace for `socket`, refused, from `address` (its remote IP address): `true`, held until it closes (maybe
   * taking another host's grace, see the class); `false`, none: the caller closes it at once.
   */
  take(socket: net.Socket, address: string): boolean {
    const levels = hostLevelsOf(address);
    if (this.held.size >= this.limits.total && !this.release() && !this.lend(levels)) return false;
    this.held.set(socket, levels.map((l) => l.key));
    for (const level of levels) {
      const count = this.counts.get(level.key);
      if (count === undefined) this.counts.set(level.key, { n: 1, share: this.shareOf(level) });
      else count.n++;
    }
    socket.once('close', () => this.remove(socket));
    if (this.watch !== undefined) {
      const stop = this.watch(socket, (safe) => {
        // A grace already ended (released, taken back) may still be told of at the read under way.
        if (!this.held.has(socket)) return;
        if (safe) this.delivered.set(socket, { read: socket.bytesRead, since: this.delivered.get(socket)?.since ?? this.now() });
        else this.delivered.delete(socket);
      });
      socket.once('close', stop);
    }
    return true;
  }

  /**
   * Whether knowing more lines safe is of use: the pool at least half full, fewer than half of it known safe.
   * Each read of the kernel's table costs some 18 ms of CPU with 3,000 rows (attack round 32's host): read for
   * every grace a tick, 8 hosts at 4 connections a second tripled the server's CPU; read on need, the graces
   * known safe are a stock the refusals draw on between reads.
   */
  get wantsWatch(): boolean {
    if (this.held.size < this.limits.total / 2) return false;
    // Only those still of use: a peer that sends a byte after each read (an attacker's, or an upload still
    // streaming) must not stop the reads by a stock it has spoiled, until it has sent for CHATTY_AFTER_SAFE_MS.
    let usable = 0;
    const now = this.now();
    for (const [socket, d] of this.delivered) if (this.endable(socket, d, now) && ++usable >= this.limits.total / 2) return false;
    return true;
  }

  /** Graces ended early so far, their line found safe. */
  get released(): number {
    return this.releases;
  }

  /** Refused connections held for their grace. */
  get size(): number {
    return this.held.size;
  }

  /** Graces held by the host of `address`. */
  heldBy(address: string): number {
    return this.counts.get(hostOf(address))?.n ?? 0;
  }

  /** A level's share: `perHost` times its multiple, a coarser level's capped at half the total (never below `perHost`). */
  private shareOf(level: HostLevel): number {
    const { perHost, total } = this.limits;
    if (level.multiple === 1) return perHost;
    return Math.max(perHost, Math.min(perHost * level.multiple, Math.floor(total / 2)));
  }

  /** Whether a grace found safe (`d`) may be ended now: its peer silent since, or sending for too long after. */
  private endable(socket: net.Socket, d: { readonly read: number; readonly since: number }, now: number): boolean {
    return socket.bytesRead === d.read || now - d.since >= CHATTY_AFTER_SAFE_MS;
  }

  /**
   * Ends the oldest grace whose line was found safe, its peer silent since (closed, it sends nothing: its FIN went
   * with the line); failing that, the oldest found safe at least {@link CHATTY_AFTER_SAFE_MS} ago whose peer goes on
   * sending (its close is answered by a reset, as at the grace's end; its line has been in its kernel that long);
   * `false`: none.
   */
  private release(): boolean {
    let chatty: net.Socket | undefined;
    const now = this.now();
    for (const [socket, d] of this.delivered) {
      if (socket.bytesRead !== d.read) {
        if (chatty === undefined && this.endable(socket, d, now)) chatty = socket;
        continue;
      }
      this.end(socket);
      return true;
    }
    if (chatty === undefined) return false;
    this.end(chatty);
    return true;
  }

  private end(socket: net.Socket): void {
    this.remove(socket);
    this.releases++;
    socket.destroy();
  }

  /**
   * Frees a grace for a host of `levels`, below its share at every level, from the level holding the most beyond
   * its own; `false`: none.
   */
  private lend(levels: readonly HostLevel[]): boolean {
    if (levels.some((l) => (this.counts.get(l.key)?.n ?? 0) >= this.shareOf(l))) return false;
    let lender: string | undefined;
    let most = 0;
    for (const [key, { n, share }] of this.counts) {
      if (n - share > most) [lender, most] = [key, n - share];
    }
    if (lender === undefined) return false;
    for (const [socket, keys] of this.held) {
      if (!keys.includes(lender)) continue;
      // Removed now (not on 'close', which comes later) so the grace is free for the caller.
      this.remove(socket);
      this.cut(socket);
      return true;
    }
    return false;
  }

  private remove(socket: net.Socket): void {
    const keys = this.held.get(socket);
    if (keys === undefined) return;
    this.held.delete(socket);
    this.delivered.delete(socket);
    for (const key of keys) {
      const count = this.counts.get(key);
      if (count === undefined) continue;
      if (--count.n <= 0) this.counts.delete(key);
    }
  }
}
