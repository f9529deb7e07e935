import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { readdir, rename, unlink } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Progress } from './progress.js';
import { readHeaderLines, SecureTransferChannel, type TransferKeys } from 'forum-protocol';

/** How a transfer ended: `ok`, or the reason to print. */
export type TransferResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const CONNECT_TIMEOUT_MS = 5_000;
const STALL_TIMEOUT_MS = 30_000;

const counter = (progress: Progress, onBytes: (n: number) => void = () => undefined): Transform =>
  new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      progress.add(chunk.length);
      onBytes(chunk.length);
      done(null, chunk);
    },
  });

const open = (host: string, port: number): Promise<net.Socket> =>
  new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => socket.destroy(new Error('timed out connecting')));
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.on('error', () => undefined);
      socket.setTimeout(STALL_TIMEOUT_MS, () => socket.destroy(new Error('transfer stalled')));
      resolve(socket);
    });
  });

const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e));

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

/**
 * Sends `path` (`size` bytes) over TCP: the token line in clear, then sealed
 * with `keys`: the size line, the bytes and the final record; then waits for
 * the server's sealed `OK` / `ERR reason`.
 */
export const uploadFile = async (host: string, port: number, token: string, keys: TransferKeys, path: string, size: number, progress: Progress): Promise<TransferResult> => {
  let socket: net.Socket;
  try {
    socket = await open(host, port);
  } catch (e) {
    return { ok: false, reason: `cannot open the transfer connection: ${describe(e)}` };
  }
  socket.write(`${token}\n`);
  const channel = new SecureTransferChannel(socket, keys, 'client');
  const chunks: Buffer[] = [];
  let channelError: unknown;
  channel.on('data', (c: Buffer) => chunks.push(c));
  channel.on('error', (e) => (channelError ??= e));
  const answered = new Promise<void>((resolve) => channel.once('close', () => resolve()));
  channel.write(`${size}\n`);
  let sendError: unknown;
  try {
    await pipeline(createReadStream(path), counter(progress), channel);
  } catch (e) {
    sendError = e;
  }
  await answered;
  // Only authenticated records reach `chunks`. A refusal may come while the body is still being
  // written, and the server then closes: the write fails, but the refusal is the answer to report.
  const status = Buffer.concat(chunks).toString('utf8').split('\n')[0] ?? '';
  if (status.startsWith('ERR ')) return { ok: false, reason: status.slice(4) };
  // Success needs a whole channel: a broken one is a failure whatever it said before.
  if (channelError !== undefined) return { ok: false, reason: describe(channelError) };
  if (status === 'OK') return { ok: true };
  return { ok: false, reason: sendError === undefined ? 'the server closed the transfer connection' : describe(sendError) };
};

/**
 * Fetches a file over TCP into `dir/filename`: the token line in clear, then
 * sealed records with `keys`. The bytes go to a temporary file that is
 * renamed only once all of them arrived and authenticated, so a broken or
 * altered transfer leaves nothing (and a killed client's leftover goes at the
 * next start, see {@link sweepStaleDownloads}).
 */
export const downloadFile = async (
  host: string,
  port: number,
  token: string,
  keys: TransferKeys,
  dir: string,
  filename: string,
  makeProgress: (size: number) => Progress,
): Promise<TransferResult> => {
  let socket: net.Socket;
  try {
    socket = await open(host, port);
  } catch (e) {
    return { ok: false, reason: `cannot open the transfer connection: ${describe(e)}` };
  }
  socket.write(`${token}\n`);
  const channel = new SecureTransferChannel(socket, keys, 'client');
  let channelError: unknown;
  channel.on('error', (e) => (channelError ??= e));
  const header = await readHeaderLines(channel, 1, 4096);
  const status = header?.[0];
  if (status === undefined) {
    channel.destroy();
    return { ok: false, reason: channelError !== undefined ? describe(channelError) : 'the server closed the transfer connection' };
  }
  if (status.startsWith('ERR ')) {
    channel.destroy();
    return { ok: false, reason: status.slice(4) };
  }
  const match = /^OK ([0-9]{1,15})$/.exec(status);
  if (match === null) {
    channel.destroy();
    return { ok: false, reason: 'unexpected answer from the server' };
  }
  const size = Number(match[1]);
  const tmp = join(dir, tempName());
  const progress = makeProgress(size);
  let received = 0;
  try {
    await pipeline(channel, counter(progress, (n) => (received += n)), createWriteStream(tmp, { flags: 'wx' }));
  } catch (e) {
    progress.stop();
    await unlink(tmp).catch(() => undefined);
    return { ok: false, reason: `transfer broken off: ${describe(e)}` };
  }
  progress.stop();
  channel.destroy();
  if (received !== size) {
    await unlink(tmp).catch(() => undefined);
    return { ok: false, reason: `transfer broken off after ${received} of ${size} bytes` };
  }
  try {
    await rename(tmp, join(dir, filename));
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    return { ok: false, reason: describe(e) };
  }
  return { ok: true };
};
