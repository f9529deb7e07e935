/**
 * One buffer for the long-lived key material of a connection (packet keys,
 * replay window, exporter secret). Each typed array with its own
 * ArrayBuffer costs about 200 bytes of heap and native bookkeeping however
 * short it is; views of one shared buffer cost only the view. A connection
 * keeps these for its whole life, so at 10,000 connections that is most of
 * the memory encryption adds.
 */
export class KeyArena {
  private readonly buffer: ArrayBuffer;
  private used = 0;

  /** An arena of `bytes` bytes (rounded up to whole 32-bit words). */
  constructor(bytes: number) {
    this.buffer = new ArrayBuffer(Math.ceil(bytes / 4) * 4);
  }

  /**
   * `length` zeroed bytes of the arena, or a buffer of their own once it is
   * full (key updates derive new keys long after the arena was sized).
   */
  bytes(length: number): Uint8Array {
    if (this.used + length > this.buffer.byteLength) return new Uint8Array(length);
    const view = new Uint8Array(this.buffer, this.used, length);
    this.used += Math.ceil(length / 4) * 4;
    return view;
  }

  /** `count` zeroed 32-bit words of the arena (or of their own once it is full). */
  words(count: number): Uint32Array {
    if (this.used + 4 * count > this.buffer.byteLength) return new Uint32Array(count);
    const view = new Uint32Array(this.buffer, this.used, count);
    this.used += 4 * count;
    return view;
  }
}
