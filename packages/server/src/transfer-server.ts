import type { ForumStore, TransferGrant, TransferTokens, UploadError, UploadSlots } from 'forum-protocol';
import { commandErrorText, FINAL_RECORD_SENT, ioErrorText, SecureTransferChannel, TransferChannelError, uploadSlotsRefusal, withCommandDeadline } from 'forum-protocol';
import { once } from 'node:events';
import net from 'node:net';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { readHeaderLines } from 'forum-protocol';
import type { DiskQuota } from './disk-quota.js';
import type { TransferActivity } from './transfer-activity.js';
import { TransferAdmission } from './transfer-admission.js';
import { boundInbound, MAX_DOWNLOAD_INBOUND_BYTES } from './download-inbound.js';
import { DEFAULT_SEND_BUFFER_CEILING, socketBufferMaximum } from './socket-buffer-maximum.js';
import { DEFAULT_TRANSFER_PACE, downloadTailMs, watchTransferPace, type TransferPace } from './transfer-pace.js';
import { bothHeld, watchStall, whileHeld, type ServerHold, type StallLimit } from './transfer-stall.js';
import { HEADER_TIMEOUT_MS, type UPLOAD_COMMIT_DEADLINE_MS } from './server-defaults.js';
import { UploadReservation } from './upload-reservation.js';
import { UploadsPerUser } from './uploads-per-user.js';
import { within } from './within.js';
import { KernelTcpTable, TCP_CLOSE, TCP_TABLE_EVERY_MS } from './kernel-tcp-table.js';

/** What the TCP side needs from the rest of the server. */
export interface TransferServerDeps {
  readonly store: ForumStore;
  readonly tokens: TransferTokens;
  readonly activity: TransferActivity;
  readonly log: (line: string) => void;
  /** Largest file an upload may announce (`--max-upload-bytes`). */
  readonly maxUploadBytes: number;
  /** The data directory's quota (`--max-data-bytes`). */
  readonly quota: DiskQuota;
  /** Why new connections are refused right now (the server is over its memory budget), or `undefined`. */
  readonly overloaded: () => string | undefined;
  /** Where each user's uploads in progress are counted; default this process ({@link UploadsPerUser}). */
  readonly uploadSlots?: UploadSlots;
  /** The deadline of an upload's commit in the store, ms (`withCommandDeadline`; {@link UPLOAD_COMMIT_DEADLINE_MS} on PostgreSQL); `undefined`: none. */
  readonly commitDeadlineMs?: number;
}

/** Connections one client host may hold at once (a new one evicts the host's oldest tokenless one). */
const MAX_CONNECTIONS_PER_HOST = 16;
/** Connections held at once, in all (a new one evicts the oldest tokenless one). */
const MAX_CONNECTIONS = 512;
/** How long a refused upload's remaining bytes are read and discarded, so the client sees the ERR line rather than a reset. */
const DRAIN_AFTER_REFUSAL_MS = 10_000;
/**
 * A transfer that moves no byte for this long of the client's time is abandoned (and leaves nothing behind); a
 * trickle is ended by its pace (transfer-pace.ts). Node's socket timeout: a read or a
 * write that completes restarts it, a write waiting for a receiver that reads nothing does not, but Node skips
 * an expiry when that write went out in part since the last one: a download not read was cut at 60 s. Off while
 * the server waits for its store or disk (transfer-stall.ts): a store write pending 30 s ended an honest upload.
 */
export const STALL_TIMEOUT_MS = 30_000;
const TOKEN = /^[0-9a-f]{64}$/;
const SIZE = /^[0-9]{1,15}$/;
/** How long a connection refused on arrival is kept, reading and dropping, so its client reads the line rather than a reset. */
const REFUSAL_GRACE_MS = 2_000;
/**
 * Connections refused on arrival kept at once for their grace; past it a refused one is closed at once
 * (its client may then see a reset instead of the line). They hold no slot, so a host refused in a
 * flood of connections cannot make the server hold more than this many sockets for it.
 */
