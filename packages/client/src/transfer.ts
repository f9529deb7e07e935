import { createReadStream, createWriteStream } from 'node:fs';
import { unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FINAL_RECORD_SENT, outcomeUnknownText, readHeaderLines, TransferChannelError, unconfirmedWriteText, type TransferKeys } from 'forum-protocol';
import { freeBytes, LocalFileExistsError, putInPlace, tempName } from './download-files.js';
import type { Progress } from './progress.js';
import {
  ANSWER_MAX_BYTES,
  ANSWER_TIMEOUT_MS,
  answerTimeoutReason,
  byteCounter,
  CANCELLED,
  channelFailed,
  COMMIT_WAIT_MS,
  commitWaitReason,
  errorText,
  failed,
  isAborted,
  openChannel,
  STALL_TIMEOUT_MS,
  stalledSockets,
  stallReason,
  type TransferOptions,
  type TransferResult,
  undetermined,
} from './transfer-connection.js';
import { DEFAULT_TRANSFER_PACE, paceFailure, watchPace } from './transfer-pace.js';

export { LocalFileExistsError, sweepStaleDownloads } from './download-files.js';
export { ANSWER_TIMEOUT_MS, COMMIT_WAIT_MS, STALL_TIMEOUT_MS, type TransferOptions, type TransferResult } from './transfer-connection.js';

/**
 * Sends `source` (`size` bytes; a path, or a handle that stays the caller's to close) over TCP: the token line in clear, then sealed
 * with `keys`: the size line, the bytes and the final record; then waits for
 * the server's sealed `OK` / `ERR reason`. Aborting `options.signal` cuts the
 * connection: the server then has fewer bytes than announced and keeps
 * nothing; so does a body that moves slower than `options.pace`. Once the
 * final record is handed over the server may commit whatever follows, so an
 * upload that ends then without an authenticated answer (no answer within
 * `options.commitWaitMs`, a broken connection, a cancel) is `maybeStored`, never plainly failed.
 */
