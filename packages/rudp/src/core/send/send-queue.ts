/**
 * The send queue: messages in the order the application sent them, cut into
 * chunks as they start to leave, and the bookkeeping of which messages the
 * peer has whole. A message not sent at all yet is only its bytes in a list:
 * its `OutgoingMessage` is made as its first chunk leaves. A writer keeps up
 * to its high-water mark queued (a megabyte of `writableLength`, each message
 * counted 256 bytes longer: 3,277 messages of 64 bytes, 4,096 empty ones),
 * and an object made for each at queue time took 159 bytes of heap where a
 * slot takes 8 to 23 (bench `queued-message-heap.ts`), and was cold in the
 * cache by the time it left. New data leaves in queue order, as far as the peer's flow-control credit allows. Unreliable
 * messages (datagrams) wait in a queue of their own: they take no message id
 * and no flow-control credit (a lost one would never be read, and its credit
 * never returned), and leave ahead of reliable data, once.
 */
import { MAX_MESSAGES_AHEAD, creditOf } from '../credit.js';
import type { FlowControl } from '../flow-control.js';
import { type Delivery, channelFrameSize, datagramFrameSize, fragmentHeaderBound, fragmentHeaderSize, writeDatagram } from '../../wire/frame.js';
import type { PacketWriter } from '../../wire/packet.js';
import { varintSize } from '../../wire/varint.js';
import { type ChunkRef, DetachedBytesError, OutgoingMessage, checkAttached, writeChunk } from './outgoing-message.js';
import { emptyArray, pushOnto } from '../shared-empty.js';
import { DEFAULT_DATAGRAM_SEND_BUFFER } from '../config.js';

/** Sent or discarded datagram slots at the head of the queue before it is compacted. */
const COMPACT_AFTER = 1024;

/** Fewest data bytes worth starting a message in the room a packet has left (below, it starts in the next packet). */
const MIN_FIRST_CHUNK = 64;

/** What hears of each one-chunk message as it leaves (the repair policy). */
export interface SmallMessageLog {
  rememberSmall(now: number, m: OutgoingMessage): void;
}

/** An unreliable message waiting for its packet. */
interface QueuedDatagram {
  readonly channel: number;
  readonly data: Uint8Array;
  /** Its length at `pushDatagram`, as the queue counted it (a length-tracking view may change: see `checkAttached`). */
  readonly length: number;
}

/**
 * The datagrams waiting to leave (`SendQueue.pushDatagram`), made at the first: a connection that
 * sends none (most: the reliable messages are the common case) carries one field for them, not five.
 */
class DatagramQueue {
  /** Datagrams not sent yet, oldest first from `head` (sent slots are emptied). */
  items: (QueuedDatagram | undefined)[] = emptyArray();
  head = 0;
  bytes = 0;
  /** `creditOf` the datagrams not sent yet: what the budget bounds. */
  credit = 0;
  /** Datagrams discarded before they left: the oldest give way once those waiting exceed the budget. */
  discarded = 0;

  /** Whether a datagram waits. */
  get any(): boolean {
    return this.head < this.items.length;
  }

  /** Removes the oldest datagram waiting and returns it (the caller checked there is one). */
  take(): QueuedDatagram {
    const d = this.items[this.head] as QueuedDatagram;
    this.items[this.head++] = undefined;
    this.bytes -= d.length;
    this.credit -= creditOf(d.length);
    return d;
  }

  /** Lets go of every datagram waiting (the count of those discarded stays). */
  clear(): void {
    this.items = emptyArray();
    this.head = 0;
    this.bytes = 0;
    this.credit = 0;
  }
}

/** A waiting message with a CHANNEL frame (most have none: they wait as their bytes alone). */
interface Annotated {
  readonly data: Uint8Array;
  readonly delivery: Delivery;
}

/** The bytes of a waiting message. */
const bytesOf = (m: Uint8Array | Annotated): Uint8Array => (m instanceof Uint8Array ? m : m.data);