const MAX_REFUSALS_IN_GRACE = 64;

/** Limits of {@link startTransferServer}, for tests that cannot wait for the real ones. */
export interface TransferLimits {
  /** The header's deadline, {@link HEADER_TIMEOUT_MS} by default. */
  readonly headerTimeoutMs?: number;
  /** {@link STALL_TIMEOUT_MS} by default. */
  readonly stallTimeoutMs?: number;
  /** A download's pace, {@link DEFAULT_TRANSFER_PACE} by default; `minBytesPerSecond` 0: none. */
  readonly downloadPace?: TransferPace;
  /** An upload's pace, {@link DEFAULT_TRANSFER_PACE} by default; `minBytesPerSecond` 0: none. */
  readonly uploadPace?: TransferPace;
  /** How long close waits for the transfers it cut, {@link CLOSE_SETTLE_MS} by default. */
  readonly closeSettleMs?: number;
}

/** Refuses over `socket` (in clear: no keys yet) or over the sealed channel. */
const refuse = (socket: net.Socket | SecureTransferChannel, reason: string): void => {
  socket.end(`ERR ${reason}\n`);
};

/** Refuses an upload whose body may still be arriving: answer, then read and drop what comes for a while. */
const refuseUpload = (socket: SecureTransferChannel, reason: string): void => {
  refuse(socket, reason);
  socket.resume();
  setTimeout(() => socket.destroy(), DRAIN_AFTER_REFUSAL_MS).unref();
};

/** `unmark` lets go of its user's "transferring" mark ({@link TransferActivity}) before the connection ends. */
/** Watches whether an upload's sender is gone (its connection reset) while the server reads nothing of it; returns the watch's end. */
type SenderWatch = (onGone: () => void) => () => void;

const receiveUpload = async (deps: TransferServerDeps, socket: SecureTransferChannel, grant: TransferGrant, headerDone: () => void, uploads: UploadSlots, pace: TransferPace, stall: StallLimit, unmark: () => void, watchSender: SenderWatch): Promise<void> => {
  const taken = await whileHeld(stall, uploads.take(grant.username));
  // The count out of reach (the database): refused, as a store error refuses any upload.
  if (taken._tag === 'Left') return refuseStored(deps, socket, grant, commandErrorText(taken.left), refuseUpload);
  const ended = taken.right;
  if (ended === undefined) {
    const refusal = uploadSlotsRefusal(uploads.perUser);
    deps.log(`Upload of ${grant.filename} by ${grant.username} refused: ${refusal}`);
    return refuseUpload(socket, refusal);
  }
  try {
    const over = (): void => {
      void ended();
      unmark();
    };
    await receiveSized(deps, socket, grant, headerDone, over, pace, stall, watchSender);
  } finally {
    await ended();
  }
};

/**
 * `over` ends the upload before its connection, when RMV stops it or its pace refuses it (a refusal's drain
 * follows): its place among its user's uploads ({@link UploadSlots}) and its user's "transferring" mark.
 */
const receiveSized = async (deps: TransferServerDeps, socket: SecureTransferChannel, grant: TransferGrant, headerDone: () => void, over: () => void, pace: TransferPace, stall: StallLimit, watchSender: SenderWatch): Promise<void> => {
  const sizeLine = await readHeaderLines(socket, 1, 32);
  const sizeText = sizeLine?.[0];
  if (sizeText === undefined || !SIZE.test(sizeText)) return refuse(socket, 'bad size line');
  headerDone();
  const size = Number(sizeText);
  if (size > deps.maxUploadBytes) {
    deps.log(`Upload of ${grant.filename} by ${grant.username} refused: ${size} bytes is over the limit`);
    return refuseUpload(socket, `file too large: ${size} bytes, the server accepts at most ${deps.maxUploadBytes}`);
  }
  const room = await whileHeld(stall, () => UploadReservation.start(deps.quota, size).catch(unmeasurable));
  if (!room.ok) {
    deps.log(`Upload of ${grant.filename} by ${grant.username} refused: ${room.reason}`);
    return refuseUpload(socket, room.reason);
  }
  try {
    await receiveBody(deps, socket, grant, size, room.reservation, over, pace, stall, watchSender);
  } finally {
    room.reservation.release();
  }
};

