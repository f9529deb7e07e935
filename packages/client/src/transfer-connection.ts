/**
 * What uploads and downloads share: the TCP connection to the transfer port (its inactivity and answer
 * limits), the sealed channel on it, how a transfer ends, and the words for why it failed.
 */
import net from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';
import { SecureTransferChannel, TransferChannelError, type TransferKeys } from 'forum-protocol';
import type { Progress } from './progress.js';
import type { TransferPace } from './transfer-pace.js';

/**
 * How a transfer ended: `ok`, cancelled (Ctrl-C: nothing kept on either side), or failed with the reason to print.
 * A failure with `maybeStored` is an upload whose outcome the client cannot know: every byte was handed over and no
 * authenticated answer came, and the server commits what it read whole whatever becomes of the connection.
 */
export type TransferResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly cancelled: true }
  | {
      readonly ok: false;
      readonly cancelled: false;
      readonly reason: string;
      readonly maybeStored?: true;
      /** The transfer port's refusal in clear (its reason, without `ERR `), when that is why it failed. */
      readonly clearRefusal?: string;
    };

/** A failed transfer, `reason` to print. */
export const failed = (reason: string): TransferResult => ({ ok: false, cancelled: false, reason });
/** An upload that may or may not have been stored (see {@link TransferResult}): `reason` says why there is no answer. */
export const undetermined = (reason: string): TransferResult => ({ ok: false, cancelled: false, reason, maybeStored: true });
/** A transfer cancelled by its signal. */
export const CANCELLED: TransferResult = { ok: false, cancelled: true };
/**
 * Whether `signal` has aborted. A call, not `signal?.aborted` inline: the flag changes across awaits, which
 * narrowing does not know.
 */
export const isAborted = (signal: AbortSignal | undefined): boolean => signal?.aborted === true;

/** What every transfer may be given: a way to cancel it, and how slow the server may be. */
export interface TransferOptions {
  /** Cancels the transfer: nothing is kept on either side. */
  readonly signal?: AbortSignal;
  /** How long the server's answer line may take (default {@link ANSWER_TIMEOUT_MS}; see there for when it counts from). */
  readonly answerTimeoutMs?: number;
  /** The least the body must move (default `DEFAULT_TRANSFER_PACE` of transfer-pace.ts; `minBytes` 0: no floor). */
  readonly pace?: TransferPace;
  /** How long the connection may go without a byte either way (default {@link STALL_TIMEOUT_MS}). */
  readonly stallTimeoutMs?: number;
  /** How long an upload waits for its answer once its last byte is handed over (default {@link COMMIT_WAIT_MS}). */
  readonly commitWaitMs?: number;
}

const CONNECT_TIMEOUT_MS = 5_000;
/** The most an answer on the transfer channel (`OK`, `OK SIZE`, `ERR reason`) may take, its newline included. */
export const ANSWER_MAX_BYTES = 4096;
/** How long a transfer connection may go without a byte either way (its inactivity limit). */
export const STALL_TIMEOUT_MS = 30_000;
/**
 * Transfer sockets the inactivity limit ended. The channel reads that end as a cut stream, and an upload the
 * server stopped reading failed with `the transfer connection ended before its final record`, which says
 * nothing of why (attack/hostile-trickle.ts upd-body); its failure now says what the limit saw.
 */
export const stalledSockets = new WeakSet<net.Socket>();
/** Why the inactivity limit ended a transfer. */
export const stallReason = (ms: number): string => `no bytes moved in the last ${ms / 1000} s`;
/**
 * How long an answer line (a download's `OK SIZE`, counted from connecting; an upload's `OK` / `ERR
 * reason`, from its first byte) may take to arrive whole. The stall timeout above is one of
 * inactivity: a server sending a byte every 29 s held a piped client on the line for as long as it
 * liked (4,096 bytes: 33 hours; attack round 8, attack/hostile-trickle.ts).
 */
export const ANSWER_TIMEOUT_MS = 30_000;
/**
 * How long an upload waits for the server's answer once its final record is handed to the socket: the server's
 * commit (a sync and its store's locks; 25 s at most on PostgreSQL, unbounded in the file store on a slow disk),
 * and the bytes the kernels still hold crossing the link. The inactivity limit is off meanwhile: a commit of 30 s
 * was reported as `failed: no bytes moved in the last 30 s` and then landed. This is the one bound left, so that
 * a server that never answers cannot hold the client; at it the upload's outcome is unknown ({@link undetermined}).
 */
export const COMMIT_WAIT_MS = 60_000;
/** Why {@link COMMIT_WAIT_MS} ended an upload. */
export const commitWaitReason = (ms: number): string => `no answer from the server within ${ms / 1000} s of the last byte`;
/** Why the answer limit ended a transfer. */
export const answerTimeoutReason = (ms: number): string => `the server did not send its answer within ${ms / 1000} s`;

