/**
 * The TCP transfer connection after its token line, as a Duplex of
 * plaintext: writes are sealed into records, received records are opened and
 * read back. A record that does not authenticate, bytes after the final
 * record, or a connection that ends before it destroy the channel with an
 * error (so a `pipeline` into a file fails and the caller deletes it); so
 * does an abort record, the sender's authenticated "discard this, because…"
 * (`ERR_TRANSFER_ABORTED`, its reason as the message).
 */
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { nodeCryptoProvider, type CryptoProvider } from 'rudpx';
import { isRecordStart, RecordOpener, RecordSealer, type RecordFailure } from './record-framing.js';
import { DEFAULT_SMALL_READ_HOLD, SmallReadHold, type SmallReadHoldOptions } from './small-read-hold.js';
import type { TransferKeys } from './transfer-keys.js';

/** Error codes of a broken channel. */
export type TransferChannelErrorCode = 'ERR_TRANSFER_AUTH' | 'ERR_TRANSFER_MALFORMED' | 'ERR_TRANSFER_TRUNCATED' | 'ERR_TRANSFER_REFUSED' | 'ERR_TRANSFER_ABORTED';

/**
 * Why a transfer channel broke. `ERR_TRANSFER_REFUSED` carries the server's clear refusal line (unauthenticated:
 * only ever a failure); `ERR_TRANSFER_ABORTED` the peer's reason for ending the stream unfinished (authenticated).
 */
export class TransferChannelError extends Error {
  constructor(
    message: string,
    readonly code: TransferChannelErrorCode,
  ) {
    super(message);
    this.name = 'TransferChannelError';
  }
}

const FAILURES: Readonly<Record<RecordFailure, [TransferChannelErrorCode, string]>> = {
  auth: ['ERR_TRANSFER_AUTH', 'a transfer record failed authentication (the bytes were altered on the way)'],
  malformed: ['ERR_TRANSFER_MALFORMED', 'malformed transfer record'],
  'after-final': ['ERR_TRANSFER_MALFORMED', 'data after the final transfer record'],
};

/** Longest clear refusal line a client reads (the server's `ERR reason`). */
const MAX_REFUSAL = 4096;

/**
 * Emitted by a {@link SecureTransferChannel} the moment its final record has been handed to
 * the socket, before the write completes: from then on the peer may have the whole stream
 * and act on it (a downloading client closes and sends its next command).
 */
export const FINAL_RECORD_SENT = 'final-record-sent';

/** Options of a {@link SecureTransferChannel}. */
export interface TransferChannelOptions {
  /**
   * Stop reading the socket for a moment after a small read of an unfinished stream, so that a peer
   * sending a byte per TCP segment costs a read per hold, not per byte (small-read-hold.ts); `false`: never. Default: on for the server's
   * side ({@link DEFAULT_SMALL_READ_HOLD}), which receives uploads from anyone with a token; off for a client.
   */
  readonly smallReadHold?: SmallReadHoldOptions | false;
  /**
   * How the channel ends its socket. `'close'` (default): destroyed, or once both ways have ended, it closes the
   * socket, and the kernel still sends what it holds. `'reset'`: destroyed with an error (a bad record, a peer
   * that left before its final record) it resets the socket (`resetAndDestroy`), the kernel dropping what it
   * holds, and once both ways have ended it leaves the socket to its owner. A server's download resets: its
   * kernel may hold megabytes for a receiver that reads nothing, kept after a close while that receiver answers
   * window probes (5.5 min here).
   */
  readonly socketEnd?: 'close' | 'reset';
}

/** A sealed transfer channel over `socket` for one side (see {@link FINAL_RECORD_SENT}). */
export class SecureTransferChannel extends Duplex {
  private readonly sealer: RecordSealer;
  private readonly opener: RecordOpener;
  private started = false;
  private refusal: Buffer | undefined;
  /** This side ended its stream unfinished ({@link SecureTransferChannel.abort}): later writes are dropped. */
  private aborted = false;
  private readonly hold: SmallReadHold | undefined;
  private readonly reset: boolean;

  /**
   * Wraps `socket` (whose token line has already been exchanged). On the client
   * side, a server that refuses before keys exist (unknown token) answers a clear
   * `ERR reason` line instead of records: it becomes an `ERR_TRANSFER_REFUSED` error.
   */
  constructor(
    private readonly socket: Socket,
    keys: TransferKeys,
    private readonly side: 'client' | 'server',
    crypto: CryptoProvider = nodeCryptoProvider,
    options: TransferChannelOptions = {},
  ) {
    super({ allowHalfOpen: true, autoDestroy: options.socketEnd !== 'reset' });
    const hold = options.smallReadHold ?? (side === 'server' ? DEFAULT_SMALL_READ_HOLD : false);
    this.hold = hold === false ? undefined : new SmallReadHold(socket, hold);
    this.reset = options.socketEnd === 'reset';
    this.sealer = new RecordSealer(crypto, side === 'client' ? keys.clientToServer : keys.serverToClient);
    this.opener = new RecordOpener(crypto, side === 'client' ? keys.serverToClient : keys.clientToServer);
    socket.on('data', (chunk: Buffer) => this.received(chunk));
    socket.on('end', () => this.cut());
    socket.on('close', () => this.socketClosed());
    socket.on('error', () => undefined);
  }

