import type { PeerAddress, RandomSource, SansIoEndpoint } from '../core/sans-io.js';
import { EventHeap } from './event-heap.js';
import { LinkImpairment, addLinkStats, checkedLinkConfig, emptyLinkStats } from './impairment.js';
import type { LinkConfig, LinkStats } from './impairment.js';
import { deriveRandom } from './prng.js';

/** Options of `SimNetwork`. */
export interface SimNetworkOptions {
  /** Seed of every PRNG stream in the network (links, `sim.random(label)`). */
  readonly seed: number;
  /** Link used for every direction without its own `setLink`. Default: perfect, zero delay. */
  readonly defaultLink?: LinkConfig;
  /** Throw after this many events at one virtual instant (a zero-time loop). Default 10,000,000. */
  readonly maxEventsPerInstant?: number;
  /** Throw after one node's timer fires this many times at one instant. Default 1,000. */
  readonly maxTimerFiresPerInstant?: number;
  /** Throw when one drain of a node yields more datagrams than this. Default 1,000,000. */
  readonly maxTransmitsPerDrain?: number;
  /**
   * Throw after one node's timer fires this many times in a row, each less
   * than 1 ms after the last, without the node sending anything: a timer
   * whose deadline keeps landing just after `now` (a driver rounds it up)
   * makes no progress, and the run would crawl through virtual time a
   * microsecond per event instead of failing. Default 100,000.
   */
  readonly maxIdleTimerFires?: number;
}

/** Options of one node. */
export interface SimNodeOptions {
  /**
   * Called right after each `handleDatagram`/`handleTimeout` of this node, at
   * that virtual time and before its transmits are drained, so the app can
   * poll the endpoint's events (and send replies) at the exact instant.
   */
  readonly onActivity?: (now: number) => void;
  /**
   * Reads datagrams in batches, as the Node adapter reads a socket
   * (`recvmmsg`, GRO): a datagram that reaches an idle node is handled this
   * many ms later, with every datagram that arrived meanwhile, all at that
   * time, before one `onActivity` and one drain of its transmits. So a burst
   * gets one ACK, as on real sockets, where the simulator's one-by-one
   * delivery gives one per `ackEveryPackets`. Unset: each datagram on its own.
   */
  readonly receiveBatchMs?: number;
}

interface NodeState {
  /** Where the node's datagrams come from and where datagrams reach it (`rebind` changes it). */
  address: PeerAddress;
  readonly endpoint: SansIoEndpoint;
  readonly onActivity: ((now: number) => void) | undefined;
  timerGen: number;
  timerAt: number | undefined;
  lastFireAt: number;
  firesAtInstant: number;
  /** Consecutive timer fires, each within 1 ms of the last, after which the node sent nothing. */
  idleFires: number;
  readonly receiveBatchMs: number | undefined;
  /** Datagrams waiting for the batch read (`receiveBatchMs`), in arrival order. */
  readonly batch: { readonly data: Uint8Array; readonly from: PeerAddress }[];
}

interface LinkState {
  readonly impairment: LinkImpairment;
  explicit: boolean;
}

const DELIVER = 0;
const TIMER = 1;
const TASK = 2;

/**
 * One event of any kind. A single class (rather than a union of object
 * shapes) keeps the heap's property reads monomorphic, which matters at
 * millions of events.
 */
class SimEvent {
  constructor(
    readonly at: number,
    readonly seq: number,
    readonly kind: typeof DELIVER | typeof TIMER | typeof TASK,
    readonly from: PeerAddress,
    readonly to: PeerAddress,
    readonly data: Uint8Array | undefined,
    readonly link: LinkState | undefined,
    readonly node: NodeState | undefined,
    readonly gen: number,
    readonly fn: ((now: number) => void) | undefined,
  ) {}
}


/**
 * A deterministic discrete-event network of `SansIoEndpoint`s on a virtual
 * clock (ms). Datagrams cross per-direction impaired links (see
 * `LinkConfig`); each node has at most one live timer entry in the event
 * heap (stale ones are skipped by generation), so the cost per event is
 * O(log events) whatever the number of nodes. Same seed and same endpoints
 * give the same run, event for event.
 */
