/**
 * Chunks waiting to be sent again: resends of chunks in lost packets, their
 * spaced redundant copies, probe resends and proactive tail copies. Each
 * entry is dropped as soon as it has no purpose left (its chunk was
 * acknowledged, or a tail copy has later data to ride on).
 */
import type { PacketWriter } from '../../wire/packet.js';
import type { SentPacket } from '../recovery/sent-packet.js';
import { channelFrameSize, fragmentHeaderBound } from '../../wire/frame.js';
import { type ChunkRef, type OutgoingMessage, chunkFits, chunkWireSize, writeChunk } from './outgoing-message.js';
import { emptyArray, isSharedEmpty, pushOnto } from '../shared-empty.js';
import { QueueTally } from './queue-tally.js';

/** Spacing of a resend's copies where losses come in runs, ms. */
const BURST_COPY_SPACING_MS = 15;
/**
 * `packetRoom` before the datagram size first changes: larger than any packet. A small integer
 * rather than Infinity, which V8 would keep as a boxed number in every connection.
 */
const UNLIMITED_ROOM = 2 ** 30;

/** The settings resends read. */
export interface RetransmitConfig {
  /** Extra copies sent of each resent one-packet message. */
  readonly redundantCopies: number;
  /** Delay between a resend and each redundant copy, ms. */
  readonly redundantSpacingMs: number;
}

/** The resend queue of one connection. */
export class RetransmitQueue {
  /** The shared empty array while nothing is queued (see shared-empty.ts). */
  private queue: ChunkRef[] = emptyArray();
  /** Counts, times and sizes of the entries of `queue` (`undefined` while it is empty): told of every entry added and dropped. */
  private tally: QueueTally | undefined;
  /** When a packet last carried new (never sent) data (`undefined`: never, not -Infinity, which would be boxed). */
  private lastNewDataAt: number | undefined;
  /**
   * Payload bytes of a packet at the datagram size in use now: a chunk cut for a larger one goes in
   * pieces. Unlimited until the size first changes (chunks are cut for the base size).
   */
  packetRoom = UNLIMITED_ROOM;

  constructor(
    private readonly config: RetransmitConfig,
    /** Which packets are still in flight (a resend held for repairs waits on one). */
    private readonly packets: { inFlight(pn: number): boolean },
  ) {}

  /** Entries queued (some may not be ready yet). */
  get length(): number {
    return this.queue.length;
  }

  /**
   * Whether anything but tail copies is queued. Tail copies are optional
   * redundancy, not data the sender is held back from: with only them queued
   * the sender is app-limited, and BBR must not grow its window on the
   * delivery rate it sees then.
   */
  hasResends(): boolean {
    // Counted, not looked for: this runs for every packet sent.
    return this.tally !== undefined && this.tally.resends > 0;
  }

  /**
   * Queues the unacknowledged chunks of lost packet `p`, with spaced copies of one-packet messages.
   * `holdForRepairs` false: the repairs after it were likely lost too (a run of losses), so a resend
   * does not wait for their fate. `copies`: spaced copies of each (default `redundantCopies`);
   * `bursty`: losses come in runs, so the copies are spaced a packet interval apart (the next
   * packets of new data carry them, past more of the run) rather than `redundantSpacingMs`.
   */
  requeueLost(now: number, p: SentPacket, holdForRepairs = true, copies = this.config.redundantCopies, bursty = false): void {
    const spacing = bursty ? Math.max(this.config.redundantSpacingMs, BURST_COPY_SPACING_MS) : this.config.redundantSpacingMs;
    for (const c of p.chunks) {
      // A proactive copy's loss changes nothing: the packet that first carried it decides the resend.
      if (c.message.isAcked(c.index, c.piece) || c.redundant === true) continue;
      // Several lost packets may have carried the chunk (a resend lost in the same run as the
      // original): one resend waiting is enough, or each would leave in a packet of its own.
      // Only for one-chunk messages: a bulk transfer's chunk is lost once per packet that carried it.
      const waiting = c.message.chunkCount === 1 ? this.tally?.index?.waitingFor(now, c) : undefined;
      if (waiting === 'resend') continue;
      // A message covered by later repairs may be rebuilt by the peer, whose MESSAGE_ACK then
      // rides on the ACK of the repair that completed it: resending before that ACK wastes bytes.
      const afterRepairs = holdForRepairs && c.message.lastRepairPn > p.pn;
      this.push({ message: c.message, index: c.index, piece: c.piece, notBefore: 0, afterRepairs });
      // Copies buy latency for one-packet messages; for chunks of bulk data they only spend bandwidth.
      // Spaced copies still waiting from an earlier loss of the chunk serve this resend too.
      if (c.message.chunkCount !== 1 || waiting === 'copy') continue;
      for (let k = 1; k <= copies; k++) {
        this.push({ message: c.message, index: c.index, notBefore: now + k * spacing, afterRepairs });
      }
    }
  }

