/**
 * A download over the transfer connection: the file from the store under the pace and the stall limit, and
 * its tail (the final record in the kernel) bounded until its receiver closes.
 */
import type { TransferGrant } from 'forum-protocol';
import { commandErrorText, FINAL_RECORD_SENT, SecureTransferChannel } from 'forum-protocol';
import { once } from 'node:events';
import type net from 'node:net';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { KernelTcpTable } from './kernel-tcp-table.js';
import { downloadTailMs, watchTransferPace, type TransferPace } from './transfer-pace.js';
import { bothHeld, whileHeld, type ServerHold, type StallLimit } from './transfer-stall.js';
import type { TransferServerDeps } from './transfer-server-deps.js';
import { DRAIN_AFTER_REFUSAL_MS, refuse } from './transfer-refusal.js';
import { storeRefusalText, storeStep } from './transfer-store-step.js';

/** How a download is judged: its pace, the stall limit, and the kernel's send-buffer ceiling (for its tail). */
export interface DownloadLimits {
  readonly pace: TransferPace;
  readonly stallMs: number;
  /** The running stall limit, held while the store reads. */
  readonly stall: StallLimit;
  /** tcp_wmem's maximum, bytes ({@link socketBufferMaximum}). */
  readonly sendBufferCeiling: number;
  /** Where the tail reads how much of the download its receiver has acknowledged. */
  readonly tcpTable: KernelTcpTable;
  /**
   * Ends the download's place among its user's downloads (downloads-per-user.ts) before its connection closes:
   * called when the store refuses it, as nothing of the file is then sent (no tail to hold).
   */
  readonly refused: () => void;
}

/**
 * The tail of a download whose final record `raw`'s kernel holds: waits for the connection's close (an honest
 * receiver closes once it has read the final record), resetting it at {@link downloadTailMs}'s deadline.
 * Neither the pace nor the stall limit judges it: the kernel takes no more, so both would cut a receiver still
 * reading. Nor does an empty send queue: a receiver acknowledges what its own kernel buffers, and an honest
 * one at the pace may read that buffer (several MiB) for longer than a stall limit.
 */
const downloadTail = async (deps: TransferServerDeps, raw: net.Socket, grant: TransferGrant, limits: DownloadLimits): Promise<void> => {
  if (raw.destroyed) return;
  limits.stall.stop();
  // 'close', not events.once: that rejects at the 'error' before it, and the slot is held to the close.
  const closed = new Promise<unknown>((resolve) => raw.once('close', resolve));
  const tailMs = downloadTailMs(raw.bytesWritten, limits.sendBufferCeiling, limits.stallMs, limits.pace);

  const deadline = setTimeout(() => {
    deps.log(`Download of ${grant.filename} by ${grant.username} stopped: its end not read ${Math.round(tailMs / 1000)} s after the server sent it`);
    raw.resetAndDestroy();
  }, tailMs);
  try {
    await closed;
  } finally {
    clearTimeout(deadline);
  }
};

/**
 * `stream`'s chunks, `pace` held while the server waits for each: its store's reads are not the client's time
 * (a slow disk, or PostgreSQL under load, must not stop an honest download).
 */
async function* heldWhileRead(stream: Readable, pace: ServerHold): AsyncGenerator<Buffer> {
  pace.hold();
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      pace.release();
      try {
        yield chunk;
      } finally {
        pace.hold();
      }
    }
  } finally {
    pace.release();
  }
}

/** `raw` is the socket under `socket`: what its kernel has taken is the download's pace. */
export const sendDownload = async (deps: TransferServerDeps, socket: SecureTransferChannel, raw: net.Socket, grant: TransferGrant, limits: DownloadLimits): Promise<void> => {
  // Only the file of the thread DWN found (the grant's incarnation): removed since, it is refused as no thread,
  // even if the title was made again with a file of that name.
  const opened = await whileHeld(limits.stall, () => storeStep(deps, deps.store.openDownload(grant.thread, grant.filename, grant.incarnation)));
  if (opened._tag === 'Left') {
    // Counted to the close, a refusal held the user's place until the stall limit when its client had sent
    // anything (its final record first, say) before closing: those bytes left unread, the close went unseen.
    limits.refused();
    return refuse(socket, storeRefusalText(opened.left, 'download'));
  }
  const { stream, size, stopped } = opened.right;
  // The client may have gone while the store opened the file (a FIN with its token line ends the channel,
  // cut before a final record): its close has passed, and the wait for a drain below would never end,
  // holding the file open, and the user's transfer counted as running, for good (attack round 5). Its
  // socket alone may be gone too (a final record, then a reset): the pace would have run a window and
  // logged a download "too slow" that had ended.
  if (socket.destroyed || raw.destroyed) {
    stream.destroy();
    return;
  }
  // Read (and drop) what the client sends the other way: its close, and at most a few KiB before it (serve's
  // boundInbound). Left unread (the token line's reader pauses the socket), a client's close can go unseen and
  // the connection outlive the download until the stall timeout, holding one of the host's 16 slots.
  socket.resume();
  socket.write(`OK ${size}\n`);
  // The inactivity timer does not end a receiver that reads nothing and sends a record now and then (each
  // read restarts it): judged by what the kernel takes, to the connection's close, as the connection holds
  // its slot (and up to tcp_wmem's maximum of the kernel's memory) until then. A reset, as the stall limit's.
  const pace = watchTransferPace(
    'download',
    () => raw.bytesWritten - raw.writableLength,
    limits.pace,
    (reason) => {
      deps.log(`Download of ${grant.filename} by ${grant.username} stopped: ${reason}`);
      raw.resetAndDestroy();
    },
  );
  raw.once('close', () => pace.stop());
  // Logged when the final record is handed to TCP, not when the sending completes: the client may
  // have the whole file by then, close the connection (which breaks a send still waiting for the
  // socket to drain) and send its next command, whose line must not come first.
  socket.once(FINAL_RECORD_SENT, () => deps.log(`${grant.username} downloaded ${grant.filename} from ${grant.thread} thread`));
  // RMV of the thread stops the download, its file closed by the store (so the removed file's disk is
  // freed): the client is told why in a sealed abort record after the bytes already sent, and throws its
  // partial file away, printing the reason as for a refusal. A download whose final record is already
  // sent is whole, and is left to finish. Any wait for the socket to drain ends.
  const quit = new AbortController();
  socket.once('close', () => quit.abort());
  let stop: string | undefined;
  void stopped.then((reason) => {
    stop = commandErrorText(reason);
    quit.abort();
    if (!socket.abort(stop)) return;
    deps.log(`Download of ${grant.filename} by ${grant.username} stopped: ${stop}`);
    // Not taken in its drain period, the abort record is behind what the kernel holds: reset (see the stall limit).
    setTimeout(() => raw.resetAndDestroy(), DRAIN_AFTER_REFUSAL_MS).unref();
  });
  try {
    for await (const chunk of heldWhileRead(stream, bothHeld(pace, limits.stall))) {
      if (!socket.write(chunk)) await once(socket, 'drain', { signal: quit.signal });
    }
    socket.end();
    await finished(socket, { readable: false });
    pace.stop();
    await downloadTail(deps, raw, grant, limits);
  } catch {
    // The store destroys the stream unfinished without an error only to stop it (its refusal then follows at
    // once): the abort record is on its way, and the connection must live to carry it.
    if (stream.destroyed && !stream.readableEnded && stream.errored === null && !socket.destroyed) {
      await Promise.race([stopped, once(socket, 'close').catch(() => undefined)]);
      return;
    }
    if (stop !== undefined) return;
    stream.destroy();
    socket.destroy();
  }
};