export class SimNetwork {
  private clock = 0;
  private seqCounter = 0;
  private processed = 0;
  private instantEvents = 0;
  private instantAt = -Infinity;
  private defaultCfg: LinkConfig;
  private readonly heap = new EventHeap<SimEvent>();
  private readonly nodes = new Map<PeerAddress, NodeState>();
  private readonly links = new Map<PeerAddress, Map<PeerAddress, LinkState>>();
  private readonly seed: number;
  private readonly maxEventsPerInstant: number;
  private readonly maxTimerFiresPerInstant: number;
  private readonly maxTransmitsPerDrain: number;
  private readonly maxIdleTimerFires: number;

  constructor(options: SimNetworkOptions) {
    this.seed = options.seed;
    this.defaultCfg = checkedLinkConfig(options.defaultLink ?? {});
    this.maxEventsPerInstant = options.maxEventsPerInstant ?? 10_000_000;
    this.maxTimerFiresPerInstant = options.maxTimerFiresPerInstant ?? 1_000;
    this.maxTransmitsPerDrain = options.maxTransmitsPerDrain ?? 1_000_000;
    this.maxIdleTimerFires = options.maxIdleTimerFires ?? 100_000;
  }

  /** Current virtual time, ms. */
  get now(): number {
    return this.clock;
  }

  /** Events processed so far (stale timer entries not counted). */
  get eventsProcessed(): number {
    return this.processed;
  }

  /** Number of registered nodes. */
  get nodeCount(): number {
    return this.nodes.size;
  }

  /** The default link config. */
  get defaultLink(): LinkConfig {
    return this.defaultCfg;
  }

  /** An independent PRNG stream for `label`, derived from the network seed (e.g. for an endpoint). */
  random(label: string): RandomSource {
    return deriveRandom(this.seed, `app:${label}`);
  }

  /**
   * Registers `endpoint` at `address`, then drains its transmits and reads
   * its timeout at the current time. Throws if the address is taken.
   */
  addNode(address: PeerAddress, endpoint: SansIoEndpoint, options: SimNodeOptions = {}): void {
    if (this.nodes.has(address)) throw new Error(`SimNetwork: a node is already registered at ${address}`);
    if (options.receiveBatchMs !== undefined && !(options.receiveBatchMs >= 0)) throw new RangeError(`SimNetwork: receiveBatchMs must be ≥ 0, got ${options.receiveBatchMs}`);
    const node: NodeState = {
      address,
      endpoint,
      onActivity: options.onActivity,
      timerGen: 0,
      timerAt: undefined,
      lastFireAt: -Infinity,
      firesAtInstant: 0,
      idleFires: 0,
      receiveBatchMs: options.receiveBatchMs,
      batch: [],
    };
    this.nodes.set(address, node);
    this.service(node);
  }

  /** Unregisters a node; datagrams still in flight to it are dropped as no-route. */
  removeNode(address: PeerAddress): boolean {
    const node = this.nodes.get(address);
    if (node === undefined) return false;
    node.timerGen++;
    node.timerAt = undefined;
    return this.nodes.delete(address);
  }

  /**
   * Moves the node at `address` to `to`, as a NAT that gives its mapping a
   * new port does (or, `to` on another host, a client whose IP address
   * changed: give the new path its own links with `setLinks`): from now on its datagrams come from `to` and datagrams
   * to `to` reach it, while datagrams to `address` (also those already in
   * flight) are dropped as no-route. Datagrams it sent before are still
   * delivered as from `address`. The links of `address` set with `setLink`
   * are copied to `to` (the network path is the same one); their stats stay
   * with `address`. Throws if no node is at `address` or one is at `to`.
   */
  rebind(address: PeerAddress, to: PeerAddress): void {
    const node = this.nodes.get(address);
    if (node === undefined) throw new Error(`SimNetwork.rebind: no node at ${address}`);
    if (this.nodes.has(to)) throw new Error(`SimNetwork: a node is already registered at ${to}`);
    this.nodes.delete(address);
    node.address = to;
    this.nodes.set(to, node);
    for (const [peer, link] of this.links.get(address) ?? []) if (link.explicit) this.setLink(to, peer, link.impairment.config);
    for (const [from, row] of this.links) {
      const link = row.get(address);
      if (link?.explicit === true) this.setLink(from, to, link.impairment.config);
    }
  }

  /** The endpoint registered at `address`. */
  endpoint(address: PeerAddress): SansIoEndpoint | undefined {
    return this.nodes.get(address)?.endpoint;
  }

