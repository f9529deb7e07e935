import type { UploadSlots } from 'forum-protocol';
import { readHeaderLines, SecureTransferChannel, serverBusyTransferText, TOO_MANY_TRANSFERS_TEXT, TransferChannelError } from 'forum-protocol';
import net from 'node:net';
import { TransferAdmission } from './transfer-admission.js';
import { boundInbound, MAX_DOWNLOAD_INBOUND_BYTES } from './download-inbound.js';
import { DEFAULT_SEND_BUFFER_CEILING, socketBufferMaximum } from './socket-buffer-maximum.js';
import { DEFAULT_TRANSFER_PACE, type TransferPace } from './transfer-pace.js';
import { watchStall } from './transfer-stall.js';
import { HEADER_TIMEOUT_MS } from './server-defaults.js';
import { UploadsPerUser } from './uploads-per-user.js';
import { DownloadsPerUser, MAX_DOWNLOADS_PER_USER } from './downloads-per-user.js';
import { within } from './within.js';
import { KernelTcpTable, TCP_CLOSE, TCP_TABLE_EVERY_MS } from './kernel-tcp-table.js';
import type { TransferServerDeps } from './transfer-server-deps.js';
import { refuse } from './transfer-refusal.js';
import { RefusalGraces } from './refusal-graces.js';
import { GRACE_TABLE_EVERY_MS, lineWatchOf } from './refusal-line-watch.js';
import { storeRefusalText, storeStep } from './transfer-store-step.js';
import { receiveUpload, type SenderWatch } from './transfer-upload.js';
import { sendDownload } from './transfer-download.js';

export type { TransferServerDeps } from './transfer-server-deps.js';

/** Connections one client host may hold at once (a new one evicts the host's oldest tokenless one). */
const MAX_CONNECTIONS_PER_HOST = 16;
/** Connections held at once, in all (a new one evicts the oldest tokenless one). */
const MAX_CONNECTIONS = 512;
/**
 * A transfer that moves no byte for this long of the client's time is abandoned (and leaves nothing behind); a
 * trickle is ended by its pace (transfer-pace.ts). Node's socket timeout: a read or a
 * write that completes restarts it, a write waiting for a receiver that reads nothing does not, but Node skips
 * an expiry when that write went out in part since the last one: a download not read was cut at 60 s. Off while
 * the server waits for its store or disk (transfer-stall.ts): a store write pending 30 s ended an honest upload.
 */
export const STALL_TIMEOUT_MS = 30_000;
const TOKEN = /^[0-9a-f]{64}$/;
/** A connection's refusal (in clear) when its host's slots, or all, are taken: on arrival, or evicted for a newcomer. */
const TOO_MANY_TRANSFERS = `ERR ${TOO_MANY_TRANSFERS_TEXT}\n`;
/** How long a connection refused on arrival is kept, reading and dropping, so its client reads the line rather than a reset. */
const REFUSAL_GRACE_MS = 2_000;
/**
 * Connections refused on arrival kept at once for their grace; past it a refused one is closed at once
 * (its client may then see a reset instead of the line). They hold no slot, so a host refused in a
 * flood of connections cannot make the server hold more than this many sockets for it.
 */
const MAX_REFUSALS_IN_GRACE = 64;
/**
 * A host's share of {@link MAX_REFUSALS_IN_GRACE} (refusal-graces.ts): graces it holds up to this many are never
 * taken for another host's; beyond it, a host holds them only until a host below its share needs one. An IPv6
 * host's /56 and /48 have shares of 32 (8 times 4 and 16, capped at half of 64), so one prefix cannot keep them all.
 */
const REFUSALS_IN_GRACE_PER_HOST = 8;

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
  /** Downloads one user may have running at once, {@link MAX_DOWNLOADS_PER_USER} by default. */
  readonly downloadsPerUser?: number;
  /** A refused connection's grace, {@link REFUSAL_GRACE_MS} by default. */
  readonly refusalGraceMs?: number;
  /** How often the kernel's table is read for graces whose line is safe, {@link GRACE_TABLE_EVERY_MS} by default. */
  readonly graceTableEveryMs?: number;
}

/** How long close waits for the transfers it cut to clean up (an upload deletes its temporary file). */
const CLOSE_SETTLE_MS = 5_000;


/** What {@link serve} counts per user: uploads (maybe over all servers) and downloads (this server's). */
interface PerUser {
  readonly uploads: UploadSlots;
  readonly downloads: DownloadsPerUser;
}

