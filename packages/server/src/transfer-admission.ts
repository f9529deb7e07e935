import type net from 'node:net';
import { type HostLevel, hostLevelsOf } from 'forum-protocol';
import { HostTally } from 'rudpx/core';

/** Limits of {@link TransferAdmission}. */
export interface AdmissionLimits {
  /** Connections held at once, in all. */
  readonly maxConnections: number;
  /**
   * Connections one client host (an IPv4 address, an IPv6 /64: `hostOf`, rudp's `hostKey`) may hold at once;
   * an IPv6 /56 may hold 4 times this and a /48 16 times (`hostLevelsOf`, as rudp counts its connections).
   */
  readonly maxPerHost: number;
}

interface Held {
  readonly socket: net.Socket;
  /** Its host and coarser IPv6 prefixes (`hostLevelsOf`). */
  readonly levels: readonly HostLevel[];
  /** Set once the connection presented a valid token: from then on it is never evicted. */
  authenticated: boolean;
  /** Its token is being looked up: evicted only when no silent connection can go instead. */
  redeeming: boolean;
}

/**
 * Who may hold a transfer connection. Slots go to holders of valid tokens,
 * not to whoever connected first: when the server (or a host) is at its
 * limit, a new connection takes the slot of the oldest connection that has
 * not yet presented a valid token, which is ended (`evict`): a silent one before one whose token is being
 * looked up (evicted, its token is spent for nothing). Only when every slot is
 * held by a token-holder is the new connection refused. A legitimate client
 * sends its token in its first packet, so it is past the point of eviction
 * within a round trip; silent connections, however many hosts open them,
 * only ever evict each other. (A burst of more than a host's slots is admitted
 * before any token is read: its oldest are evicted, so eviction must say why.)
 */
export class TransferAdmission {
  // Insertion order is age order: the first unauthenticated entry is the oldest.
  private readonly held = new Map<net.Socket, Held>();
  private readonly hosts: HostTally;
  /** Connections closed to make room (for tests and the log). */
  evicted = 0;

  /**
   * `evict` ends a connection evicted to make room (by default a bare close). Its client may be honest, its
   * token sent but not yet read (a burst of its host's connections, accepted in one turn of the event loop).
   */
  constructor(
    private readonly limits: AdmissionLimits,
    private readonly evict: (socket: net.Socket) => void = (socket) => void socket.destroy(),
  ) {
    this.hosts = new HostTally(limits.maxPerHost);
  }

  /** Whether `socket` still holds its slot (false once evicted or closed): an evicted one is served no further. */
  holds(socket: net.Socket): boolean {
    return this.held.has(socket);
  }

  /**
   * Admits `socket` from `address` (its remote IP address), evicting a silent connection if needed;
   * `false`: refused (every slot holds a token). Counted per host as rudp counts them: one machine
   * usually owns a whole IPv6 /64, and counting exact addresses gave it a budget per address; one
   * customer a /56 or /48, which count too. A full /56 or /48 is met as a full host: the oldest silent
   * connection within it makes room.
   */
  admit(socket: net.Socket, address: string): boolean {
    const levels = hostLevelsOf(address);
    // Finest first: room made in a /64 is also made in its /56 and /48, so this evicts at most once.
    for (let full = this.hosts.full(levels); full !== undefined; full = this.hosts.full(levels)) {
      const key = full.key;
      if (!this.evictOldest((h) => h.levels.some((l) => l.key === key))) return false;
    }
    if (this.held.size >= this.limits.maxConnections && !this.evictOldest(() => true)) return false;
    this.held.set(socket, { socket, levels, authenticated: false, redeeming: false });
    this.hosts.add(levels);
    socket.once('close', () => this.remove(socket));
    return true;
  }

  /** The connection presented a valid token. */
  authenticated(socket: net.Socket): void {
    const h = this.held.get(socket);
    if (h !== undefined) h.authenticated = true;
  }

  /**
   * Its token's lookup started (`true`) or ended (`false`, whatever it found). Evicted meanwhile, its token was
   * spent for nothing (the client must ask again); taken oldest first, an honest one past its header went while
   * newer silent ones (a flood's) stayed. Only while the lookup runs: a token found invalid buys no standing.
   */
  redeeming(socket: net.Socket, running: boolean): void {
    const h = this.held.get(socket);
    if (h !== undefined) h.redeeming = running;
  }

  /** Connections held. */
  get size(): number {
    return this.held.size;
  }

  /** Hosts and IPv6 prefixes with a connection held (0 once all are gone: nothing leaks). */
  get hostsTracked(): number {
    return this.hosts.size;
  }

  private evictOldest(match: (h: Held) => boolean): boolean {
    // The oldest silent one, else the oldest whose token is being looked up.
    const victim = this.oldest((h) => !h.redeeming && match(h)) ?? this.oldest(match);
    if (victim === undefined) return false;
    // Remove now (not on 'close', which comes later) so the slot is free for the caller.
    this.remove(victim.socket);
    this.evict(victim.socket);
    this.evicted++;
    return true;
  }

  private oldest(match: (h: Held) => boolean): Held | undefined {
    for (const h of this.held.values()) if (!h.authenticated && match(h)) return h;
    return undefined;
  }

  private remove(socket: net.Socket): void {
    const h = this.held.get(socket);
    if (h === undefined) return;
    this.held.delete(socket);
    this.hosts.remove(h.levels);
  }
}
