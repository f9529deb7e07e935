import { PacketType, type PnLength, PacketWriter } from '../wire/packet.js';

/** Most views kept: the header lengths (7, 9), the base size, the sizes path MTU discovery settles on. */
const MAX_KEPT_VIEWS = 16;
/** Slots of the cache of payload views (`range`), a power of two: indexed by the view's end. */
const RANGE_SLOTS = 64;

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

  /**
   * Views of `full[start, end)` by `end % RANGE_SLOTS`, the last one asked
   * for in each slot: a sealed packet's plaintext is such a view, and the
   * packets of a connection's traffic come in a few sizes (full chunks of a
   * stream, an ACK, the same small message).
   */
  private readonly ranges: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(RANGE_SLOTS).fill(undefined);
  /** The one writer every packet of this endpoint is written with (see `writer`). */
  private readonly packetWriter: PacketWriter;

  constructor(size: number) {
    this.full = new Uint8Array(size);
    this.packetWriter = new PacketWriter(this.full, PacketType.Data, 0, 0);
  }

  /** `full[start, end)`: the same view as last time when the last range asked for with this end's slot was the same. */
  range(start: number, end: number): Uint8Array {
    const slot = end & (RANGE_SLOTS - 1);
    const v = this.ranges[slot];
    if (v !== undefined && v.byteOffset === start && v.length === end - start) return v;
    const fresh = this.full.subarray(start, end);
    this.ranges[slot] = fresh;
    return fresh;
  }

  /**
   * The endpoint's packet writer, reset to a new packet in `view(length)`:
   * the same object every call, valid until the next one (a packet is
   * written and sealed before the next is started).
   */
  writer(length: number, type: PacketType, dcid: number, pn: number, pnBytes: PnLength): PacketWriter {
    return this.packetWriter.reset(this.view(length), type, dcid, pn, pnBytes);
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
