/**
 * An upload over the transfer connection: the user's place among uploads, the size line, the room in the
 * quota, the body into the store under the pace and the stall limit, and the commit and its answer.
 */
import type { TransferGrant, UploadError, UploadSlots } from 'forum-protocol';
import { commandErrorText, readHeaderLines, SecureTransferChannel, uploadSlotsRefusal, withCommandDeadline } from 'forum-protocol';
import { once } from 'node:events';
import type { TransferActivity } from './transfer-activity.js';
import { watchTransferPace, type TransferPace } from './transfer-pace.js';
import { bothHeld, whileHeld, type StallLimit } from './transfer-stall.js';
import type { TransferServerDeps } from './transfer-server-deps.js';
import { refuse, refuseUpload } from './transfer-refusal.js';
import { storeRefusalText, storeStep } from './transfer-store-step.js';
import { UploadReservation } from './upload-reservation.js';
import { within } from './within.js';

const SIZE = /^[0-9]{1,15}$/;

/** Watches whether an upload's sender is gone (its connection reset) while the server reads nothing of it; returns the watch's end. */
export type SenderWatch = (onGone: () => void) => () => void;

/**
 * Receives an upload over `socket`: its user's place among uploads, its size line, the room for it, its body
 * into the store, and the answer. `unmark` lets go of its user's "transferring" mark ({@link TransferActivity})
 * before the connection ends.
 */
export const receiveUpload = async (deps: TransferServerDeps, socket: SecureTransferChannel, grant: TransferGrant, headerDone: () => void, uploads: UploadSlots, pace: TransferPace, stall: StallLimit, unmark: () => void, watchSender: SenderWatch): Promise<void> => {
  const taken = await whileHeld(stall, () => storeStep(deps, uploads.take(grant.username)));
  // The count out of reach (the database): refused, as a store error refuses any upload.
  if (taken._tag === 'Left') return refuseStored(deps, socket, grant, storeRefusalText(taken.left, 'upload'), refuseUpload);
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
  const begun = await whileHeld(stall, () => storeStep(deps, deps.store.beginUpload(grant.thread, grant.filename, grant.username, grant.incarnation, size)));
  if (begun._tag === 'Left') return refuseStored(deps, socket, grant, storeRefusalText(begun.left, 'upload'), refuseUpload);
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
    answer(() => refuseStored(deps, socket, grant, storeRefusalText(reason, 'upload'), refuseUpload));
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