  /**
   * Probe: re-sends the live chunks of the oldest packet that has any,
   * without declaring it lost. Returns false if nothing in flight has data
   * (the probe must then be a PING).
   */
  queueProbe(now: number, inFlight: Iterable<SentPacket>): boolean {
    for (const p of inFlight) {
      const live = p.chunks.filter((c) => !c.message.isAcked(c.index, c.piece));
      if (live.length > 0) {
        if (isSharedEmpty(this.queue)) this.queue = [];
        for (const c of live) {
          const r: ChunkRef = { message: c.message, index: c.index, piece: c.piece, notBefore: now };
          this.queue.unshift(r);
          this.added(r);
        }
        return true;
      }
    }
    return false;
  }

  /** Queues a proactive tail copy of one-packet message `m`, not before `notBefore`. */
  queueTailCopy(m: OutgoingMessage, notBefore: number): void {
    this.push({ message: m, index: 0, notBefore, tail: true });
  }

  /** Appends entry `r`. */
  private push(r: ChunkRef): void {
    this.queue = pushOnto(this.queue, r);
    this.added(r);
  }

  /** Entry `r` joined the queue: the tally learns of it. */
  private added(r: ChunkRef): void {
    const t = (this.tally ??= new QueueTally());
    t.add(r);
    // Not expected (what is queued is unacknowledged, a tail copy is of a message just sent), but then the next prune looks.
    if (!this.stillWanted(r)) t.stale = true;
  }

  /** Entry `r` left the queue (sent, or without a purpose): the tally forgets it, and is dropped once empty. */
  private dropped(r: ChunkRef): void {
    if (this.tally !== undefined && this.tally.remove(r)) this.tally = undefined;
  }

  /** A packet carried new data at `now` (tail copies of earlier messages lose their purpose). */
  noteNewData(now: number): void {
    this.lastNewDataAt = now;
    if (this.tally !== undefined && this.tally.tails > 0) this.tally.stale = true;
  }

  /**
   * Whether a wanted entry is ready at `now`, without pruning. Called per packet sent: it looks no
   * further than the first ready entry, and at none while nothing is due.
   */
  hasReady(now: number): boolean {
    // Nothing is due yet (a queue of spaced copies waiting): no walk.
    if (this.earliest() > now) return false;
    // Index loops, not `some` with a closure over `now`: called at least once per packet sent.
    const q = this.queue;
    for (let i = 0; i < q.length; i++) {
      const r = q[i] as ChunkRef;
      if (this.stillWanted(r) && this.ready(now, r)) return true;
    }
    return false;
  }

  /**
   * Drops entries without a purpose; returns whether one is ready to go at `now`. Called for every
   * packet polled: the queue is looked through only when an entry may have lost its purpose since
   * the last time (`noteAcked`, new data past tail copies).
   */
  pruneAndCheckReady(now: number): boolean {
    const t = this.tally;
    if (t === undefined) return false;
    if (t.stale) this.prune(t);
    return this.hasReady(now);
  }

  /** Drops the entries without a purpose. */
  private prune(t: QueueTally): void {
    t.stale = false;
    const q = this.queue;
    // Kept entries move down in place: nothing is allocated unless the queue empties.
    let kept = 0;
    for (let i = 0; i < q.length; i++) {
      const r = q[i] as ChunkRef;
      if (this.stillWanted(r)) q[kept++] = r;
      else this.dropped(r);
    }
    if (kept === 0) this.queue = emptyArray();
    else q.length = kept;
  }

  /**
   * Chunks of this connection's messages were acknowledged: queued entries of them lost their
   * purpose, to be dropped before the next packet. Every acknowledgement must be told, or
   * acknowledged entries would stay queued (they are never sent: every use asks `stillWanted`).
   */
  noteAcked(): void {
    if (this.tally !== undefined) this.tally.stale = true;
  }