const serve = async (deps: TransferServerDeps, socket: net.Socket, admission: TransferAdmission, perUser: PerUser, limits: TransferLimits, sendBufferCeiling: number, tcpTable: KernelTcpTable): Promise<void> => {
  socket.on('error', () => undefined);
  const deadline = setTimeout(() => socket.destroy(), limits.headerTimeoutMs ?? HEADER_TIMEOUT_MS);
  socket.once('close', () => clearTimeout(deadline));
  const headerDone = (): void => clearTimeout(deadline);
  const header = await readHeaderLines(socket, 1, 80);
  const token = header?.[0];
  if (token === undefined || !TOKEN.test(token)) return void socket.destroy();
  // Evicted while its header came: refused already (its token not redeemed, so the client may ask again); what
  // follows the header is read and dropped for the refusal's grace, as the header read paused the socket.
  if (!admission.holds(socket)) return void socket.resume();
  // Under the store's deadline: a redeem given up may still land (the token spent), so the client asks for a new one.
  admission.redeeming(socket, true);
  const redeemed = await storeStep(deps, deps.tokens.redeem(token, Date.now()));
  admission.redeeming(socket, false);
  if (redeemed._tag === 'Left') return refuse(socket, storeRefusalText(redeemed.left, 'transfer'));
  const grant = redeemed.right;
  if (grant._tag === 'None') return refuse(socket, 'invalid or expired token');
  // The client may have gone while the token was looked up (a database round trip with PostgreSQL): its
  // close has passed, so the channel below would never see it, and an upload would wait for its size line
  // for good (the header deadline destroys a socket already destroyed), its user's upload slot and
  // "transferring" mark held (attack round 5). The token is spent; the client asks again.
  // Evicted meanwhile: refused already, the token spent, as above.
  if (socket.destroyed) return;
  if (!admission.holds(socket)) return void socket.resume();
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
      await receiveUpload(deps, channel, g, headerDone, perUser.uploads, limits.uploadPace ?? DEFAULT_TRANSFER_PACE, stall, unmark, watchSender);
    } else {
      headerDone();
      // Counted to the connection's close, as its slot and the kernel's memory for it are held: with only the
      // host's and the server's connection caps, one account read 32 downloads at once from two hosts
      // (all 512 from 32), some 3 MiB of the kernel's memory each (attack round 34). A download its store
      // refuses sends nothing of the file, and lets go at the refusal, as one refused here is never counted.
      const ended = perUser.downloads.start(g.username);
      if (ended === undefined) {
        deps.log(`Download of ${g.filename} by ${g.username} refused: ${perUser.downloads.refusal}`);
        return refuse(channel, perUser.downloads.refusal);
      }
      socket.once('close', ended);
      await sendDownload(deps, channel, socket, g, { pace: limits.downloadPace ?? DEFAULT_TRANSFER_PACE, stallMs, stall, sendBufferCeiling, tcpTable, refused: ended });
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
  const perUser: PerUser = { uploads: deps.uploadSlots ?? new UploadsPerUser().slots(), downloads: new DownloadsPerUser(limits.downloadsPerUser ?? MAX_DOWNLOADS_PER_USER) };
  // Read once: it bounds what a download's tail may still have queued in the kernel.
  const sendBufferCeiling = await socketBufferMaximum('tcp_wmem', DEFAULT_SEND_BUFFER_CEILING);
  // One read of the kernel's TCP table a tick for every connection watched (see KernelTcpTable); trusted
  // only when it lists the server's own listening socket.
  const tcpTable = new KernelTcpTable(TCP_TABLE_EVERY_MS, undefined, () => server);
  // Transfers still running, so close can wait for a cut upload to delete its temporary file.
  const serving = new Set<Promise<void>>();
  // One host flooding the port kept all 64 graces by itself, and every other host's evicted connections were
  // closed bare again: graces beyond a host's share are lent, and taken back for a host below its share.
  // Hosts each within its share, half-open, still kept all 64 (attack round 32): a grace whose line the peer's
  // kernel has acknowledged is ended when another is needed. Its own table: read more often than uploads need,
  // only while a grace outlives half a tick and the pool is short of graces known safe (wantsWatch).
  const graceTable: KernelTcpTable = new KernelTcpTable(limits.graceTableEveryMs ?? GRACE_TABLE_EVERY_MS, undefined, () => server, (): boolean => graces.wantsWatch);
  const graces = new RefusalGraces({ total: MAX_REFUSALS_IN_GRACE, perHost: REFUSALS_IN_GRACE_PER_HOST }, undefined, lineWatchOf(graceTable));
  /** Refuses a connection on arrival with `line` (in clear: no token, no keys yet). */
  const refuseOnArrival = (socket: net.Socket, line: string): void => {
    if (!graces.take(socket, socket.remoteAddress ?? '')) return void socket.destroy();
    // Read and drop what the peer sent (closing with unread bytes would reset the connection and
    // lose the line), and do not keep the socket past a short grace: it holds no slot.
    const graceOver = setTimeout(() => socket.destroy(), limits.refusalGraceMs ?? REFUSAL_GRACE_MS).unref();
    // The timer goes with the socket: left running, a peer that closes at the line (as forum-client does) freed
    // its place in the cap at once while its timer, and the socket it holds, stayed the whole grace, so a flood
    // of refused connections kept rate × 2 s of them, however few were in grace at once.
    socket.once('close', () => clearTimeout(graceOver));
    socket.resume();
    socket.end(line);
  };
  // An evicted connection is told why, as one refused on arrival: closed bare, the honest clients of a burst
  // from one address (their tokens sent, not yet read) each met a cut channel with no reason (attack round 30's
  // 54 "(no answer)" of 70 uploads at once; forum-client: "the transfer connection ended before its final record").
  const admission = new TransferAdmission({ maxConnections: MAX_CONNECTIONS, maxPerHost: MAX_CONNECTIONS_PER_HOST }, (socket) => refuseOnArrival(socket, TOO_MANY_TRANSFERS));
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => undefined);
    const busy = deps.overloaded();
    if (busy !== undefined) return refuseOnArrival(socket, `ERR ${serverBusyTransferText(busy)}\n`);
    // Not `server.maxConnections`: the kernel-level cap refuses newcomers, which would let silent
    // connections keep token holders out; admission evicts the silent ones instead. Refused only when
    // every slot holds a token: said in a line (it was a bare close, which forum-client reported as
    // "the server closed the transfer connection", with no hint that neighbours held every slot).
    if (!admission.admit(socket, socket.remoteAddress ?? '')) {
      return refuseOnArrival(socket, TOO_MANY_TRANSFERS);
    }
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const served = serve(deps, socket, admission, perUser, limits, sendBufferCeiling, tcpTable).catch((e: unknown) => {
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