const unmeasurable = (e: unknown): { readonly ok: false; readonly reason: string } => ({ ok: false, reason: `the server cannot measure its disk: ${e instanceof Error ? e.message : String(e)}` });

/** How long close waits for the transfers it cut to clean up (an upload deletes its temporary file). */
const CLOSE_SETTLE_MS = 5_000;

/** How long an upload whose store stream was destroyed waits for the stop (RMV) that destroyed it to settle. */
const STOP_SETTLE_MS = 2_000;

/** Refuses an upload the store refused (a thread filled since the grant, the forum full, …), and says so in the log as the size and quota refusals do. */
const refuseStored = (deps: TransferServerDeps, socket: SecureTransferChannel, grant: TransferGrant, reason: string, answer: (socket: SecureTransferChannel, reason: string) => void): void => {
  deps.log(`Upload of ${grant.filename} by ${grant.username} refused: ${reason}`);
  answer(socket, reason);
};

const receiveBody = async (deps: TransferServerDeps, socket: SecureTransferChannel, grant: TransferGrant, size: number, room: UploadReservation, over: () => void, paceLimits: TransferPace, stall: StallLimit, watchSender: SenderWatch): Promise<void> => {
  // Only into the thread UPD checked (the grant's incarnation): a thread of the title made since is refused.
  // The size, for a store that bounds its uploads' bytes itself (PostgreSQL): a file that cannot fit is refused now.
  const begun = await whileHeld(stall, deps.store.beginUpload(grant.thread, grant.filename, grant.username, grant.incarnation, size));
  if (begun._tag === 'Left') return refuseStored(deps, socket, grant, commandErrorText(begun.left), refuseUpload);
  const writer = begun.right;
  // One answer per upload: the store's stop below may come while the loop is about to answer for itself.
  let answered = false;
  const answer = (send: () => void): void => {
    if (answered) return;
    answered = true;
    send();
  };
  // The store stops the upload when RMV removes its thread, its bytes already discarded: the client is told
  // at once and the room and its user's upload slot released, even while no byte arrives, and any wait for
  // the store's stream (which will not drain again) ends. The loop below then stops at its next chunk, or
  // when the refusal's drain period ends the connection; its reading is not cut short, so the client's bytes
  // in flight are drained and it reads the refusal rather than a reset. (The slot is not held for that
  // drain: the upload is over, and its user may start another at once. Nor the user's "transferring" mark,
  // which only keeps the session from idling out: 10 s of a silent sender's drain are not its activity.)
  let stopped: UploadError | undefined;
  const stopWaiting = new AbortController();
  let received = 0;
  // Once, whoever asks first: the pace's refusal aborts the store's upload at once, and the loop waits for it.
  let aborting: Promise<void> | undefined;
  const abort = (): Promise<void> => (aborting ??= writer.abort());
  // The client's bytes over the last window of its own time (transfer-pace.ts), judged by a timer, so a sender
  // gone silent is judged too: an average since the start credited a fast first part, and a byte every 25 s then
  // held the slot and the room for hours. Refused as RMV's stop is (below), with the store's upload aborted.
  let tooSlow: string | undefined;
  const pace = watchTransferPace('upload', () => received, paceLimits, (reason) => {
    if (stopped !== undefined) return;
    tooSlow = reason;
    stopWaiting.abort();
    // The room once the store's upload is aborted, as the other refusals do: released before, a write still in
    // flight landed after its reservation was gone and the quota counted it removed until its next measurement.
    void abort().finally(() => room.release());
    over();
    answer(() => {
      deps.log(`Upload of ${grant.filename} by ${grant.username} refused: ${reason}`);
      refuseUpload(socket, reason);
    });
  });
  // The server's waits in the loop below, out of both the pace's window and the stall limit.
  const held = bothHeld(pace, stall);
  void writer.stopped.then((reason) => {
    if (tooSlow !== undefined) return;
    stopped = reason;
    pace.stop();
    stopWaiting.abort();
    room.release();
    over();
    // An io failure names the upload, not a command: "the database did not answer in time, so the upload was cancelled".
    answer(() => refuseStored(deps, socket, grant, reason.kind === 'io' ? ioErrorText(reason, 'upload') : commandErrorText(reason), refuseUpload));
  });
  // The sender gone (its connection reset, or ended before its final record): the upload cannot complete, so a
  // wait for the store's write ends now and the store's upload is aborted (its write cancelled where the store
  // can: PostgreSQL's chunk statement). Waited for, its place among its user's uploads was held until the write
  // completed: at a silent database, until the database came back. The socket is not read while the store
  // writes (its bytes wait in the kernel), so Node does not see a reset then: the kernel's table tells it.
  const senderGone = (): void => stopWaiting.abort();
  socket.once('close', senderGone);
  try {
    // destroyOnReturn: false keeps the socket open to send the status line.
    for await (const chunk of socket.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      if (stopped !== undefined || tooSlow !== undefined) break;
      received += chunk.length;
      if (received > size) break;
      // Time the server itself spends on a chunk (measuring the disk, waiting for the store's write) is not the
      // client's: it reads nothing meanwhile (the sender's TCP waits), and a slow disk must not refuse an honest client.
      held.hold();
      try {
        const refused = await room.cover(received).catch((e: unknown) => unmeasurable(e).reason);
        // Stopped while the room was measured: refused already, with the store's reason.
        if (stopped !== undefined) break;
        if (refused !== undefined) {
          pace.stop();
          await abort();
          return answer(() => {
            deps.log(`Upload of ${grant.filename} by ${grant.username} refused: ${refused}`);
            refuseUpload(socket, refused);
          });
        }
        const end = received;
        // Room is held until the bytes are in the file, where the quota measures them.
        const more = writer.stream.write(chunk, (err) => {
          if (err === null || err === undefined) room.written(end);
        });
        if (!more) {
          const unwatch = watchSender(senderGone);
          try {
            await once(writer.stream, 'drain', { signal: stopWaiting.signal });
          } finally {
            unwatch();
          }
        }
      } finally {
        held.release();
      }
    }
  } catch {
    // Too slow: refused already, its drain period under way; the store's upload is being aborted.
    if (tooSlow !== undefined) return void (await abort());
    // RMV destroys the store's stream before its stop settles (the stop first deletes the bytes), so a write
    // may fail first: wait for that refusal rather than cut the connection (the sender would read a reset).
    if (stopped === undefined && writer.stream.destroyed) await within(writer.stopped, STOP_SETTLE_MS, undefined);
    await abort();
    // Stopped: the refusal is on its way, and the connection ends after its drain period.
    if (stopped !== undefined) return;
    // A record that failed authentication, or a connection cut before the final record.
    socket.destroy();
    return;
  } finally {
    socket.off('close', senderGone);
    // What follows (the commit) is the server's time.
    pace.stop();
  }
  if (stopped !== undefined || tooSlow !== undefined) {
    // Refused already; what the client still sends is read and dropped until the drain period ends.
    await abort();
    socket.resume();
    return;
  }
  if (received !== size) {
    await abort();
    return answer(() => refuse(socket, received > size ? `more than ${size} bytes sent` : `only ${received} of ${size} bytes arrived`));
  }
  // The client has sent it all and waits for the answer: the commit (a sync, the store's locks) is the server's time.
  const deadlineMs = deps.commitDeadlineMs;
  const committed = await whileHeld(stall, deadlineMs === undefined ? writer.commit : () => withCommandDeadline(deadlineMs, writer.commit));
  if (committed._tag === 'Left') return answer(() => refuseStored(deps, socket, grant, commandErrorText(committed.left), refuse));
  answer(() => {
    deps.log(`${grant.username} uploaded ${grant.filename} to ${grant.thread} thread`);
    socket.end('OK\n');
  });
};