  /** Sets the default link (directions without their own `setLink` follow it). */
  setDefaultLink(config: LinkConfig): void {
    this.defaultCfg = checkedLinkConfig(config);
    for (const row of this.links.values()) {
      for (const link of row.values()) if (!link.explicit) link.impairment.config = this.defaultCfg;
    }
  }

  /**
   * Sets the link from `from` to `to` (one direction). The config replaces
   * the default for that direction; it is not merged with it
   * (`{ ...sim.defaultLink, loss: 0.1 }` to merge).
   */
  setLink(from: PeerAddress, to: PeerAddress, config: LinkConfig): void {
    const link = this.link(from, to);
    link.impairment.config = config;
    link.explicit = true;
  }

  /** Sets both directions between `a` and `b` to `config`. */
  setLinks(a: PeerAddress, b: PeerAddress, config: LinkConfig): void {
    this.setLink(a, b, config);
    this.setLink(b, a, config);
  }

  /** Counters of the direction `from` → `to` (zeros if nothing was sent). */
  linkStats(from: PeerAddress, to: PeerAddress): LinkStats {
    const link = this.links.get(from)?.get(to);
    return link === undefined ? emptyLinkStats() : { ...link.impairment.stats };
  }

  /** Counters summed over every link. */
  totals(): LinkStats {
    const sum = emptyLinkStats();
    for (const row of this.links.values()) for (const link of row.values()) addLinkStats(sum, link.impairment.stats);
    return sum;
  }

  /** Runs `fn(now)` at virtual time `at` (≥ now). Ties run in scheduling order. */
  schedule(at: number, fn: (now: number) => void): void {
    if (!(at >= this.clock)) throw new RangeError(`SimNetwork.schedule: time ${at} is before now (${this.clock})`);
    this.heap.push(new SimEvent(at, this.seqCounter++, TASK, '', '', undefined, undefined, undefined, 0, fn));
  }

  /**
   * Tells the network the app changed the node at `address` (e.g. called
   * `send` or `close`): drains its transmits now and re-reads its timeout.
   */
  wake(address: PeerAddress): void {
    const node = this.nodes.get(address);
    if (node === undefined) throw new Error(`SimNetwork.wake: no node at ${address}`);
    this.service(node);
  }

  /** Processes the next event. Returns `false` when none remain. */
  step(): boolean {
    const ev = this.nextLive();
    if (ev === undefined) return false;
    this.heap.pop();
    this.process(ev);
    return true;
  }

  /** Processes every event due at or before `time`, then sets the clock to `time`. */
  runUntil(time: number): void {
    for (;;) {
      const ev = this.nextLive();
      if (ev === undefined || ev.at > time) break;
      this.heap.pop();
      this.process(ev);
    }
    if (time > this.clock) this.clock = time;
  }

  /** `runUntil(now + ms)`. */
  runFor(ms: number): void {
    this.runUntil(this.clock + ms);
  }

  /**
   * Runs until no events remain (returns `true`; the clock stays at the last
   * event) or the next event is after `limitTime` (returns `false`; the clock
   * is set to `limitTime`).
   */
  runUntilIdle(limitTime: number): boolean {
    for (;;) {
      const ev = this.nextLive();
      if (ev === undefined) return true;
      if (ev.at > limitTime) {
        if (limitTime > this.clock) this.clock = limitTime;
        return false;
      }
      this.heap.pop();
      this.process(ev);
    }
  }

  private nextLive(): SimEvent | undefined {
    for (;;) {
      const ev = this.heap.peek();
      if (ev === undefined || ev.kind !== TIMER || ev.gen === ev.node?.timerGen) return ev;
      this.heap.pop();
    }
  }

  private process(ev: SimEvent): void {
    if (ev.at > this.instantAt) {
      this.instantAt = ev.at;
      this.instantEvents = 0;
    }
    if (++this.instantEvents > this.maxEventsPerInstant) {
      throw new Error(
        `SimNetwork: more than ${this.maxEventsPerInstant} events at virtual time ${ev.at} ms; ` +
          'some endpoint or task is looping without letting time advance',
      );
    }
    this.clock = ev.at;
    this.processed++;
    if (ev.kind === DELIVER) this.deliver(ev.to, ev.from, ev.data as Uint8Array, ev.link as LinkState);
    else if (ev.kind === TIMER) this.fireTimer(ev.node as NodeState);
    else (ev.fn as (now: number) => void)(this.clock);
  }