/**
 * The queue whose message first began in the packet being written, and that message's id, until the packet
 * has left (`packetLeft`). If it never leaves (a plug-in threw sealing or counting it, or a later message's
 * bytes were detached: the connection then ends), that message never left either: `firstUnsentId` answers it
 * once `packetLost` said so. Shared, as the packet scratch is (send/packet-scratch.ts): one packet is written
 * at a time, and a field of each queue would be memory every idle connection holds.
 */
let begunIn: SendQueue | undefined;
let begunId = -1;
/**
 * The packet being written was lost (`packetLost`). Not inferred from `begunIn` alone: a plug-in's callback
 * that ends the connection while its packet is still being written (a controller's `onPacketSent` calling
 * `destroy()`) asks `firstUnsentId` of a packet that then leaves, and its message was reported unsent.
 */
let begunLost = false;

/** Queued messages of one connection. */
export class SendQueue {
  /** Messages whose first chunk has left, in send order; slots before `head` are acknowledged and emptied. Only the last may have chunks never sent. */
  private outbox: (OutgoingMessage | undefined)[] = emptyArray();
  private head = 0;
  /** Messages not sent at all yet, oldest first from `waitingHead` (taken slots are emptied): the bytes, or with a CHANNEL frame, both. */
  private waiting: (Uint8Array | Annotated | undefined)[] = emptyArray();
  private waitingHead = 0;
  /**
   * Stream offset (in window credit, `creditOf` each message) of `waiting[waitingHead]` (its id follows
   * from `nextMessageId`). Declared bare and set in the constructor: a field V8 first sees as a small
   * integer (`= 0`) becomes a 16-byte box in every connection once one passes 2^31 (2 GiB sent).
   */
  private waitingStart: number;
  private nextMessageId = 0;
  /** Id of the last ordered message on channel 0 (-1: none): the default path needs no map lookup. */
  private lastOrderedZero = -1;
  /** Id of the last ordered message on each other channel. */
  private lastOrdered: Map<number, number> | undefined;
  /** Datagrams waiting to leave (`undefined` until the first). */
  private datagrams: DatagramQueue | undefined;
  /** Packet bytes between header and checksum at the datagram size in use now (path MTU discovery raises it). */
  private packetRoom: number;

  constructor(
    private readonly flow: FlowControl,
    /** Packet bytes between header and checksum at the base datagram size: a datagram always fits them. */
    private readonly payloadRoom: number,
    /** Messages up to this size always leave in one piece (the ones repairs and tail copies cover whole). */
    private readonly keepWholeBytes = 0,
    /** Most credit (`creditOf`, each one's bytes and 256) of datagrams waiting to leave (see `pushDatagram`). */
    private readonly datagramBudget = DEFAULT_DATAGRAM_SEND_BUFFER,
  ) {
    this.packetRoom = payloadRoom;
    this.waitingStart = 0;
  }

  /** The datagram size changed: messages not sent yet are cut to fill packets of `room` payload bytes. */
  setPacketRoom(room: number): void {
    this.packetRoom = room;
  }

  /** Queues `data` as the next reliable message, on `channel`, ordered within it or not; returns its id. */
  push(data: Uint8Array, channel = 0, ordered = true): number {
    const id = this.nextMessageId++;
    const delivery = this.deliveryOf(id, channel, ordered);
    this.waiting = pushOnto(this.waiting, delivery === undefined ? data : { data, delivery });
    return id;
  }

  /** The message `id` once its first chunk left, until it is acknowledged and compacted away. */
  message(id: number): OutgoingMessage | undefined {
    const first = this.outbox[this.head];
    return first === undefined ? undefined : this.outbox[this.head + id - first.id];
  }

  /** Largest datagram on `channel` that fits a packet on its own. */
  maxDatagramSize(channel: number): number {
    // The length varint is sized for the whole payload room: a byte short of the exact bound at worst.
    return this.payloadRoom - datagramFrameSize(channel, 0) + 1 - varintSize(this.payloadRoom);
  }