  private received(chunk: Buffer): void {
    if (this.destroyed) return;
    if (!this.started && chunk.length > 0) {
      this.started = true;
      if (this.side === 'client' && !isRecordStart(chunk[0] ?? 0)) this.refusal = Buffer.alloc(0);
    }
    if (this.refusal !== undefined) {
      this.refusal = Buffer.concat([this.refusal, chunk]);
      const nl = this.refusal.indexOf(0x0a);
      if (nl >= 0 || this.refusal.length > MAX_REFUSAL) this.refused();
      return;
    }
    const r = this.opener.push(chunk);
    if (!r.ok) {
      if (r.reason === 'aborted') return void this.destroy(new TransferChannelError(r.message, 'ERR_TRANSFER_ABORTED'));
      const [code, message] = FAILURES[r.reason];
      this.destroy(new TransferChannelError(message, code));
      return;
    }
    let more = true;
    for (const d of r.data) if (d.length > 0) more = this.push(d);
    if (r.final) this.push(null);
    else {
      if (!more) this.socket.pause();
      this.hold?.afterRead(chunk.length);
    }
  }

  private refused(): void {
    const text = (this.refusal ?? Buffer.alloc(0)).toString('utf8').split('\n')[0] ?? '';
    this.destroy(new TransferChannelError(text.startsWith('ERR ') ? text.slice(4) : 'unexpected answer from the server', 'ERR_TRANSFER_REFUSED'));
  }

  private cut(): void {
    if (this.destroyed || this.opener.ended) return;
    if (this.refusal !== undefined) return this.refused();
    this.destroy(new TransferChannelError('the transfer connection ended before its final record', 'ERR_TRANSFER_TRUNCATED'));
  }

  /**
   * The socket is gone. Before the final record that is a cut stream; after it, the data read
   * stays readable, and a write still waiting for the socket fails (see `send`).
   */
  private socketClosed(): void {
    if (!this.destroyed && !this.opener.ended) this.cut();
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    if (this.aborted) return done();
    this.send(this.sealer.seal(chunk), done);
  }

  /**
   * Ends this side's stream unfinished, telling the peer `reason` in one
   * sealed record (its channel fails with `ERR_TRANSFER_ABORTED`, and a
   * download's partial file is deleted), then closes this side. Whatever was
   * written but not yet sealed is dropped. Returns false, doing nothing, when
   * the stream has already ended (its final record sent: the peer has it
   * whole) or the connection is gone.
   */
  abort(reason: string): boolean {
    if (this.aborted || this.socket.destroyed) return false;
    const record = this.sealer.abort(new TextEncoder().encode(reason));
    if (record === undefined) return false;
    this.aborted = true;
    this.socket.end(record);
    return true;
  }

  override _final(done: (e?: Error | null) => void): void {
    if (this.aborted) return done();
    const sent = this.send(this.sealer.seal(new Uint8Array(0), true), (e) => {
      if (e === undefined || e === null) this.socket.end();
      done(e);
    });
    if (sent) this.emit(FINAL_RECORD_SENT);
  }

  /** Writes `records` to the socket; false when it is already gone. `done` once the socket took them. */
  private send(records: readonly Uint8Array[], done: (e?: Error | null) => void): boolean {
    if (this.socket.destroyed) {
      done(new TransferChannelError('the transfer connection is closed', 'ERR_TRANSFER_TRUNCATED'));
      return false;
    }
    let ok = true;
    for (const r of records) ok = this.socket.write(r);
    if (ok) {
      done();
      return true;
    }
    // A peer that stops reading and closes (a refusal mid-upload) must fail the write, not leave it waiting.
    const onDrain = (): void => {
      this.socket.off('close', onClose);
      done();
    };
    const onClose = (): void => {
      this.socket.off('drain', onDrain);
      done(new TransferChannelError('the transfer connection closed while sending', 'ERR_TRANSFER_TRUNCATED'));
    };
    this.socket.once('drain', onDrain);
    this.socket.once('close', onClose);
    return true;
  }

  override _destroy(error: Error | null, done: (e: Error | null) => void): void {
    this.hold?.cancel();
    if (this.reset && error !== null) resetSocket(this.socket);
    else this.socket.destroy();
    done(error);
  }
}

/**
 * Resets `socket`. Not while its shutdown (its `end`) is under way: libuv refuses that reset (`uv_tcp_close_reset`,
 * EINVAL) and Node then never closes the socket, which stayed open for good. That shutdown completes within a
 * turn of the event loop once the socket's writes are in the kernel (its 'finish').
 */
const resetSocket = (socket: Socket): void => {
  if (socket.destroyed) return;
  if (socket.writableEnded && !socket.writableFinished && socket.writableLength === 0) {
    socket.once('finish', () => socket.resetAndDestroy());
    socket.once('error', () => socket.destroy());
    return;
  }
  socket.resetAndDestroy();
};
