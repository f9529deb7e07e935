import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { link, lstat, readdir, rename, statfs, unlink } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Progress } from './progress.js';
import { DEFAULT_TRANSFER_PACE, paceFailure, watchPace, type TransferPace } from './transfer-pace.js';
import { isNoHardLinks, readHeaderLines, SecureTransferChannel, TransferChannelError, type TransferKeys } from 'forum-protocol';

/** How a transfer ended: `ok`, cancelled (Ctrl-C: nothing kept on either side), or failed with the reason to print. */
export type TransferResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly cancelled: true }
  | { readonly ok: false; readonly cancelled: false; readonly reason: string };

const failed = (reason: string): TransferResult => ({ ok: false, cancelled: false, reason });
const CANCELLED: TransferResult = { ok: false, cancelled: true };
// A call, not `signal?.aborted` inline: the flag changes across awaits, which narrowing does not know.
const isAborted = (signal: AbortSignal | undefined): boolean => signal?.aborted === true;

/** Why a download would not replace a local file: the local name is taken and overwriting was not asked for. */
export class LocalFileExistsError extends Error {
  override readonly name = 'LocalFileExistsError';
  readonly code = 'EEXIST';
}

const CONNECT_TIMEOUT_MS = 5_000;
/** The most an answer on the transfer channel (`OK`, `OK SIZE`, `ERR reason`) may take, its newline included. */
const ANSWER_MAX_BYTES = 4096;
/** How long a transfer connection may go without a byte either way (its inactivity limit). */
export const STALL_TIMEOUT_MS = 30_000;
/**
 * Transfer sockets the inactivity limit ended. The channel reads that end as a cut stream, and an upload the
 * server stopped reading failed with `the transfer connection ended before its final record`, which says
 * nothing of why (attack/hostile-trickle.ts upd-body); its failure now says what the limit saw.
 */
const stalledSockets = new WeakSet<net.Socket>();
const stallReason = (ms: number): string => `no bytes moved in the last ${ms / 1000} s`;
/**
 * How long an answer line (a download's `OK SIZE`, counted from connecting; an upload's `OK` / `ERR
 * reason`, from its first byte) may take to arrive whole. The stall timeout above is one of
 * inactivity: a server sending a byte every 29 s held a piped client on the line for as long as it
 * liked (4,096 bytes: 33 hours; attack round 8, attack/hostile-trickle.ts).
 */
export const ANSWER_TIMEOUT_MS = 30_000;
const answerTimeoutReason = (ms: number): string => `the server did not send its answer within ${ms / 1000} s`;

/** Counts the bytes that pass; past `limit` it fails instead of passing them on. */
const counter = (progress: Progress, onBytes: (n: number) => void = () => undefined, limit = Number.POSITIVE_INFINITY): Transform => {
  let seen = 0;
  return new Transform({
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
const open = (host: string, port: number, signal: AbortSignal | undefined, stallTimeoutMs: number): Promise<net.Socket> =>
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

const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * Why the channel failed, for the user. A refusal in clear (the server's answer to a token it does not
 * know, before there are keys) can be written by anyone on the path, at any moment before the server's
 * first record: an upload's sealed `OK` dropped and `ERR Thread T does not exist` put in its place made
 * the client print the spec's line for a removed thread while the file was stored (attack round 11,
 * attack/onpath-transfer.ts forge-refusal). It is said to be unauthenticated, so it never reads as the
 * server's word.
 */
const channelFailure = (e: unknown): string =>
  e instanceof TransferChannelError && e.code === 'ERR_TRANSFER_REFUSED' ? `unauthenticated answer: ${e.message}` : describe(e);

/** Connects to the transfer port and presents `token`: the sealed channel, or why there is none. */
const openChannel = async (
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
    socket = await open(host, port, signal, stallTimeoutMs);
  } catch (e) {
    return isAborted(signal) ? CANCELLED : failed(`cannot open the transfer connection: ${describe(e)}`);
  }
  socket.write(`${token}\n`);
  return { socket, channel: new SecureTransferChannel(socket, keys, 'client') };
};

// A download goes to `.forum-download-PID-RANDOM.tmp` first. A client killed
// mid-transfer cannot delete its own; the PID in the name lets the next client
// started in that directory tell a dead client's leftover from a live one's.
const TEMP_NAME = /^\.forum-download-([1-9][0-9]{0,9})-[0-9a-f]{16}\.tmp$/;
const tempName = (): string => `.forum-download-${process.pid}-${randomBytes(8).toString('hex')}.tmp`;

const isRunning = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it runs, as another user.
    return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === 'EPERM';
  }
};