export const uploadFile = async (
  host: string,
  port: number,
  token: string,
  keys: TransferKeys,
  source: string | FileHandle,
  size: number,
  progress: Progress,
  options: TransferOptions = {},
): Promise<TransferResult> => {
  const { signal, answerTimeoutMs = ANSWER_TIMEOUT_MS, pace = DEFAULT_TRANSFER_PACE, stallTimeoutMs = STALL_TIMEOUT_MS, commitWaitMs = COMMIT_WAIT_MS } = options;
  const opened = await openChannel(host, port, token, keys, signal, stallTimeoutMs);
  if (!('channel' in opened)) return opened;
  const { socket, channel } = opened;
  const chunks: Buffer[] = [];
  let answerBytes = 0;
  let channelError: unknown;
  let answerTimer: NodeJS.Timeout | undefined;
  let answerLate = false;
  channel.on('data', (c: Buffer) => {
    // An answer once begun must end soon (a refusal may begin while the body is still being sent).
    answerTimer ??= setTimeout(() => {
      answerLate = true;
      channel.destroy(new Error(answerTimeoutReason(answerTimeoutMs)));
    }, answerTimeoutMs);
    answerBytes += c.length;
    // The answer is one short line; a server that goes on sending would have all of it kept here.
    if (answerBytes > ANSWER_MAX_BYTES) channel.destroy(new Error(`the server's answer is longer than ${ANSWER_MAX_BYTES} bytes`));
    else chunks.push(c);
  });
  channel.on('error', (e) => (channelError ??= e));
  const answered = new Promise<void>((resolve) => channel.once('close', () => resolve()));
  // A reset, not a FIN: the server sees the upload broken off, not merely short.
  const onAbort = (): void => {
    socket.resetAndDestroy();
    channel.destroy();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  // The body's pace counts the bytes the channel takes, which a server reading slowly holds back (TCP's flow
  // control). Once all are sent the server's commit may take as long as it takes: the answer has its own limit.
  let tooSlow = false;
  const paceWatch = watchPace(pace, () => {
    tooSlow = true;
    onAbort();
  });
  // From the final record's hand-over on, the server may have the upload whole and commit it whatever the
  // client does next (transfer-server.ts): only its answer can tell. Before it, the upload cannot land.
  let lastByteSent = false;
  let commitTimer: NodeJS.Timeout | undefined;
  let commitLate = false;
  channel.once(FINAL_RECORD_SENT, () => {
    lastByteSent = true;
    paceWatch.stop();
    // The commit is the server's time, not a stall; one bound stays, so a server that never answers cannot hold the client.
    socket.setTimeout(0);
    commitTimer = setTimeout(() => {
      commitLate = true;
      channel.destroy(new Error(commitWaitReason(commitWaitMs)));
    }, commitWaitMs);
  });
  channel.write(`${size}\n`);
  let sendError: unknown;
  try {
    // The announced size and no more: a file that grew since it was measured (a log being written) sent its
    // new bytes too, past the size line, and the server refused the upload. One that shrank is cut before its
    // final record: sent short and ended, the server refused it, but a connection lost before that answer left
    // the client unable to say more than "may or may not have been stored" of an upload that cannot be.
    const whole = { bytes: size, why: (seen: number) => `the file shrank to ${seen} of the ${size} bytes announced while it was being sent` };
    await pipeline(size === 0 ? Readable.from([]) : typeof source === 'string' ? createReadStream(source, { start: 0, end: size - 1 }) : source.createReadStream({ start: 0, end: size - 1, autoClose: false }), byteCounter(progress, paceWatch.add, size, whole), channel);
  } catch (e) {
    sendError = e;
  }
  paceWatch.stop();
  await answered;
  clearTimeout(answerTimer);
  clearTimeout(commitTimer);
  signal?.removeEventListener('abort', onAbort);
  // Only authenticated records reach `chunks`. A refusal may come while the body is still being
  // written, and the server then closes: the write fails, but the refusal is the answer to report.
  const answer = Buffer.concat(chunks).toString('utf8');
  const status = answer.split('\n')[0] ?? '';
  // A sealed `OK` line, whole and alone, is sent only once the upload is committed: what happens to the connection
  // after it (a Ctrl-C, a cut) changes nothing, and was reported "may or may not have been stored". A server that
  // says more than its one line is broken, and its word is not taken (see afterLastByte).
  if (lastByteSent && answer === 'OK\n' && answerBytes === answer.length) return { ok: true };
  if (lastByteSent) return afterLastByte({ status, channelError, cancelled: isAborted(signal), answerLate, answerTimeoutMs, commitLate, commitWaitMs });
  if (isAborted(signal)) return CANCELLED;
  if (tooSlow) return failed(paceFailure(pace));
  if (answerLate) return failed(answerTimeoutReason(answerTimeoutMs));
  if (status.startsWith('ERR ')) return failed(status.slice(4));
  if (stalledSockets.has(socket)) return failed(stallReason(stallTimeoutMs));
  if (channelError !== undefined) return channelFailed(channelError);
  return sendError === undefined ? failed('the server closed the transfer connection') : channelFailed(sendError);
};

/** The server's `ERR` line for a commit its database did not confirm (forum-protocol's `outcomeUnknownText`). */
const DATABASE_UNCONFIRMED = `ERR ${outcomeUnknownText('command')}`;

/** The server's `ERR` line for a commit written while it lost its data directory lock (forum-protocol's `unconfirmedWriteText`). */
const WRITE_UNCONFIRMED = `ERR ${unconfirmedWriteText('command')}`;

/** How an upload whose final record was handed over ended, for {@link afterLastByte}. */
interface LastByteEnd {
  /** The authenticated answer's first line (empty: none). */
  readonly status: string;
  readonly channelError: unknown;
  readonly cancelled: boolean;
  readonly answerLate: boolean;
  readonly answerTimeoutMs: number;
  readonly commitLate: boolean;
  readonly commitWaitMs: number;
}

/**
 * The verdict on an upload the server may have whole: its authenticated `ERR` (nothing kept) or `OK` over a whole
 * channel, else unknown, with why no answer came. Said failed, a commit that landed after the client gave up (a
 * slow disk, a relay that dropped the `OK`) had the user send again a file the forum held.
 */
const afterLastByte = (end: LastByteEnd): TransferResult => {
  const { status } = end;
  // The server's word that its database did not confirm the commit (its COMMIT sent, no answer): maybe stored.
  // Printed as a failure, its retry met `File already exists` if it had landed.
  if (status === DATABASE_UNCONFIRMED) return undetermined("the server's database did not confirm it in time");
  if (status === WRITE_UNCONFIRMED) return undetermined('the server could not confirm it');
  if (status.startsWith('ERR ')) return end.cancelled ? CANCELLED : failed(status.slice(4));
  // A whole `OK` line was taken before; one without its newline over a whole channel is the server's too.
  if (status === 'OK' && end.channelError === undefined && !end.cancelled) return { ok: true };
  if (end.cancelled) return undetermined('cancelled after its last byte was sent');
  if (end.commitLate) return undetermined(commitWaitReason(end.commitWaitMs));
  if (end.answerLate) return undetermined(answerTimeoutReason(end.answerTimeoutMs));
  if (end.channelError !== undefined) return channelFailed(end.channelError, true);
  return undetermined('the server closed the transfer connection without an answer');
};

/** A transfer's options, and whether a download may replace a local file of the same name. */
export interface DownloadOptions extends TransferOptions {
  /** Replace `dir/filename` if it exists (default: refuse, see {@link LocalFileExistsError}). */
  readonly overwrite?: boolean;
}

/**
 * Fetches a file over TCP into `dir/filename`: the token line in clear, then
 * sealed records with `keys`. The bytes go to a temporary file that is
 * renamed only once all of them arrived and authenticated, so a broken,
 * altered, cancelled, too slow (`options.pace`) or stopped (the server's abort
 * record: its reason is the failure, as for a refusal) transfer leaves nothing (and a killed client's
 * leftover goes at the next start, see {@link sweepStaleDownloads}). An
 * existing `dir/filename` is kept unless `options.overwrite`.
 */
export const downloadFile = async (
  host: string,
  port: number,
  token: string,
  keys: TransferKeys,
  dir: string,
  filename: string,
  makeProgress: (size: number) => Progress,
  options: DownloadOptions = {},
): Promise<TransferResult> => {
  const { signal, overwrite = false, answerTimeoutMs = ANSWER_TIMEOUT_MS, pace = DEFAULT_TRANSFER_PACE, stallTimeoutMs = STALL_TIMEOUT_MS } = options;
  const opened = await openChannel(host, port, token, keys, signal, stallTimeoutMs);
  if (!('channel' in opened)) return opened;
  const { socket, channel } = opened;
  let channelError: unknown;
  channel.on('error', (e) => (channelError ??= e));
  const onAbort = (): void => void channel.destroy();
  signal?.addEventListener('abort', onAbort, { once: true });
  let headerLate = false;
  // Destroying the channel ends the header's read (as a close would).
  const headerTimer = setTimeout(() => {
    headerLate = true;
    channel.destroy();
  }, answerTimeoutMs);
  try {
    const header = await readHeaderLines(channel, 1, ANSWER_MAX_BYTES);
    clearTimeout(headerTimer);
    if (isAborted(signal)) return CANCELLED;
    const status = header?.[0];
    if (status === undefined) {
      channel.destroy();
      if (headerLate) return failed(answerTimeoutReason(answerTimeoutMs));
      if (stalledSockets.has(socket)) return failed(stallReason(stallTimeoutMs));
      return channelError !== undefined ? channelFailed(channelError) : failed('the server closed the transfer connection');
    }
    if (status.startsWith('ERR ')) {
      channel.destroy();
      return failed(status.slice(4));
    }
    const match = /^OK ([0-9]{1,15})$/.exec(status);
    if (match === null) {
      channel.destroy();
      return failed('unexpected answer from the server');
    }
    const size = Number(match[1]);
    // The size is the server's word: one announcing 512 TiB had the client write until the disk was full
    // (1 GiB in 8 s here, attack round 11, attack/hostile-transfers.ts dwn-huge). Refused if it cannot fit now.
    const free = await freeBytes(dir);
    if (free !== undefined && size > free) {
      channel.destroy();
      return failed(`the server announced ${size} bytes, more than the ${free} free here`);
    }
    const tmp = join(dir, tempName());
    const progress = makeProgress(size);
    let received = 0;
    let tooSlow = false;
    // Destroying the channel fails the pipeline below, which deletes the partial file.
    const paceWatch = watchPace(pace, () => {
      tooSlow = true;
      channel.destroy(new Error(paceFailure(pace)));
    });
    const onBytes = (n: number): void => {
      received += n;
      paceWatch.add(n);
    };
    try {
      await pipeline(channel, byteCounter(progress, onBytes, size), createWriteStream(tmp, { flags: 'wx' }));
    } catch (e) {
      paceWatch.stop();
      progress.stop();
      await unlink(tmp).catch(() => undefined);
      if (isAborted(signal)) return CANCELLED;
      if (tooSlow) return failed(paceFailure(pace));
      if (stalledSockets.has(socket)) return failed(stallReason(stallTimeoutMs));
      // The server stopped the download and said why (its thread was removed): reported as its refusal would be.
      if (e instanceof TransferChannelError && e.code === 'ERR_TRANSFER_ABORTED') return failed(e.message);
      return failed(`transfer broken off: ${errorText(e)}`);
    }
    paceWatch.stop();
    progress.stop();
    channel.destroy();
    if (isAborted(signal) || received !== size) {
      await unlink(tmp).catch(() => undefined);
      return isAborted(signal) ? CANCELLED : failed(`transfer broken off after ${received} of ${size} bytes`);
    }
    try {
      await putInPlace(tmp, join(dir, filename), overwrite);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      return failed(e instanceof LocalFileExistsError ? `${filename} appeared here meanwhile and was kept` : errorText(e));
    }
    return { ok: true };
  } finally {
    clearTimeout(headerTimer);
    signal?.removeEventListener('abort', onAbort);
  }
};