/**
 * Counts the bytes that pass; past `limit` it fails instead of passing them on. With `least`, a stream that
 * ends short of it fails too, before its end is passed on (so an upload's final record is never sent).
 */
export const byteCounter = (
  progress: Progress,
  onBytes: (n: number) => void = () => undefined,
  limit = Number.POSITIVE_INFINITY,
  least?: { readonly bytes: number; readonly why: (seen: number) => string },
): Transform => {
  let seen = 0;
  return new Transform({
    flush(done: TransformCallback) {
      done(least !== undefined && seen < least.bytes ? new Error(least.why(seen)) : null);
    },
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      seen += chunk.length;
      // A server sending more than it announced is broken or hostile: stop now, not once it chose to stop filling the disk.
      if (seen > limit) return done(new Error(`the server sent more than the ${limit} bytes it announced`));
      progress.add(chunk.length);
      onBytes(chunk.length);
      done(null, chunk);
    },
  });
};

/**
 * Connects; aborting `signal` meanwhile fails it. Once connected, cancelling is the caller's (reset or destroy),
 * and `stallTimeoutMs` without a byte either way destroys the socket (see {@link stalledSockets}).
 */
const connectSocket = (host: string, port: number, signal: AbortSignal | undefined, stallTimeoutMs: number): Promise<net.Socket> =>
  new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const onAbort = (): void => void socket.destroy(new Error('cancelled'));
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => socket.destroy(new Error('timed out connecting')));
    socket.once('error', (e) => {
      signal?.removeEventListener('abort', onAbort);
      reject(e);
    });
    socket.once('connect', () => {
      signal?.removeEventListener('abort', onAbort);
      socket.removeAllListeners('error');
      socket.on('error', () => undefined);
      socket.setTimeout(stallTimeoutMs, () => {
        stalledSockets.add(socket);
        socket.destroy(new Error('transfer stalled'));
      });
      resolve(socket);
    });
  });

/** An error's message, for a failure line. */
export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** The refusal in clear (its reason) that broke the channel with `e`, or `undefined`: `e` is no such refusal. */
const clearRefusalOf = (e: unknown): string | undefined => (e instanceof TransferChannelError && e.code === 'ERR_TRANSFER_REFUSED' ? e.message : undefined);

/**
 * How a refusal in clear is said. The server refuses so only before there are keys (an unknown token, no room,
 * a connection evicted for a newer one of its host), but anyone on the path can write such a line, at any moment
 * before the server's first record: an upload's sealed `OK` dropped and `ERR Thread T does not exist` put in its
 * place made the client print the spec's line for a removed thread while the file was stored (attack round 11,
 * attack/onpath-transfer.ts forge-refusal). It is said to be unauthenticated, so it never reads as the server's
 * word; said as a refusal, not as `unauthenticated answer: …`, which did not say that it refused anything.
 */
const unauthenticatedRefusal = (refusal: string): string => `refused by an unauthenticated answer (sent in clear): ${refusal}`;

/** Why the channel failed, for the user (a refusal in clear: {@link unauthenticatedRefusal}). */
const channelFailure = (e: unknown): string => {
  const refusal = clearRefusalOf(e);
  return refusal === undefined ? errorText(e) : unauthenticatedRefusal(refusal);
};

/** A transfer failed for the channel's error `e` (`maybeStored`: an upload whose every byte was handed over). */
export const channelFailed = (e: unknown, maybeStored = false): TransferResult => {
  const refusal = clearRefusalOf(e);
  return {
    ok: false,
    cancelled: false,
    reason: channelFailure(e),
    ...(maybeStored ? { maybeStored: true } : {}),
    ...(refusal === undefined ? {} : { clearRefusal: refusal }),
  };
};

/** Connects to the transfer port and presents `token`: the sealed channel, or why there is none. */
export const openChannel = async (
  host: string,
  port: number,
  token: string,
  keys: TransferKeys,
  signal: AbortSignal | undefined,
  stallTimeoutMs: number,
): Promise<{ readonly socket: net.Socket; readonly channel: SecureTransferChannel } | TransferResult> => {
  if (isAborted(signal)) return CANCELLED;
  let socket: net.Socket;
  try {
    socket = await connectSocket(host, port, signal, stallTimeoutMs);
  } catch (e) {
    return isAborted(signal) ? CANCELLED : failed(`cannot open the transfer connection: ${errorText(e)}`);
  }
  socket.write(`${token}\n`);
  return { socket, channel: new SecureTransferChannel(socket, keys, 'client') };
};