/** How a download is judged: its pace, the stall limit, and the kernel's send-buffer ceiling (for its tail). */
interface DownloadLimits {
  readonly pace: TransferPace;
  readonly stallMs: number;
  /** The running stall limit, held while the store reads. */
  readonly stall: StallLimit;
  /** tcp_wmem's maximum, bytes ({@link socketBufferMaximum}). */
  readonly sendBufferCeiling: number;
  /** Where the tail reads how much of the download its receiver has acknowledged. */
  readonly tcpTable: KernelTcpTable;
}

/**
 * The tail of a download whose final record `raw`'s kernel holds: waits for the connection's close (an honest
 * receiver closes once it has read the final record), resetting it at {@link downloadTailMs}'s deadline, or a
 * stall limit after its receiver has acknowledged every byte (the kernel's send queue empty), whichever comes
 * first. Neither the pace nor the stall limit judges it: the kernel takes no more, so both would cut a
 * receiver still reading. The deadline alone counts what may still be queued, not what is: a receiver that
 * took a download of 4 MiB or more at once (its receive buffer as large) and never closed held its slot 17
 * minutes, its queue empty.
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
  let drained: NodeJS.Timeout | undefined;
  const unwatch = limits.tcpTable.watch(raw, (row) => {
    if (drained !== undefined || row === undefined || row.sendQueue > 0) return;
    // Everything acknowledged: an honest receiver reads its own kernel's buffer at its disk's speed, and closes.
    drained = setTimeout(() => {
      deps.log(`Download of ${grant.filename} by ${grant.username} stopped: its client did not close ${Math.round(limits.stallMs / 1000)} s after it had acknowledged every byte`);
      raw.resetAndDestroy();
    }, limits.stallMs);
    unwatch();
  });
  try {
    await closed;
  } finally {
    unwatch();
    clearTimeout(deadline);
    clearTimeout(drained);
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
const sendDownload = async (deps: TransferServerDeps, socket: SecureTransferChannel, raw: net.Socket, grant: TransferGrant, limits: DownloadLimits): Promise<void> => {
  // Only the file of the thread DWN found (the grant's incarnation): removed since, it is refused as no thread,
  // even if the title was made again with a file of that name.
  const opened = await whileHeld(limits.stall, deps.store.openDownload(grant.thread, grant.filename, grant.incarnation));
  if (opened._tag === 'Left') return refuse(socket, commandErrorText(opened.left));
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

const serve = async (deps: TransferServerDeps, socket: net.Socket, admission: TransferAdmission, uploads: UploadSlots, limits: TransferLimits, sendBufferCeiling: number, tcpTable: KernelTcpTable): Promise<void> => {
  socket.on('error', () => undefined);
  const deadline = setTimeout(() => socket.destroy(), limits.headerTimeoutMs ?? HEADER_TIMEOUT_MS);
  socket.once('close', () => clearTimeout(deadline));
  const headerDone = (): void => clearTimeout(deadline);
  const header = await readHeaderLines(socket, 1, 80);
  const token = header?.[0];
  if (token === undefined || !TOKEN.test(token)) return void socket.destroy();
  const redeemed = await deps.tokens.redeem(token, Date.now())();
  if (redeemed._tag === 'Left') return refuse(socket, commandErrorText(redeemed.left));
  const grant = redeemed.right;
  if (grant._tag === 'None') return refuse(socket, 'invalid or expired token');
  // The client may have gone while the token was looked up (a database round trip with PostgreSQL): its
  // close has passed, so the channel below would never see it, and an upload would wait for its size line
  // for good (the header deadline destroys a socket already destroyed), its user's upload slot and
  // "transferring" mark held (attack round 5). The token is spent; the client asks again.
  if (socket.destroyed) return;
  admission.authenticated(socket);
  const g = grant.value;
  // A download's connection is reset, not closed: closed, the kernel kept what it had queued for a receiver
  // that reads nothing (3.8 MiB), in FIN-WAIT-1 for as long as that receiver answers its window probes (still
  // there 65 s on), the slot free for the host's next one. Once the final record is in the kernel, neither this
  // timer nor the pace judges the connection: its tail (downloadTail) waits for the receiver to read it.
  const cut = g.direction === 'download' ? () => socket.resetAndDestroy() : () => socket.destroy();
  const stallMs = limits.stallTimeoutMs ?? STALL_TIMEOUT_MS;
  const stall = watchStall(socket, stallMs, cut);
  // Everything after the token line is sealed with keys of the session that asked for this transfer,
  // derived when the token was issued (maybe by another server, which holds that session).
  const channel = new SecureTransferChannel(socket, g.keys, 'server', undefined, g.direction === 'download' ? { socketEnd: 'reset' } : {});
  channel.on('error', () => undefined);
  if (g.direction === 'download') {
    // An honest client sends nothing on a download but its close: one that streams records is cut before the
    // server has read (and opened) more than a few KiB of them. Reset, through the channel (see socketEnd).
    boundInbound(socket, MAX_DOWNLOAD_INBOUND_BYTES, (sent) => {
      const reason = `its client sent ${sent} bytes on the download connection, over the ${MAX_DOWNLOAD_INBOUND_BYTES} the server reads`;
      deps.log(`Download of ${g.filename} by ${g.username} stopped: ${reason}`);
      channel.destroy(new TransferChannelError(reason, 'ERR_TRANSFER_MALFORMED'));
    });
    // A receiver's FIN once the server's side has ended (the tail, or RMV's drain), or the server's side ending
    // after that FIN (one that sent its final record first), would let Node close the connection gracefully
    // (allowHalfOpen's auto-destroy, before the channel or the tail hears of it): the kernel would keep what it
    // queued for a receiver that reads nothing, the slot free. A receiver that read it all has closed. At 'finish'
    // the shutdown is done, which a reset must not overlap (see SecureTransferChannel's socketEnd).
    socket.prependListener('end', () => {
      if (socket.writableFinished) socket.resetAndDestroy();
    });
    socket.prependListener('finish', () => {
      if (socket.readableEnded) socket.resetAndDestroy();
    });
  }
  deps.activity.start(g.username);
  // Once: an upload refused mid-body lets it go at the refusal, before its drain ends the connection.
  let marked = true;
  const unmark = (): void => {
    if (!marked) return;
    marked = false;
    deps.activity.finish(g.username);
  };
  try {
    if (g.direction === 'upload') {
      // A reset connection leaves the kernel's table (a close with its final record read stays, its bytes readable).
      const watchSender: SenderWatch = (onGone) =>
        tcpTable.watch(socket, (row) => {
          if (row === undefined || row.state === TCP_CLOSE) onGone();
        });
      await receiveUpload(deps, channel, g, headerDone, uploads, limits.uploadPace ?? DEFAULT_TRANSFER_PACE, stall, unmark, watchSender);
    } else {
      headerDone();
      await sendDownload(deps, channel, socket, g, { pace: limits.downloadPace ?? DEFAULT_TRANSFER_PACE, stallMs, stall, sendBufferCeiling, tcpTable });
    }
  } finally {
    unmark();
  }
};

/** The running TCP transfer server. */
export interface TransferServer {
  /** The port it listens on. */
  readonly port: number;
  /** Stops listening and cuts every transfer (uploads in progress leave nothing). */
  close(): Promise<void>;
}