  /**
   * Throws {@link DetachedBytesError} if the first message waiting is longer than `max` (`maxMessageSize`): a
   * length-tracking view grown after `send` checked it, which the peer's window can never take. It would wait
   * for good, and every message after it with it (`mayStart` only waits); as a detached one, it ends the connection.
   */
  checkWaitingFits(max: number): void {
    const next = this.waiting[this.waitingHead];
    if (next !== undefined && bytesOf(next).length > max) throw new DetachedBytesError(this.firstWaitingId());
  }

  /** Bytes of the largest reliable message not sent at all yet (0: none). */
  largestWaiting(): number {
    let n = 0;
    for (let i = this.waitingHead; i < this.waiting.length; i++) n = Math.max(n, bytesOf(this.waiting[i] as Uint8Array | Annotated).length);
    return n;
  }

  /**
   * Queues `data` as an unreliable message on `channel` (the caller checked it fits a packet). Once the
   * datagrams waiting take more than `datagramBudget`, the oldest give way (`datagramsDiscarded`), the
   * newest always stays, as quinn drops datagrams: an application sending faster than congestion control
   * lets them leave would otherwise grow the queue without bound, and a datagram held back that long is
   * stale by the time it could leave.
   */
  pushDatagram(data: Uint8Array, channel: number): void {
    const q = (this.datagrams ??= new DatagramQueue());
    q.items = pushOnto(q.items, { channel, data, length: data.length });
    q.bytes += data.length;
    q.credit += creditOf(data.length);
    while (q.credit > this.datagramBudget && q.head < q.items.length - 1) {
      q.take();
      q.discarded++;
    }
    // A queue that never empties (discarding, or sending as fast as the app queues) would keep every slot
    // behind its head: drop them once they are most of the array.
    if (q.head >= COMPACT_AFTER && 2 * q.head >= q.items.length) {
      q.items = q.items.slice(q.head);
      q.head = 0;
    }
  }

  /** Datagrams discarded before they left (see `pushDatagram`). */
  get datagramsDiscarded(): number {
    return this.datagrams?.discarded ?? 0;
  }

  /** Stream offset (window credit) past every message whose first chunk has left: the most the peer can have read. */
  get startedStreamEnd(): number {
    return this.waitingStart;
  }

  /** Whether a chunk never sent (flow control permitting) or a datagram may leave now. */
  hasNewData(): boolean {
    return this.datagrams?.any === true || this.hasNewReliableData();
  }

  /** Whether a chunk never sent may leave now (flow control permitting): new data that carries repairs. */
  hasNewReliableData(): boolean {
    const m = this.sending();
    if (m !== undefined) return this.flow.allows(m.streamEnd);
    return this.mayStart(this.waiting[this.waitingHead]);
  }

  /**
   * Whether the first waiting message (`next`) may start to leave: the peer's
   * window has room for all of it, and its id is within `MAX_MESSAGES_AHEAD`
   * of the oldest message not acknowledged whole. The receiver refuses either
   * (see credit.ts), and empty messages take little credit: a stream
   * of them with one lost had the receiver refuse, yet acknowledge, the
   * 65,536th message on, and they were lost.
   */
  private mayStart(next: Uint8Array | Annotated | undefined): boolean {
    if (next === undefined || !this.flow.allows(this.waitingStart + creditOf(bytesOf(next).length))) return false;
    const id = this.firstWaitingId();
    let oldest = this.outbox[this.head];
    // Compacted only when the horizon seems reached: its front may be acknowledged already.
    if (oldest !== undefined && id - oldest.id >= MAX_MESSAGES_AHEAD) {
      this.compact();
      oldest = this.outbox[this.head];
    }
    return oldest === undefined || id - oldest.id < MAX_MESSAGES_AHEAD;
  }