/**
 * Deletes the download temporaries in `dir` left by clients that no longer
 * run (killed mid-DWN); those of running clients are left alone. Resolves
 * with how many were deleted; never rejects.
 */
export const sweepStaleDownloads = async (dir: string): Promise<number> => {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    const pid = Number(TEMP_NAME.exec(name)?.[1] ?? 0);
    if (pid === 0 || pid === process.pid || isRunning(pid)) continue;
    removed += await unlink(join(dir, name)).then(
      () => 1,
      () => 0,
    );
  }
  return removed;
};

/** What every transfer may be given: a way to cancel it, and how slow the server may be. */
export interface TransferOptions {
  /** Cancels the transfer: nothing is kept on either side. */
  readonly signal?: AbortSignal;
  /** How long the server's answer line may take (default {@link ANSWER_TIMEOUT_MS}; see there for when it counts from). */
  readonly answerTimeoutMs?: number;
  /** The least the body must move (default {@link DEFAULT_TRANSFER_PACE}; `minBytes` 0: no floor). */
  readonly pace?: TransferPace;
  /** How long the connection may go without a byte either way (default {@link STALL_TIMEOUT_MS}). */
  readonly stallTimeoutMs?: number;
}

/**
 * Sends `path` (`size` bytes) over TCP: the token line in clear, then sealed
 * with `keys`: the size line, the bytes and the final record; then waits for
 * the server's sealed `OK` / `ERR reason`. Aborting `options.signal` cuts the
 * connection: the server then has fewer bytes than announced and keeps
 * nothing; so does a body that moves slower than `options.pace`.
 */