/**
 * Starts the TCP side of UPD/DWN. A client sends its token line (64 hex
 * characters and `\n`) in clear; everything after it, both ways, is sealed
 * records (forum-protocol's `SecureTransferChannel`, keys from the session
 * that was granted the token). Inside them: for an upload `SIZE\n` and
 * exactly SIZE bytes, and the final record; the server answers `OK` or
 * `ERR reason`. For a download the server answers `OK SIZE\n` and the bytes,
 * or `ERR reason`; a download whose thread RMV removes midway ends with an
 * abort record carrying the spec's `Thread T does not exist` instead of the
 * final record. A token that is unknown gets a clear `ERR` line (there
 * are no keys to seal it with); anything else without a valid token is closed
 * at once. A failed upload, an altered record included, leaves no file.
 */
export const startTransferServer = async (deps: TransferServerDeps, port: number, host: string, limits: TransferLimits = {}): Promise<TransferServer> => {
  const sockets = new Set<net.Socket>();
  const admission = new TransferAdmission({ maxConnections: MAX_CONNECTIONS, maxPerHost: MAX_CONNECTIONS_PER_HOST });
  const uploads = deps.uploadSlots ?? new UploadsPerUser().slots();
  // Read once: it bounds what a download's tail may still have queued in the kernel.
  const sendBufferCeiling = await socketBufferMaximum('tcp_wmem', DEFAULT_SEND_BUFFER_CEILING);
  // One read of the kernel's TCP table a tick for every connection watched (see KernelTcpTable); trusted
  // only when it lists the server's own listening socket.
  const tcpTable = new KernelTcpTable(TCP_TABLE_EVERY_MS, undefined, () => server);
  // Transfers still running, so close can wait for a cut upload to delete its temporary file.
  const serving = new Set<Promise<void>>();
  let inGrace = 0;
  /** Refuses a connection on arrival with `line` (in clear: no token, no keys yet). */
  const refuseOnArrival = (socket: net.Socket, line: string): void => {
    if (inGrace >= MAX_REFUSALS_IN_GRACE) return void socket.destroy();
    inGrace++;
    socket.once('close', () => inGrace--);
    // Read and drop what the peer sent (closing with unread bytes would reset the connection and
    // lose the line), and do not keep the socket past a short grace: it holds no slot.
    socket.resume();
    socket.end(line);
    setTimeout(() => socket.destroy(), REFUSAL_GRACE_MS).unref();
  };
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => undefined);
    const busy = deps.overloaded();
    if (busy !== undefined) return refuseOnArrival(socket, `ERR server busy: ${busy}\n`);
    // Not `server.maxConnections`: the kernel-level cap refuses newcomers, which would let silent
    // connections keep token holders out; admission evicts the silent ones instead. Refused only when
    // every slot holds a token: said in a line (it was a bare close, which forum-client reported as
    // "the server closed the transfer connection", with no hint that neighbours held every slot).
    if (!admission.admit(socket, socket.remoteAddress ?? '')) {
      return refuseOnArrival(socket, 'ERR too many transfers at once (from your address, or in all): try again later\n');
    }
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const served = serve(deps, socket, admission, uploads, limits, sendBufferCeiling, tcpTable).catch((e: unknown) => {
      deps.log(`Transfer error: ${e instanceof Error ? e.message : String(e)}`);
      socket.destroy();
    });
    serving.add(served);
    void served.finally(() => serving.delete(served));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (e) => deps.log(`Transfer server error: ${e.message}`));
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : port,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Closed, not reset: a download in its tail is whole in the kernel, which delivers it to a receiver still
      // reading after this process has gone (an orphan the kernel itself ends: tcp_orphan_retries, tcp_max_orphans).
      for (const s of sockets) s.destroy();
      await closed;
      // The process exits next (a SIGTERM): without this wait an upload cut mid-way left its
      // temporary file in the data directory until the next start swept it.
      await within(Promise.allSettled([...serving]), limits.closeSettleMs ?? CLOSE_SETTLE_MS, undefined);
    },
  };
};