  /** Id of `waiting[waitingHead]`, the first message not sent at all yet. */
  private firstWaitingId(): number {
    return this.nextMessageId - (this.waiting.length - this.waitingHead);
  }

  /**
   * Id of the first reliable message none of whose chunks has left: the first one written into a packet that
   * never left (`packetLost`: the packet was lost to a throw before it was sent; one still being written, as a
   * plug-in's callback ends the connection, leaves after, and counts as sent), else the one begun but held
   * for the next packet (its first chunk did not fit this one), or else the first still waiting
   * (`nextMessageId` when none waits). Messages start to leave in id order, so every later id never left either; one with a chunk out,
   * even of several, is sent.
   */
  firstUnsentId(): number {
    if (begunLost && begunIn === this) return begunId;
    const last = this.outbox[this.outbox.length - 1];
    return last !== undefined && last.nextChunk === 0 ? last.id : this.firstWaitingId();
  }

  /** The message whose chunks are leaving, if one has some never sent. */
  private sending(): OutgoingMessage | undefined {
    const m = this.outbox[this.outbox.length - 1];
    return m === undefined || m.allSent ? undefined : m;
  }

  /**
   * Writes never-sent chunks into `w` in queue order while they fit and the
   * peer's credit covers their message; `small` hears of each one-chunk
   * message as it leaves (an object, not a closure: nothing to allocate per
   * packet). Datagrams go first; returns how many left.
   * Chunks not sent yet are cut again when the datagram size changed.
   */
  fillNewData(w: PacketWriter, chunks: ChunkRef[], now: number, small: SmallMessageLog): number {
    // A new packet: the last one left or was lost, and its connection ended then (a throw past
    // `Connection.pollTransmit`, a bug of rudp's, must not leave it to a later packet).
    begunIn = undefined;
    begunLost = false;
    const datagrams = this.fillDatagrams(w);
    this.fillReliable(w, chunks, now, small);
    return datagrams;
  }

  private fillDatagrams(w: PacketWriter): number {
    const q = this.datagrams;
    if (q === undefined) return 0;
    let n = 0;
    while (q.any) {
      const d = q.items[q.head] as QueuedDatagram;
      // Its bytes gone, the queue's byte count of it no longer holds: the connection ends (-1: datagrams have no id).
      checkAttached(d.data, d.length, -1);
      if (datagramFrameSize(d.channel, d.length) > w.room()) break;
      writeDatagram(w, d.channel, q.take().data);
      n++;
    }
    if (q.head === q.items.length) {
      q.items = emptyArray();
      q.head = 0;
    }
    return n;
  }

  private fillReliable(w: PacketWriter, chunks: ChunkRef[], now: number, small: SmallMessageLog): void {
    for (;;) {
      let m = this.sending();
      if (m === undefined) {
        const next = this.waiting[this.waitingHead];
        if (!this.mayStart(next)) return; // the receiver has no room for all of it yet
        m = this.startSending(next as Uint8Array | Annotated);
      } else if (!this.flow.allows(m.streamEnd)) {
        return;
      }
      if (m.nextChunk === 0) this.cutForPacket(m, w.room(), chunks.length > 0);
      else if (m.chunkSize !== this.chunkSizeFor(m)) m.recutUnsent(this.chunkSizeFor(m));
      while (!m.allSent) {
        const idx = m.nextChunk;
        if (!writeChunk(w, m, idx)) return;
        chunks.push({ message: m, index: idx, notBefore: 0 });
        if (idx === 0 && begunIn !== this) {
          begunIn = this;
          begunId = m.id;
        }
        // Owed from now on, unless earlier chunks still are (the wait is counted from the oldest).
        if (!m.awaitingAcknowledgement) m.owedFrom(now);
        m.nextChunk++;
        if (m.chunkCount === 1) small.rememberSmall(now, m);
      }
    }
  }