export const uploadFile = async (
  host: string,
  port: number,
  token: string,
  keys: TransferKeys,
  path: string,
  size: number,
  progress: Progress,
  options: TransferOptions = {},
): Promise<TransferResult> => {
  const { signal, answerTimeoutMs = ANSWER_TIMEOUT_MS, pace = DEFAULT_TRANSFER_PACE, stallTimeoutMs = STALL_TIMEOUT_MS } = options;
  const opened = await openChannel(host, port, token, keys, signal, stallTimeoutMs);
  if (!('channel' in opened)) return opened;
  const { socket, channel } = opened;
  const chunks: Buffer[] = [];
  let answerBytes = 0;
  let channelError: unknown;
  let answerTimer: NodeJS.Timeout | undefined;
  let answerLate = false;
  channel.on('data', (c: Buffer) => {
    // The answer comes after the server's commit, however long that takes; once begun it must end soon.
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
  channel.write(`${size}\n`);
  let sendError: unknown;
  try {
    // The announced size and no more: a file that grew since it was measured (a log being written) sent its
    // new bytes too, past the size line, and the server refused the upload. One that shrank is sent short: refused.
    await pipeline(size === 0 ? Readable.from([]) : createReadStream(path, { start: 0, end: size - 1 }), counter(progress, paceWatch.add), channel);
  } catch (e) {
    sendError = e;
  }
  paceWatch.stop();
  await answered;
  clearTimeout(answerTimer);
  signal?.removeEventListener('abort', onAbort);
  if (isAborted(signal)) return CANCELLED;
  if (tooSlow) return failed(paceFailure(pace));
  if (answerLate) return failed(answerTimeoutReason(answerTimeoutMs));
  // Only authenticated records reach `chunks`. A refusal may come while the body is still being
  // written, and the server then closes: the write fails, but the refusal is the answer to report.
  const status = Buffer.concat(chunks).toString('utf8').split('\n')[0] ?? '';
  if (status.startsWith('ERR ')) return failed(status.slice(4));
  if (stalledSockets.has(socket)) return failed(stallReason(stallTimeoutMs));
  // Success needs a whole channel: a broken one is a failure whatever it said before.
  if (channelError !== undefined) return failed(channelFailure(channelError));
  if (status === 'OK') return { ok: true };
  return failed(sendError === undefined ? 'the server closed the transfer connection' : channelFailure(sendError));
};

/** A transfer's options, and whether a download may replace a local file of the same name. */
export interface DownloadOptions extends TransferOptions {
  /** Replace `dir/filename` if it exists (default: refuse, see {@link LocalFileExistsError}). */
  readonly overwrite?: boolean;
}

/**
 * Bytes an unprivileged process may still write on the file system of `dir`; `undefined` if it cannot be
 * told. A file system of no blocks has no size to tell (df leaves it out): ramfs and tmpfs mounted with
 * size=0 (no limit) say 0 blocks and 0 available, and a download there was refused whatever its size.
 */
const freeBytes = (dir: string): Promise<number | undefined> =>
  statfs(dir).then(
    (s) => (s.blocks === 0 ? undefined : s.bavail * s.bsize),
    () => undefined,
  );

/**
 * Puts the finished temporary file in place as `dest`. Without `overwrite` a
 * hard link is made and the temporary removed: unlike a rename, the link
 * fails if `dest` appeared meanwhile, so a file is never silently replaced.
 */
const commit = async (tmp: string, dest: string, overwrite: boolean): Promise<void> => {
  if (overwrite) return rename(tmp, dest);
  try {
    await link(tmp, dest);
  } catch (e) {
    const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
    if (code === 'EEXIST') throw new LocalFileExistsError(`${dest} exists`);
    // A file system without hard links (FAT, some network mounts): check, then rename.
    if (!isNoHardLinks(e)) throw e;
    if (await lstat(dest).then(() => true, () => false)) throw new LocalFileExistsError(`${dest} exists`);
    return rename(tmp, dest);
  }
  await unlink(tmp);
};

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
      return failed(channelError !== undefined ? channelFailure(channelError) : 'the server closed the transfer connection');
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
      await pipeline(channel, counter(progress, onBytes, size), createWriteStream(tmp, { flags: 'wx' }));
    } catch (e) {
      paceWatch.stop();
      progress.stop();
      await unlink(tmp).catch(() => undefined);
      if (isAborted(signal)) return CANCELLED;
      if (tooSlow) return failed(paceFailure(pace));
      if (stalledSockets.has(socket)) return failed(stallReason(stallTimeoutMs));
      // The server stopped the download and said why (its thread was removed): reported as its refusal would be.
      if (e instanceof TransferChannelError && e.code === 'ERR_TRANSFER_ABORTED') return failed(e.message);
      return failed(`transfer broken off: ${describe(e)}`);
    }
    paceWatch.stop();
    progress.stop();
    channel.destroy();
    if (isAborted(signal) || received !== size) {
      await unlink(tmp).catch(() => undefined);
      return isAborted(signal) ? CANCELLED : failed(`transfer broken off after ${received} of ${size} bytes`);
    }
    try {
      await commit(tmp, join(dir, filename), overwrite);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      return failed(e instanceof LocalFileExistsError ? `${filename} appeared here meanwhile and was kept` : describe(e));
    }
    return { ok: true };
  } finally {
    clearTimeout(headerTimer);
    signal?.removeEventListener('abort', onAbort);
  }
};
