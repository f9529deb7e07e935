/**
 * Chunks waiting to be sent again: resends of chunks in lost packets, their
 * spaced redundant copies, probe resends and proactive tail copies. Each
 * entry is dropped as soon as it has no purpose left (its chunk was
 * acknowledged, or a tail copy has later data to ride on).
 */
import type { PacketWriter } from '../../wire/packet.js';
import type { SentPacket } from '../recovery/loss-detection.js';
import { channelFrameSize, fragmentHeaderBound } from '../../wire/frame.js';
import { type ChunkRef, type OutgoingMessage, chunkWireSize, writeChunk } from './outgoing-message.js';
import { emptyArray, isSharedEmpty, pushOnto } from '../shared-empty.js';
import { ResendIndex } from './resend-index.js';

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
  /** The entries of `queue` of one-chunk messages (`undefined` while there are none): told of every entry added and dropped. */
  private index: ResendIndex | undefined;
  /** When a packet last carried new (never sent) data. */
  private lastNewDataAt = Number.NEGATIVE_INFINITY;
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
    // A loop, not `some` with an arrow: this runs for every packet sent, and each arrow is a new function object.
    const q = this.queue;
    for (let i = 0; i < q.length; i++) if ((q[i] as ChunkRef).tail !== true) return true;
    return false;
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
      const waiting = c.message.chunkCount === 1 ? this.index?.waitingFor(now, c) : undefined;
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

  /** Entry `r` joined the queue: the index learns of it. */
  private added(r: ChunkRef): void {
    if (ResendIndex.keeps(r)) (this.index ??= new ResendIndex()).add(r);
  }

  /** Entry `r` left the queue (sent, or without a purpose): the index forgets it, and is dropped once empty. */
  private dropped(r: ChunkRef): void {
    if (this.index !== undefined && ResendIndex.keeps(r) && this.index.remove(r)) this.index = undefined;
  }

  /** A packet carried new data at `now` (tail copies of earlier messages lose their purpose). */
  noteNewData(now: number): void {
    this.lastNewDataAt = now;
  }

  /** Whether a wanted entry is ready at `now`, without pruning (nothing allocated: called per packet sent). */
  hasReady(now: number): boolean {
    // Index loops, not `some` with a closure over `now`: called at least once per packet sent.
    const q = this.queue;
    for (let i = 0; i < q.length; i++) {
      const r = q[i] as ChunkRef;
      if (this.stillWanted(r) && this.ready(now, r)) return true;
    }
    return false;
  }

  /** Drops entries without a purpose; returns whether one is ready to go at `now`. */
  pruneAndCheckReady(now: number): boolean {
    const q = this.queue;
    if (q.length === 0) return false;
    // Kept entries move down in place: nothing is allocated unless the queue empties.
    let kept = 0;
    for (let i = 0; i < q.length; i++) {
      const r = q[i] as ChunkRef;
      if (this.stillWanted(r)) q[kept++] = r;
      else this.dropped(r);
    }
    if (kept === 0) {
      this.queue = emptyArray();
      return false;
    }
    q.length = kept;
    for (let i = 0; i < kept; i++) if (this.ready(now, q[i] as ChunkRef)) return true;
    return false;
  }

  /**
   * Writes ready entries into `w` while they fit. `newDataFollows`: this
   * packet will carry new data, which carries repairs, so tail copies are
   * moot. Returns whether anything was written.
   */
  fill(now: number, w: PacketWriter, chunks: ChunkRef[], newDataFollows: boolean): boolean {
    if (this.queue.length === 0) return false;
    let any = false;
    const keep: ChunkRef[] = [];
    for (let i = 0; i < this.queue.length; i++) {
      const c = this.queue[i] as ChunkRef;
      if (!this.stillWanted(c) || (c.tail === true && newDataFollows)) {
        this.dropped(c);
        continue;
      }
      if (c.piece === undefined && chunkWireSize(c.message, c.index) > this.packetRoom) {
        // Cut for a datagram size the path no longer carries: resent in pieces that fit (processed next).
        const pieces = this.pieces(c);
        this.dropped(c);
        for (let k = 0; k < pieces.length; k++) this.added(pieces[k] as ChunkRef);
        this.queue.splice(i + 1, 0, ...pieces);
        continue;
      }
      if (!this.ready(now, c) || carries(chunks, c)) {
        keep.push(c);
        continue;
      }
      if (!writeChunk(w, c.message, c.index, c.piece)) {
        keep.push(c);
        continue;
      }
      chunks.push(c);
      this.dropped(c);
      any = true;
    }
    this.keep(keep);
    return any;
  }

  /** Makes `entries` the queue: the shared empty array if there are none (an idle connection keeps no array). */
  private keep(entries: ChunkRef[]): void {
    this.queue = entries.length > 0 ? entries : emptyArray();
  }

  /** The earliest time an entry may go (`Infinity`: none queued). */
  earliest(): number {
    let t = Number.POSITIVE_INFINITY;
    const q = this.queue;
    // An index loop: this runs for every connection each time its deadline is recomputed.
    for (let i = 0; i < q.length; i++) t = Math.min(t, (q[i] as ChunkRef).notBefore);
    return t;
  }

  /** Drops everything (the connection is closing). */
  clear(): void {
    this.queue = emptyArray();
    this.index = undefined;
  }

  /** The pieces of chunk `c` that fit `packetRoom`, those not acknowledged yet. */
  private pieces(c: ChunkRef): ChunkRef[] {
    const m = c.message;
    if (m.pieceSize === 0) {
      const annotation = m.delivery === undefined ? 0 : channelFrameSize(m.delivery);
      m.pieceSize = this.packetRoom - annotation - fragmentHeaderBound(m.id, m.data.length, this.packetRoom);
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
    return c.tail !== true || this.lastNewDataAt <= c.message.firstSentAt;
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
