import { PacketType, type PnLength, PacketWriter } from '../wire/packet.js';

/** Most views kept: the header lengths (7, 9), the base size, the sizes path MTU discovery settles on. */
const MAX_KEPT_VIEWS = 16;
/**
 * The packet writer of every endpoint: a packet is written and sealed
 * before the next is started, by whichever endpoint, so one serves all
 * (one per endpoint would be heap every client endpoint holds). Between
 * packets it still points at the last endpoint's buffer: 1,472 bytes at most.
 */
const WRITER = new PacketWriter(new Uint8Array(0), PacketType.Data, 0, 0);

/** Slots of the payload-view cache (`range`), a power of two. */
const RANGE_SLOTS = 8;
/**
 * Views `range` handed out, by `end % RANGE_SLOTS`, the last in each slot.
 * A sealed packet's plaintext is such a view, and a connection's packets
 * come in a few sizes (full chunks of a stream, an ACK, the same small
 * message). Shared by every endpoint (a cache per endpoint is heap every
 * client endpoint holds): a view of another endpoint's buffer is a miss.
 * It keeps at most `RANGE_SLOTS` endpoints' 1,472-byte buffers alive.
 */
const RANGES: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(RANGE_SLOTS).fill(undefined);

/**
 * The endpoint's buffer that outgoing packets are written into before they
 * are sealed (or checksummed) into a datagram of their own. Every packet
 * needs a view of it cut to the datagram size and, when sealed, a view of
 * its header (the associated data): a typed-array view is a heap object, so
 * the few sizes in use keep theirs instead of cutting new ones per packet.
 */
export class DatagramScratch {
  /** The whole buffer: room for the largest datagram. */
  readonly full: Uint8Array;
  /** Views of `full` by length (datagram sizes, header lengths), the first `MAX_KEPT_VIEWS` asked for. */
  private readonly views = new Map<number, Uint8Array>();

  constructor(size: number) {
    this.full = new Uint8Array(size);
  }

  /**
   * The packet writer, reset to a new packet in `view(length)`: the same
   * object every call, valid until the next one (of any endpoint).
   */
  writer(length: number, type: PacketType, dcid: number, pn: number, pnBytes: PnLength): PacketWriter {
    return WRITER.reset(this.view(length), type, dcid, pn, pnBytes);
  }

  /** `full[start, end)`: the view handed out last time when its slot still holds exactly this range of this buffer. */
  range(start: number, end: number): Uint8Array {
    const slot = end & (RANGE_SLOTS - 1);
    const v = RANGES[slot];
    if (v !== undefined && v.buffer === this.full.buffer && v.byteOffset === start && v.length === end - start) return v;
    const fresh = this.full.subarray(start, end);
    RANGES[slot] = fresh;
    return fresh;
  }

  /** `full[0, length)`; the same view every time for the same length. */
  view(length: number): Uint8Array {
    if (length === this.full.length) return this.full;
    let v = this.views.get(length);
    if (v === undefined) {
      v = this.full.subarray(0, length);
      // Path MTU searches of many connections may try many sizes: only the first few are kept.
      if (this.views.size < MAX_KEPT_VIEWS) this.views.set(length, v);
    }
    return v;
  }
}