  /** Makes the `OutgoingMessage` of the first waiting message (`next`), now that it starts to leave. */
  private startSending(next: Uint8Array | Annotated): OutgoingMessage {
    const id = this.firstWaitingId();
    const data = bytesOf(next);
    const delivery = next instanceof Uint8Array ? undefined : next.delivery;
    this.waiting[this.waitingHead] = undefined;
    this.waitingHead++;
    const annotation = delivery === undefined ? 0 : channelFrameSize(delivery);
    const chunkSize = this.packetRoom - annotation - fragmentHeaderBound(id, data.length, this.packetRoom);
    const m = new OutgoingMessage(id, data, this.waitingStart, chunkSize, delivery);
    this.waitingStart += creditOf(data.length);
    if (this.waitingHead === this.waiting.length) {
      // All taken: the shared empty array, so an idle connection keeps no storage.
      this.waiting = emptyArray();
      this.waitingHead = 0;
    } else if (this.waitingHead > 1024 && this.waitingHead * 2 > this.waiting.length) {
      this.waiting.splice(0, this.waitingHead);
      this.waitingHead = 0;
    }
    this.outbox = pushOnto(this.outbox, m);
    return m;
  }

  /**
   * Cuts `m` as it starts to leave: chunks that fill packets of the size in
   * use now, and a first chunk that fills the `room` this packet has left, so
   * back-to-back messages leave no half-empty packets between them. That
   * holds for a message that would fit a packet of its own too, behind other
   * data (`afterData`: a stream of 1 KB messages filled 70% of each packet),
   * except for the small ones (`keepWholeBytes`): repairs and tail copies
   * cover whole messages. Behind an ACK alone it waits for the next packet,
   * whole: cut, it would need both packets to arrive, not one. So does an
   * unordered message: nothing waits for it, so the loss of either packet
   * would delay it alone (an ordered one waits for what came before anyway).
   */
  private cutForPacket(m: OutgoingMessage, room: number, afterData: boolean): void {
    const annotation = m.delivery === undefined ? 0 : channelFrameSize(m.delivery);
    const size = this.chunkSizeFor(m);
    const first = room - annotation - fragmentHeaderSize(m.id, m.length, 0, room);
    const keepWhole = !afterData || m.length <= this.keepWholeBytes || m.delivery?.ordered === false;
    if (m.length <= size && (keepWhole || m.length <= first || first < MIN_FIRST_CHUNK)) {
      if (m.chunkCount !== 1) m.cut(size, size);
      return;
    }
    const start = first >= MIN_FIRST_CHUNK ? Math.min(first, size) : size;
    if (start !== m.firstChunkSize || size !== m.chunkSize) m.cut(start, size);
  }

  /** Data bytes of a chunk of `m` that fills a packet of the size in use now. */
  private chunkSizeFor(m: OutgoingMessage): number {
    const annotation = m.delivery === undefined ? 0 : channelFrameSize(m.delivery);
    return this.packetRoom - annotation - fragmentHeaderBound(m.id, m.length, this.packetRoom);
  }

  /**
   * The peer has every message below `next` (some rebuilt from repairs, in
   * packets we count as lost); `onComplete` hears of each message this completes.
   */
  ackBelow(next: number, onComplete: (m: OutgoingMessage) => void): void {
    for (let i = this.head; i < this.outbox.length; i++) {
      const m = this.outbox[i] as OutgoingMessage;
      // Only what was sent can have arrived; a larger claim is ignored.
      if (m.id >= next || !m.allSent) break;
      for (let c = 0; c < m.chunkCount; c++) if (m.ack(c)) onComplete(m);
    }
    this.compact();
  }

  /** The oldest message whose first chunk left and that the peer does not have whole yet (`undefined`: none). */
  oldestUnacknowledged(): OutgoingMessage | undefined {
    this.compact();
    return this.outbox[this.head];
  }

