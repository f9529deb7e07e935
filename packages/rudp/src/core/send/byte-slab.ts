/**
 * Copies of short byte strings carved out of shared 64 KiB buffers. A
 * typed array of more than 64 bytes gets its own off-heap backing store in
 * V8 (a malloc, an external-memory account and a finaliser), which at one
 * per datagram and one per received message is a large share of rudp's
 * per-packet cost. Views into a slab are never reused: a slab is simply
 * dropped when full and freed once no view into it is alive. Anything over
 * a quarter of a slab gets a buffer of its own.
 */
const SLAB_BYTES = 64 * 1024;

/** A bump allocator of byte copies. */
export class ByteSlab {
  private buf: Uint8Array;
  private pos = 0;

  constructor(
    /** Bytes of each slab: what one kept view can hold alive at most. */
    private readonly slabBytes = SLAB_BYTES,
  ) {
    this.buf = new Uint8Array(slabBytes);
  }

  /** A copy of `src[start, end)` that nothing else will ever write. */
  copy(src: Uint8Array, start: number, end: number): Uint8Array {
    const n = end - start;
    if (n > this.slabBytes / 4) return src.slice(start, end);
    const out = this.carve(n);
    out.set(start === 0 && end === src.length ? src : src.subarray(start, end));
    return out;
  }

  /** `n` fresh bytes (zeroed only if new) for the caller to fill: a datagram sealed in place, or an opened payload. */
  alloc(n: number): Uint8Array {
    return n > this.slabBytes / 4 ? new Uint8Array(n) : this.carve(n);
  }

  private carve(n: number): Uint8Array {
    if (this.pos + n > this.slabBytes) {
      this.buf = new Uint8Array(this.slabBytes);
      this.pos = 0;
    }
    const out = this.buf.subarray(this.pos, this.pos + n);
    // Keep views 8-byte aligned so word reads (checksum) stay aligned.
    this.pos += (n + 7) & ~7;
    return out;
  }
}