  private deliver(to: PeerAddress, from: PeerAddress, data: Uint8Array, link: LinkState): void {
    const node = this.nodes.get(to);
    const stats = link.impairment.stats;
    if (node === undefined) {
      stats.droppedNoRoute++;
      return;
    }
    stats.deliveredDatagrams++;
    stats.deliveredBytes += data.length;
    if (node.receiveBatchMs !== undefined) {
      node.batch.push({ data, from });
      if (node.batch.length === 1) this.schedule(this.clock + node.receiveBatchMs, () => this.readBatch(node));
      return;
    }
    node.endpoint.handleDatagram(this.clock, data, from);
    node.onActivity?.(this.clock);
    this.service(node);
  }

  /** The batch read of `receiveBatchMs`: every datagram waiting, then one `onActivity` and one drain. */
  private readBatch(node: NodeState): void {
    const batch = node.batch.splice(0);
    // Removed meanwhile: what it had not read is lost with it, as a closed socket's queue.
    if (this.nodes.get(node.address) !== node) return;
    for (const d of batch) node.endpoint.handleDatagram(this.clock, d.data, d.from);
    node.onActivity?.(this.clock);
    this.service(node);
  }

  private fireTimer(node: NodeState): void {
    const now = this.clock;
    if (node.lastFireAt === now) {
      if (++node.firesAtInstant > this.maxTimerFiresPerInstant) {
        throw new Error(
          `SimNetwork: the timer of node ${node.address} fired ${node.firesAtInstant} times at virtual time ${now} ms; ` +
            'its pollTimeout() keeps returning a deadline ≤ now after handleTimeout(now)',
        );
      }
    } else {
      node.firesAtInstant = 1;
    }
    const sinceLastFire = now - node.lastFireAt;
    node.lastFireAt = now;
    node.timerAt = undefined;
    node.endpoint.handleTimeout(now);
    node.onActivity?.(now);
    const sent = this.service(node);
    if (sent > 0 || sinceLastFire >= 1) {
      node.idleFires = 0;
    } else if (++node.idleFires > this.maxIdleTimerFires) {
      throw new Error(
        `SimNetwork: the timer of node ${node.address} fired ${node.idleFires} times in a row, each within 1 ms of the last ` +
          `(now ${now} ms), and the node sent nothing: a timer that makes no progress (its deadline keeps coming due again)`,
      );
    }
  }

  /** Drains the node's transmits and (re)arms its single timer entry; returns how many datagrams it sent. */
  private service(node: NodeState): number {
    if (this.nodes.get(node.address) !== node) return 0;
    const now = this.clock;
    let n = 0;
    for (; ; n++) {
      const t = node.endpoint.pollTransmit(now);
      if (t === undefined) break;
      if (n >= this.maxTransmitsPerDrain) {
        throw new Error(`SimNetwork: node ${node.address} produced more than ${this.maxTransmitsPerDrain} datagrams in one drain`);
      }
      this.send(node.address, t.to, t.data);
    }
    const deadline = node.endpoint.pollTimeout();
    if (deadline === node.timerAt) return n;
    if (deadline !== undefined && Number.isNaN(deadline)) {
      throw new Error(`SimNetwork: node ${node.address} returned NaN from pollTimeout()`);
    }
    node.timerGen++;
    node.timerAt = deadline;
    if (deadline !== undefined) {
      const at = Math.max(deadline, now);
      this.heap.push(new SimEvent(at, this.seqCounter++, TIMER, '', '', undefined, undefined, node, node.timerGen, undefined));
    }
    return n;
  }

  private send(from: PeerAddress, to: PeerAddress, data: Uint8Array): void {
    const link = this.link(from, to);
    for (const d of link.impairment.transmit(this.clock, data)) {
      this.heap.push(new SimEvent(d.at, this.seqCounter++, DELIVER, from, to, d.data, link, undefined, 0, undefined));
    }
  }

  private link(from: PeerAddress, to: PeerAddress): LinkState {
    let row = this.links.get(from);
    if (row === undefined) {
      row = new Map();
      this.links.set(from, row);
    }
    let link = row.get(to);
    if (link === undefined) {
      link = { impairment: new LinkImpairment(this.defaultCfg, deriveRandom(this.seed, `link:${from}>${to}`)), explicit: false };
      row.set(to, link);
    }
    return link;
  }
}