  /** Drops acknowledged messages from the front. */
  compact(): void {
    while (this.head < this.outbox.length && (this.outbox[this.head] as OutgoingMessage).complete) {
      // Drop the acknowledged message now: the slot may wait for 64 more before the splice, and a
      // large message would keep its bytes alive that long.
      this.outbox[this.head] = undefined;
      this.head++;
    }
    if (this.head === this.outbox.length) {
      // All acknowledged: the shared empty array, so an idle connection keeps no storage.
      this.outbox = emptyArray();
      this.head = 0;
    } else if (this.head > 64 && this.head * 2 > this.outbox.length) {
      this.outbox.splice(0, this.head);
      this.head = 0;
    }
  }

  /** The packet `fillNewData` last wrote into has left: the messages begun in it are sent (see `firstUnsentId`). */
  packetLeft(): void {
    begunIn = undefined;
    begunLost = false;
  }

  /** The packet being written threw before it left (`Connection.pollTransmit`): the messages begun in it never left (see `firstUnsentId`). */
  packetLost(): void {
    if (begunIn === this) begunLost = true;
  }

  /**
   * Lets go of every message and datagram: the connection ended, and nothing
   * queued will leave or be acknowledged. A server's connection drains for
   * three probe timeouts after it closes, and kept its unacknowledged
   * messages meanwhile: 26 closed connections held 101 MiB of replies the
   * forum server had already uncounted (attack `many-hosts-backlog.ts`).
   */
  discard(): void {
    if (begunIn === this) {
      begunIn = undefined;
      begunLost = false;
    }
    this.outbox = emptyArray();
    this.head = 0;
    this.waiting = emptyArray();
    this.waitingHead = 0;
    this.datagrams?.clear();
  }

  /** Whether the peer has every queued reliable message and every datagram has left. */
  allAcked(): boolean {
    this.compact();
    return this.head >= this.outbox.length && this.waitingHead >= this.waiting.length && this.datagrams?.any !== true;
  }

  /**
   * Whether everything never sent (datagrams, reliable messages and the unsent rest of one begun) fits one packet at the
   * base size: a sender of small messages, not a backlog. The loop stops once one packet is exceeded.
   */
  newDataFitsOnePacket(): boolean {
    const m = this.sending();
    // A message begun at the end of a packet has the rest of it still to go.
    let n = (this.datagrams?.bytes ?? 0) + (m === undefined ? 0 : m.length - m.offsetOf(m.nextChunk));
    for (let i = this.waitingHead; i < this.waiting.length && n <= this.payloadRoom; i++) n += bytesOf(this.waiting[i] as Uint8Array | Annotated).length;
    return n <= this.payloadRoom;
  }

  /** Bytes of reliable messages queued but not yet acknowledged by the peer, and of datagrams not yet sent. */
  get bufferedAmount(): number {
    let n = this.datagrams?.bytes ?? 0;
    for (let i = this.waitingHead; i < this.waiting.length; i++) n += bytesOf(this.waiting[i] as Uint8Array | Annotated).length;
    for (let i = this.head; i < this.outbox.length; i++) {
      const m = this.outbox[i] as OutgoingMessage;
      if (!m.complete) n += m.length;
    }
    return n;
  }

  /**
   * The CHANNEL frame of message `id`; `undefined` for the default delivery:
   * channel 0, ordered, right after another such message (its predecessor is
   * the id just below, which the receiver assumes for a message without one).
   */
  private deliveryOf(id: number, channel: number, ordered: boolean): Delivery | undefined {
    if (!ordered) return { channel, ordered: false, predecessorDelta: 0 };
    let prev: number;
    if (channel === 0) {
      prev = this.lastOrderedZero;
      this.lastOrderedZero = id;
      if (prev === id - 1) return undefined;
    } else {
      prev = this.lastOrdered?.get(channel) ?? -1;
      // Created for the first channel other than 0: an empty Map costs ~190 bytes per connection.
      (this.lastOrdered ??= new Map()).set(channel, id);
    }
    return { channel, ordered: true, predecessorDelta: prev < 0 ? 0 : id - prev };
  }
}
