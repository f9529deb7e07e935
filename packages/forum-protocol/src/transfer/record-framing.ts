/**
 * Sealed records for the TCP transfer connection, as TLS records: each is a
 * 3-byte header (type, then ciphertext length, big-endian) and the
 * ChaCha20-Poly1305 ciphertext of up to 16 KiB, with the header as
 * associated data and the record's index as nonce. A `final` record ends the
 * stream, so a connection cut by an attacker is a failure, not a short file.
 * An `abort` record ends it too, unfinished, with the sender's reason (its
 * authenticated plaintext): the stream is to be thrown away, and the reason
 * shown, as for a refusal before any byte.
 * Pure: bytes in, values out, nothing thrown for bad input.
 */
import type { CryptoProvider } from 'rudpx';

/** Most plaintext bytes per record. */
export const MAX_RECORD_PLAINTEXT = 16_384;
const TAG_LEN = 16;
const HEADER_LEN = 3;
const TYPE_DATA = 0x00;
const TYPE_FINAL = 0x01;
const TYPE_ABORT = 0x02;

/** Whether `byte` can start a record (anything else before the first record is a clear refusal line). */
export const isRecordStart = (byte: number): boolean => byte === TYPE_DATA || byte === TYPE_FINAL || byte === TYPE_ABORT;

const nonceOf = (counter: number): Uint8Array => {
  const nonce = new Uint8Array(12);
  new DataView(nonce.buffer).setUint32(4, Math.floor(counter / 2 ** 32));
  new DataView(nonce.buffer).setUint32(8, counter >>> 0);
  return nonce;
};

/** Seals one direction's plaintext into records. */
export class RecordSealer {
  private counter = 0;
  private ended = false;

  constructor(
    private readonly crypto: CryptoProvider,
    private readonly key: Uint8Array,
  ) {}

  /** Seals `data` (split into records of at most 16 KiB); with `final`, the last record ends the stream (an empty one if `data` is empty). */
  seal(data: Uint8Array, final = false): Uint8Array[] {
    if (this.ended) throw new Error('record stream already ended');
    const out: Uint8Array[] = [];
    for (let at = 0; at < data.length || (final && out.length === 0); at += MAX_RECORD_PLAINTEXT) {
      const chunk = data.subarray(at, at + MAX_RECORD_PLAINTEXT);
      const last = final && at + MAX_RECORD_PLAINTEXT >= data.length;
      const length = chunk.length + TAG_LEN;
      const header = Uint8Array.of(last ? TYPE_FINAL : TYPE_DATA, length >> 8, length & 0xff);
      const body = this.crypto.seal(this.key, nonceOf(this.counter++), header, chunk);
      const record = new Uint8Array(HEADER_LEN + body.length);
      record.set(header);
      record.set(body, HEADER_LEN);
      out.push(record);
      if (last) this.ended = true;
    }
    return out;
  }

  /**
   * Ends the stream unfinished: one record carrying `reason` (cut to 16 KiB),
   * telling the receiver to discard what it got and why. `undefined` if the
   * stream has ended already (its final record sealed: the receiver has it whole).
   */
  abort(reason: Uint8Array): Uint8Array | undefined {
    if (this.ended) return undefined;
    this.ended = true;
    const chunk = reason.subarray(0, MAX_RECORD_PLAINTEXT);
    const length = chunk.length + TAG_LEN;
    const header = Uint8Array.of(TYPE_ABORT, length >> 8, length & 0xff);
    const body = this.crypto.seal(this.key, nonceOf(this.counter++), header, chunk);
    const record = new Uint8Array(HEADER_LEN + body.length);
    record.set(header);
    record.set(body, HEADER_LEN);
    return record;
  }
}

/** Why a record stream was rejected. */
export type RecordFailure = 'auth' | 'malformed' | 'after-final';

/**
 * What `push` yields: the plaintext of every record completed so far, and
 * whether the final one was among them; or why the stream was rejected; or,
 * for an authenticated abort record, the sender's reason (`message`) for
 * ending it unfinished (the data before it is not passed on: it is discarded).
 */
export type RecordPush =
  | { readonly ok: true; readonly data: readonly Uint8Array[]; readonly final: boolean }
  | { readonly ok: false; readonly reason: RecordFailure }
  | { readonly ok: false; readonly reason: 'aborted'; readonly message: string };

