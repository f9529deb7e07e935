/**
 * QUIC's variable-length integers (RFC 9000 §16): the two high bits of the
 * first byte give the length (1, 2, 4 or 8 bytes). Values up to 2^53 − 1,
 * the largest a JS number holds exactly.
 */

/** Largest value a varint may carry here. */
export const VARINT_MAX = Number.MAX_SAFE_INTEGER;

/** Bytes needed to encode `value`. */
export function varintSize(value: number): 1 | 2 | 4 | 8 {
  if (value < 0x40) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x40000000) return 4;
  return 8;
}

/** Writes `value` at `offset`; returns the offset after it. The caller ensures room. */
export function writeVarint(buf: Uint8Array, offset: number, value: number): number {
  if (value < 0x40) {
    buf[offset] = value;
    return offset + 1;
  }
  if (value < 0x4000) {
    buf[offset] = 0x40 | (value >>> 8);
    buf[offset + 1] = value & 0xff;
    return offset + 2;
  }
  if (value < 0x40000000) {
    buf[offset] = 0x80 | (value >>> 24);
    buf[offset + 1] = (value >>> 16) & 0xff;
    buf[offset + 2] = (value >>> 8) & 0xff;
    buf[offset + 3] = value & 0xff;
    return offset + 4;
  }
  const hi = Math.floor(value / 0x100000000);
  const lo = value >>> 0;
  buf[offset] = 0xc0 | (hi >>> 24);
  buf[offset + 1] = (hi >>> 16) & 0xff;
  buf[offset + 2] = (hi >>> 8) & 0xff;
  buf[offset + 3] = hi & 0xff;
  buf[offset + 4] = lo >>> 24;
  buf[offset + 5] = (lo >>> 16) & 0xff;
  buf[offset + 6] = (lo >>> 8) & 0xff;
  buf[offset + 7] = lo & 0xff;
  return offset + 8;
}

/** A cursor over received bytes; every read fails softly (returns -1 / sets `ok = false`) instead of throwing. */
export class Reader {
  /** Position of the next byte to read. */
  pos: number;
  /** False once any read ran past `end` or met an out-of-range value. */
  ok = true;
  /** The bytes read (replaced by `reset`). */
  buf: Uint8Array;
  /** Where reading stops. */
  end: number;
  /** `buf.buffer` once a view was asked for (`undefined`: not yet), and `buf.byteOffset`. */
  private backing: ArrayBufferLike | undefined = undefined;
  private base = 0;

  constructor(buf: Uint8Array, start: number, end: number) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  /** Starts over on `buf[start, end)`, as a new reader would (one reader can serve packet after packet). */
  reset(buf: Uint8Array, start: number, end: number): this {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.ok = true;
    this.backing = undefined;
    return this;
  }

  /** Bytes left. */
  remaining(): number {
    return this.end - this.pos;
  }

  /** One byte, or -1. */
  u8(): number {
    if (this.pos >= this.end) return this.fail();
    return this.buf[this.pos++] as number;
  }

  /** A big-endian u32, or -1. */
  u32(): number {
    if (this.pos + 4 > this.end) return this.fail();
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return (((b[p] as number) << 24) | ((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number)) >>> 0;
  }

  /** A varint, or -1 (also for values above `VARINT_MAX`). */
  varint(): number {
    if (this.pos >= this.end) return this.fail();
    const b = this.buf;
    const first = b[this.pos] as number;
    const len = 1 << (first >>> 6);
    if (this.pos + len > this.end) return this.fail();
    let v = first & 0x3f;
    for (let i = 1; i < len; i++) v = v * 256 + (b[this.pos + i] as number);
    this.pos += len;
    if (v > VARINT_MAX) return this.fail();
    return v;
  }

  /** A view of the next `n` bytes (no copy; a plain `Uint8Array`, whatever `buf` is), or `undefined`. */
  bytes(n: number): Uint8Array | undefined {
    if (n < 0 || this.pos + n > this.end) {
      this.fail();
      return undefined;
    }
    // A view made on the ArrayBuffer directly: `subarray` costs twice as much (it looks up the
    // species constructor), and a packet's frames ask for a view per message.
    let backing = this.backing;
    if (backing === undefined) {
      backing = this.backing = this.buf.buffer;
      this.base = this.buf.byteOffset;
    }
    const out = new Uint8Array(backing, this.base + this.pos, n);
    this.pos += n;
    return out;
  }

  private fail(): -1 {
    this.ok = false;
    this.pos = this.end;
    return -1;
  }
}

/** The big-endian u32 at `offset` (the caller checked the bounds). */
export function readU32(buf: Uint8Array, offset: number): number {
  return (((buf[offset] as number) << 24) | ((buf[offset + 1] as number) << 16) | ((buf[offset + 2] as number) << 8) | (buf[offset + 3] as number)) >>> 0;
}

/** Writes a big-endian u32 at `offset`; returns the offset after it. */
export function writeU32(buf: Uint8Array, offset: number, value: number): number {
  buf[offset] = value >>> 24;
  buf[offset + 1] = (value >>> 16) & 0xff;
  buf[offset + 2] = (value >>> 8) & 0xff;
  buf[offset + 3] = value & 0xff;
  return offset + 4;
}
