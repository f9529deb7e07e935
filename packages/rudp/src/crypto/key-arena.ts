/**
 * One buffer for the long-lived key material of a connection (packet keys,
 * replay window, exporter secret), seen through one view. Each typed array
 * costs about 100 bytes of heap even as a view of a shared buffer (and
 * about 200 with a buffer of its own), however short it is; so what lives
 * in the arena keeps the arena's view and its offset into it, not a view of
 * its own. A connection keeps these for its whole life, so at 10,000
 * connections that is most of the memory encryption adds.
 */

/** Where reserved bytes live: `bytes[at … at + length)`. */
export interface ArenaPlace {
  readonly bytes: Uint8Array;
  readonly at: number;
}

/** A fixed-size arena of bytes handed out in order. */
export class KeyArena {
  /** The whole arena: the one view everything in it shares. */
  readonly bytes: Uint8Array;
  private used = 0;

  /** An arena of `bytes` bytes. */
  constructor(bytes: number) {
    this.bytes = new Uint8Array(bytes);
  }

  /**
   * `length` zeroed bytes of the arena, or of a buffer of their own (at
   * offset 0) once it is full: key updates derive new keys long after the
   * arena was sized.
   */
  take(length: number): ArenaPlace {
    if (this.used + length > this.bytes.length) return { bytes: new Uint8Array(length), at: 0 };
    const at = this.used;
    this.used += length;
    return { bytes: this.bytes, at };
  }
}

/** `length` zeroed bytes in `arena`, or in a buffer of their own without one. */
export const placeIn = (arena: KeyArena | undefined, length: number): ArenaPlace => arena?.take(length) ?? { bytes: new Uint8Array(length), at: 0 };