type RecordStop = Exclude<RecordPush, { readonly ok: true }>;

/** Buffer size above which a drained `PendingBytes` lets its buffer go (two records). */
const SHRINK_ABOVE = 2 * (HEADER_LEN + MAX_RECORD_PLAINTEXT + TAG_LEN);

/**
 * Bytes received and not yet opened, in one buffer read from the front and
 * grown by doubling. Each push copies only its own bytes in; a record's bytes
 * are copied out once, when all are here. Joining everything pending on
 * every push instead cost a copy of up to 16 KiB per chunk, which a peer
 * sending one byte per TCP segment turned into some 8 KiB of copying for each
 * byte it sent; keeping each push as its own array cost some 200 bytes of
 * heap per byte sent that way (3.5 MiB for one record).
 */
class PendingBytes {
  private buffer = new Uint8Array(0);
  private start = 0;
  private end = 0;

  /** Bytes held. */
  get size(): number {
    return this.end - this.start;
  }

  /** Copies `bytes` in (the caller may reuse its buffer). */
  append(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.end + bytes.length > this.buffer.length) {
      const size = this.size;
      // Grown only if what is held and what comes do not fit once moved to the front.
      const next = size + bytes.length <= this.buffer.length ? this.buffer : new Uint8Array(Math.max(2 * this.buffer.length, size + bytes.length, 256));
      if (next === this.buffer) next.copyWithin(0, this.start, this.end);
      else next.set(this.buffer.subarray(this.start, this.end));
      this.buffer = next;
      this.start = 0;
      this.end = size;
    }
    this.buffer.set(bytes, this.end);
    this.end += bytes.length;
  }

  /** The byte at `index` from the front (`index` < `size`). */
  byteAt(index: number): number {
    return this.buffer[this.start + index] ?? 0;
  }

  /** Removes the first `n` bytes (`n` ≤ `size`) and returns a copy of them. */
  take(n: number): Uint8Array {
    const out = this.buffer.slice(this.start, this.start + n);
    this.start += n;
    if (this.start === this.end) {
      this.start = 0;
      this.end = 0;
      // A burst of large pushes grew the buffer: give it back once drained.
      if (this.buffer.length > SHRINK_ABOVE) this.buffer = new Uint8Array(0);
    }
    return out;
  }
}

/** Opens one direction's records, fed with bytes as they arrive (any split). */
export class RecordOpener {
  private counter = 0;
  private readonly pending = new PendingBytes();
  private finished = false;
  private failed: RecordStop | undefined;

  constructor(
    private readonly crypto: CryptoProvider,
    private readonly key: Uint8Array,
  ) {}

  /** Whether the final record has been opened. */
  get ended(): boolean {
    return this.finished;
  }

  /** Feeds received bytes. After a failure every call fails the same way. */
  push(bytes: Uint8Array): RecordPush {
    if (this.failed !== undefined) return this.failed;
    if (bytes.length > 0 && this.finished) return this.fail('after-final');
    const pending = this.pending;
    pending.append(bytes);
    const data: Uint8Array[] = [];
    let final = false;
    while (pending.size >= HEADER_LEN) {
      if (this.finished) return this.fail('after-final');
      const type = pending.byteAt(0);
      const length = (pending.byteAt(1) << 8) | pending.byteAt(2);
      if (!isRecordStart(type) || length < TAG_LEN || length > MAX_RECORD_PLAINTEXT + TAG_LEN) return this.fail('malformed');
      if (pending.size < HEADER_LEN + length) break;
      const record = pending.take(HEADER_LEN + length);
      const plain = this.crypto.open(this.key, nonceOf(this.counter), record.subarray(0, HEADER_LEN), record.subarray(HEADER_LEN));
      if (plain === undefined) return this.fail('auth');
      this.counter++;
      if (type === TYPE_ABORT) return this.stop({ ok: false, reason: 'aborted', message: new TextDecoder().decode(plain) });
      data.push(plain);
      if (type === TYPE_FINAL) {
        this.finished = true;
        final = true;
      }
    }
    if (this.finished && pending.size > 0) return this.fail('after-final');
    return { ok: true, data, final };
  }

  private fail(reason: RecordFailure): RecordPush {
    return this.stop({ ok: false, reason });
  }

  /** Ends the stream for good: every later call answers `end` again. */
  private stop(end: RecordStop): RecordPush {
    this.failed = end;
    return end;
  }
}