  /**
   * Writes ready entries into `w` while they fit. `newDataFollows`: this
   * packet will carry new data, which carries repairs, so tail copies are
   * moot. Returns whether anything was written.
   */
  fill(now: number, w: PacketWriter, chunks: ChunkRef[], newDataFollows: boolean): boolean {
    const q = this.queue;
    if (q.length === 0 || this.restStays(now, w, newDataFollows, q)) return false;
    let any = false;
    // Kept entries move down in place (no new array per packet); pieces are spliced in after their
    // chunk, ahead of the read position, so they are processed next.
    let kept = 0;
    for (let i = 0; i < q.length; i++) {
      const c = q[i] as ChunkRef;
      if (!this.stillWanted(c) || (c.tail === true && newDataFollows)) {
        this.dropped(c);
        continue;
      }
      // Until the datagram size first changes no chunk is too large: no size to work out.
      if (this.packetRoom !== UNLIMITED_ROOM && c.piece === undefined && chunkWireSize(c.message, c.index) > this.packetRoom) {
        // Cut for a datagram size the path no longer carries: resent in pieces that fit (processed next).
        const pieces = this.pieces(c);
        this.dropped(c);
        for (let k = 0; k < pieces.length; k++) this.added(pieces[k] as ChunkRef);
        q.splice(i + 1, 0, ...pieces);
        continue;
      }
      if (!this.ready(now, c)) {
        q[kept++] = c;
        continue;
      }
      // Whether it fits before whether the packet already carries it: once the packet is full, a
      // search of its chunks for every entry left was most of the CPU of a long queue.
      if (!chunkFits(w, c.message, c.index, c.piece)) {
        q[kept++] = c;
        // Asked only of a long queue's kept times and sizes: a short one is walked to its end, as the
        // first `kept` entries and those after `i` are the queue now, with leftovers between them.
        const t = this.tally as QueueTally;
        if (t.kept && this.restStays(now, w, newDataFollows, q)) {
          // The entries after this one stay as they are: moved down over those that left, in one go.
          if (kept <= i) q.splice(kept, i + 1 - kept);
          kept = q.length;
          break;
        }
        continue;
      }
      if (carries(chunks, c)) {
        q[kept++] = c;
        continue;
      }
      writeChunk(w, c.message, c.index, c.piece);
      chunks.push(c);
      this.dropped(c);
      any = true;
    }
    if (kept === 0) this.queue = emptyArray();
    else q.length = kept;
    return any;
  }

  /**
   * Whether `fill` would leave every entry it has not reached as it is: none is due at `now` or none
   * fits in what `w` has left, none is too large for `packetRoom` (to be cut in pieces), and no tail
   * copy is to be dropped for the new data that follows. Entries without a purpose (acknowledged,
   * overtaken tail copies) are not looked for: `pruneAndCheckReady` dropped them at the start of this
   * packet, as the connection calls it, and nothing is acknowledged while a packet is built.
   */
  private restStays(now: number, w: PacketWriter, newDataFollows: boolean, q: readonly ChunkRef[]): boolean {
    const t = this.tally as QueueTally;
    if (t.earliest(q) <= now && w.room() >= t.smallest(q)) return false;
    if (newDataFollows && t.tails > 0) return false;
    return this.packetRoom === UNLIMITED_ROOM || t.largest(q) <= this.packetRoom;
  }

  /** The earliest time an entry may go (`Infinity`: none queued). */
  earliest(): number {
    // Kept by the tally: this runs for every connection each time its deadline is recomputed.
    return this.tally === undefined ? Number.POSITIVE_INFINITY : this.tally.earliest(this.queue);
  }

  /** Drops everything (the connection is closing). */
  clear(): void {
    this.queue = emptyArray();
    this.tally = undefined;
  }

  /** The pieces of chunk `c` that fit `packetRoom`, those not acknowledged yet. */
  private pieces(c: ChunkRef): ChunkRef[] {
    const m = c.message;
    if (m.pieceSize === 0) {
      const annotation = m.delivery === undefined ? 0 : channelFrameSize(m.delivery);
      m.pieceSize = this.packetRoom - annotation - fragmentHeaderBound(m.id, m.length, this.packetRoom);
    }
    const out: ChunkRef[] = [];
    for (let k = 0; k < m.pieceCount(c.index); k++) {
      if (!m.isAcked(c.index, k)) out.push({ ...c, piece: k });
    }
    return out;
  }

  /** A queued resend may go now. */
  private ready(now: number, c: ChunkRef): boolean {
    return c.notBefore <= now && (c.afterRepairs !== true || !this.packets.inFlight(c.message.lastRepairPn));
  }

  /** A queued resend or copy still has a purpose: its chunk is unacknowledged, and a tail copy has no later data to ride on. */
  private stillWanted(c: ChunkRef): boolean {
    if (c.message.isAcked(c.index, c.piece)) return false;
    return c.tail !== true || (this.lastNewDataAt ?? Number.NEGATIVE_INFINITY) <= c.message.firstSentAt;
  }
}

/** Whether `chunks` holds the chunk (or piece) `c` refers to. */
function carries(chunks: readonly ChunkRef[], c: ChunkRef): boolean {
  for (let i = 0; i < chunks.length; i++) {
    const x = chunks[i] as ChunkRef;
    if (x.message === c.message && x.index === c.index && x.piece === c.piece) return true;
  }
  return false;
}
