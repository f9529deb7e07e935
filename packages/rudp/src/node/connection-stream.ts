/**
 * A byte-stream `Duplex` over a connection's messages, for `pipeline()`
 * (files, proxies). Framing: every non-empty message is a piece of the
 * stream; an empty message is its end (what a TCP FIN is to a socket), so
 * each direction ends on its own (half-close).
 */
import { Duplex } from 'node:stream';
import type { CloseReason } from '../core/events.js';
import { RudpError } from './rudp-error.js';
import type { RudpConnection } from './rudp-connection.js';

/** Writes larger than this (or than the peer's window takes) go as several messages: a message must fit the peer's receive window whole. */
const MAX_PIECE_BYTES = 256 * 1024;
/** Bytes the readable side buffers before it holds the transport back. */
const READABLE_HIGH_WATER_MARK = 1024 * 1024;

const END_OF_STREAM = new Uint8Array(0);

/** The Duplex `RudpConnection.stream()` returns. */
export class ConnectionStream extends Duplex {
  private readonly hold = Symbol('stream');
  private readEnded = false;

  constructor(private readonly conn: RudpConnection) {
    // Half-open allowed: the peer ending its side must not end ours (a request/response proxy still answers).
    super({ allowHalfOpen: true, readableHighWaterMark: READABLE_HIGH_WATER_MARK });
    conn.on('message', this.onMessage);
    conn.on('close', this.onClose);
    // Made after the end: it ends as it would have then (quietly after a local close, with an error after a peer's or a failure).
    if (conn.closed) queueMicrotask(() => this.onClose(conn.closeReason));
  }

  override _read(): void {
    this.conn.setHold(this.hold, false);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.writeBytes(chunk, callback);
  }

  /**
   * Writes that queued while the last one was being taken (until the next
   * tick, or the connection's `'drain'`) leave as one message, not one each:
   * a writer of 64-byte chunks sends a message per batch, as a TCP socket
   * sends a segment per batch, and the peer reads them as one piece of the
   * stream.
   */
  override _writev(chunks: readonly { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    this.writeBytes(Buffer.concat(chunks.map((c) => c.chunk)), callback);
  }

  /** Sends `chunk` (in pieces that fit the peer's window) and calls back once the connection takes more. */
  private writeBytes(chunk: Buffer, callback: (error?: Error | null) => void): void {
    // Closing (close() was called and is draining): `write` would take nothing and say only false, and the
    // callback below would report the bytes written; they were dropped. A closed connection's error instead.
    const refused = this.conn.writesRefused();
    if (refused !== undefined) return callback(refused);
    // An empty message would read as the end of the stream: an empty write sends nothing.
    // Pieces the peer's window takes whole (a window is 1,024 bytes at least, so a piece is never empty).
    const piece = Math.min(MAX_PIECE_BYTES, this.conn.maxMessageSize());
    for (let off = 0; off < chunk.length; off += piece) {
      // The acknowledgement is not awaited (that would be one round trip per write): `write`, no
      // promise. The connection is open (checked above, and a write cannot close it).
      this.conn.write(chunk.subarray(off, off + piece));
    }
    // Called back on the next tick, not now, as a socket's write is: writes made meanwhile queue in the
    // stream and leave together (`_writev`).
    if (!this.conn.writableNeedDrain || this.conn.closed) return process.nextTick(callback);
    const onDrain = (): void => {
      this.conn.off('close', onClose);
      callback();
    };
    const onClose = (): void => {
      this.conn.off('drain', onDrain);
      callback(this.conn.errorAfterClose());
    };
    this.conn.once('drain', onDrain);
    this.conn.once('close', onClose);
  }

  override _final(callback: (error?: Error | null) => void): void {
    // Resolves once the peer has the end marker, so every byte before it too: pipeline() completes
    // only when the data has arrived.
    this.conn.send(END_OF_STREAM).then(
      () => callback(),
      (e: unknown) => callback(e instanceof Error ? e : new Error(String(e))),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.conn.off('message', this.onMessage);
    this.conn.off('close', this.onClose);
    this.conn.setHold(this.hold, false);
    // Destroyed with an error (a failed pipeline): the peer must learn the transfer broke.
    if (error) this.conn.destroy(error.message.slice(0, 200));
    callback(error);
  }

  private readonly onMessage = (m: Buffer): void => {
    if (this.readEnded) return;
    if (m.length === 0) {
      this.readEnded = true;
      this.push(null);
      this.conn.setHold(this.hold, false);
      return;
    }
    if (!this.push(m)) this.conn.setHold(this.hold, true);
  };

  private readonly onClose = (reason?: CloseReason): void => {
    this.conn.setHold(this.hold, false);
    if (!this.readEnded) {
      // For a reader, what it read may be cut short: the peer never ended its stream. A stream nobody
      // reads and nobody watches for errors (a sender's, after its pipeline) is closed quietly.
      const reading = this.readableFlowing !== null || this.listenerCount('error') > 0;
      const error = this.conn.closeError ?? (reason?.kind === 'local' ? undefined : new RudpError('ECONNRESET', 'the connection closed before the peer ended the stream', reason ? { reason } : {}));
      this.destroy(reading ? error : undefined);
      return;
    }
    // Our writable side can send nothing more; end it quietly so the stream finishes once read.
    if (!this.writableEnded) {
      this._final = (callback) => callback();
      this.end();
    }
  };
}
