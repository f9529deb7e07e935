/**
 * The pieces of a large message kept as they came, packed end to end, until
 * holding them costs a good share of the message: then the message is
 * allocated whole and they are copied in (`Reassembly`). Allocating a large
 * message at its first fragment made its size, not the bytes that arrived,
 * what a peer could make a receiver hold: the last byte of a 32 MiB message
 * and then one byte every 4 KiB of it made all 32 MiB resident for under
 * 100 KB sent (attack round 6, a plain `listen()` with the default window).
 * Kept this way, what is held grows with what arrived, and the whole message
 * is allocated only once a quarter of its size is held.
 */

/** Messages above this many bytes are put together from held pieces; smaller ones are allocated at once. */
export const HELD_FROM_BYTES = 64 * 1024;

/** Bytes a piece's record costs besides its bytes (its offset and length), counted in `cost`. */
const PIECE_RECORD_BYTES = 8;

/** First size of the packed bytes. */
const FIRST_CAPACITY = 4 * 1024;

/** The pieces of one message, in arrival order. */
export class HeldPieces {
  private bytes = new Uint8Array(FIRST_CAPACITY);
  private used = 0;
  /** Per piece, its offset in the message and its length. */
  private readonly marks: number[] = [];

  /** Keeps a copy of `data`, the message's bytes from `offset` on. */
  add(offset: number, data: Uint8Array): void {
    if (this.used + data.length > this.bytes.length) {
      let capacity = this.bytes.length * 2;
      while (capacity < this.used + data.length) capacity *= 2;
      const grown = new Uint8Array(capacity);
      grown.set(this.bytes.subarray(0, this.used));
      this.bytes = grown;
    }
    this.bytes.set(data, this.used);
    this.used += data.length;
    this.marks.push(offset, data.length);
  }

  /** Bytes held for the pieces: the packed bytes' capacity and the records. */
  get cost(): number {
    return this.bytes.length + (this.marks.length / 2) * PIECE_RECORD_BYTES;
  }

  /** Writes every piece into `buf` (the whole message), in arrival order: a later piece wins where they overlap, as written directly. */
  writeInto(buf: Uint8Array): void {
    let at = 0;
    for (let i = 0; i < this.marks.length; i += 2) {
      const offset = this.marks[i] as number;
      const length = this.marks[i + 1] as number;
      buf.set(this.bytes.subarray(at, at + length), offset);
      at += length;
    }
  }
}

/** Whether a message of `length` bytes holding `held` should be allocated whole now. */
export function timeToAllocate(length: number, held: HeldPieces): boolean {
  return held.cost * 4 >= length;
}
