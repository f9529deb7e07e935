/**
 * The frame objects the connection parses received packets into, reused
 * from packet to packet: what `parseFramesInto` writes when given a scratch.
 */
import { AckScratch } from './ack-frame.js';
import type { Delivery, FragmentFrame } from './frame.js';

/** An empty view: what a reused frame or reader points at between packets, so it keeps no datagram alive. */
export const NO_BYTES = new Uint8Array(0);

/** A FRAGMENT frame whose fields a `FrameScratch` rewrites. */
interface PooledFragment {
  readonly type: 'fragment';
  messageId: number;
  messageLength: number;
  offset: number;
  data: Uint8Array;
  delivery: Delivery | undefined;
}

/**
 * The frame objects the connection parses received packets into, reused
 * from packet to packet (every data packet held one to a few of them): the
 * first ACK frame (`ack`), and the k-th FRAGMENT or MESSAGE frame of the
 * packet. Nothing may keep a frame past its packet; the data views and
 * CHANNEL annotations they point at are new per frame and may be kept.
 */
export class FrameScratch {
  /** The packet's first ACK frame. */
  readonly ack = new AckScratch();
  private readonly fragments: PooledFragment[] = [];
  /** Fragments handed out since the last `release`. */
  private used = 0;

  /** Fragment frame `k` of the packet, every field rewritten (`delivery` too, also when absent). */
  fragment(k: number, messageId: number, messageLength: number, offset: number, data: Uint8Array, delivery: Delivery | undefined): FragmentFrame {
    let f = this.fragments[k];
    if (k >= this.used) this.used = k + 1;
    if (f === undefined) {
      f = { type: 'fragment', messageId, messageLength, offset, data, delivery };
      this.fragments.push(f);
      return f;
    }
    f.messageId = messageId;
    f.messageLength = messageLength;
    f.offset = offset;
    f.data = data;
    f.delivery = delivery;
    return f;
  }

  /** Lets go of what the fragments point at (called after each packet: they would keep its datagram alive). */
  release(): void {
    for (let k = 0; k < this.used; k++) {
      const f = this.fragments[k] as PooledFragment;
      f.data = NO_BYTES;
      f.delivery = undefined;
    }
    this.used = 0;
  }
}
