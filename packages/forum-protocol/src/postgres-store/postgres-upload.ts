import * as E from 'fp-ts/lib/Either.js';
import type * as TE from 'fp-ts/lib/TaskEither.js';
import { Readable, Writable } from 'node:stream';
import postgres, { type Sql, type TransactionSql } from 'postgres';
import { lockThreadSize, writeThreadSize } from './postgres-thread-size.js';
import { deleteUploads } from './postgres-doomed-uploads.js';
import { bytesInProgress, type UploadLeases } from './postgres-upload-leases.js';
import { uploaderBytes } from './postgres-upload-share.js';
import { levelHeldPassed, lockOriginUploadBytes } from './postgres-origin-shares.js';
import { postgresIoError } from './postgres-timeouts.js';
import { askedAfterLostCommit, isOutcomeUnknown, surelyRolledBack } from './postgres-commit-landed.js';
import { awaitedBriefly, untilAnswerDue } from './postgres-abandon.js';
import { commandDeadline, withCommandDeadline, type CommandDeadline } from '../store/command-deadline.js';
import type { UploadStorageFullError } from '../store/errors.js';
import type { Download, UploadError, UploadWriter } from '../store/store.js';
import { threadGrowthGuard } from '../store/thread-growth.js';
import { holdingAfterAppend } from './postgres-thread-share.js';
import { threadGone, type ThreadIncarnation } from '../store/thread-incarnations.js';
import { appendedSize } from '../store/thread-size.js';
import type { ThreadEntry } from '../store/thread.js';
import { endUploadStream, TransferStop, type StopReason, type TransfersInFlight } from '../store/transfers-in-flight.js';

/** Bytes per stored chunk: big enough that a query per chunk is cheap, small enough that a server holds little per transfer. */
export const UPLOAD_CHUNK_BYTES = 256 * 1024;

/**
 * How long storing one chunk may take in all, ms (its lease's renewal, its insert, the count of the uploads'
 * bytes, a retry after reclaiming a dead server's room): a command's deadline, with the abandon rule commands
 * have (postgres-abandon.ts): past it the statement running is cancelled, and half a second later (`ABANDON_AFTER_MS`),
 * unanswered, given up and its connection destroyed. A chunk held no deadline: at a silent database (hung, or
 * cut off with its connections open) its upload waited until the database came back, and only the sender's own
 * inactivity limit (30 s) ended it, its place among its user's uploads held meanwhile. The same 6 s as the
 * server's commands: each statement is under `statement_timeout` (5 s) already.
 */
export const DEFAULT_UPLOAD_CHUNK_DEADLINE_MS = 6_000;

/** Who uploads what, to which thread: `threadId` is the thread row's `id` (its {@link ThreadIncarnation}). */
export interface UploadTarget {
  readonly title: string;
  readonly filename: string;
  readonly uploader: string;
  readonly threadId: ThreadIncarnation;
}

/** A chunk could not be stored because the upload's row is gone: its thread was removed (by any server). */
class ThreadRemovedError extends Error {
  constructor() {
    super('the thread was removed during the upload');
    this.name = 'ThreadRemovedError';
  }
}

/**
 * A chunk could not be stored because the upload's row is gone while its thread is not: this server did
 * not renew its lease in time (cut off from the database, or stopped, for longer than the lease) and
 * another server deleted it as a dead server's (postgres-upload-leases.ts).
 */
class UploadLeaseLapsedError extends Error {
  constructor(leaseMs: number) {
    super(`this server did not renew the upload's lease within ${leaseMs} ms, and another server gave it up`);
    this.name = 'UploadLeaseLapsedError';
  }
}

/** A chunk was not stored by its deadline ({@link UploadWriterContext.chunkDeadlineMs}): cancelled, or given up at a silent database. */
class ChunkDeadlineError extends Error {
  constructor(
    readonly deadlineMs: number,
    cause: unknown,
  ) {
    super(`a chunk of the upload was not stored within its deadline of ${deadlineMs} ms: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'ChunkDeadlineError';
  }
}

/**
 * A chunk was not stored: with it the uploads in the database would pass `maxStoredUploadBytes`, or
 * (`who: 'account'`) the uploader's would pass its share, `maxUserUploadBytes`, or (`who: 'origin'`) its
 * origin's accounts' together would pass theirs, or (with `network`) its /56's or /48's (postgres-origin-shares.ts).
 */
class UploadStorageFull extends Error {
  constructor(
    readonly limit: number,
    /** Of the bytes counted, those held by other uploads in progress (free again once they end). */
    readonly inProgress: number,
    readonly who?: 'account' | 'origin',
    readonly network = false,
  ) {
    super(`the uploads would pass ${limit} bytes`);
    this.name = 'UploadStorageFull';
  }
}

/** `e` as the refusal the uploader reads: `inProgress` only when some bytes are held so. */
const storageFull = (e: UploadStorageFull): UploadStorageFullError => ({
  kind: 'uploadStorageFull',
  limit: e.limit,
  ...(e.inProgress > 0 ? { inProgress: e.inProgress } : {}),
  ...(e.who === undefined ? {} : { who: e.who }),
  ...(e.network ? { network: true } : {}),
});

/** What an upload writer works with besides its target: the store's, shared by its uploads. */
export interface UploadWriterContext {
  /** This server's transfers in flight, which its RMV stops. */
  readonly inFlight: TransfersInFlight;
  /** Most bytes all uploads may hold in the database (`upload_bytes`); `undefined`: no limit. */
  readonly maxStoredUploadBytes: number | undefined;
  /** Most bytes one account's uploads may hold in the database (postgres-upload-share.ts); `undefined`: no share. */
  readonly maxUserUploadBytes: number | undefined;
  /** Most bytes the uploads of one origin's accounts may hold together (postgres-origin-shares.ts); `undefined`: no bound. */
  readonly maxOriginUploadBytes: number | undefined;
  /** How long after a failed discard its row is deleted again. */
  readonly discardRetryMs: number;
  /** Called once the upload's row is deleted: its chunks, doomed, are for the sweeper. */
  readonly onDeleted: () => void;
  /** The leases of this server's pending uploads (schema 12). */
  readonly leases: UploadLeases;
  /**
   * Deletes the pending uploads of servers that are gone (their lease lapsed) and sweeps their chunks; resolves
   * to whether any went. Asked when a chunk finds no room, before it is refused.
   */
  readonly reclaimLapsed: () => Promise<boolean>;
  /** The deadline of storing one chunk, ms ({@link DEFAULT_UPLOAD_CHUNK_DEADLINE_MS}). */
  readonly chunkDeadlineMs: number;
}

/** Class of the upload shares' advisory locks ("ush"; "upl" is the upload slots'): a chunk's transaction holds its uploader's until it ends. */
export const SHARE_LOCK_CLASS = 0x757368;

/** The bytes of every upload's chunks (`upload_bytes`, schema 7). */
const forumBytes = async (tx: TransactionSql): Promise<number> => Number((await tx<{ bytes: string }[]>`SELECT bytes FROM upload_bytes`)[0]?.bytes ?? 0);

/** The uploader's share to hold a chunk under: its name and `maxUserUploadBytes`, and its origin's `maxOriginUploadBytes`. */
interface ShareCheck {
  readonly uploader: string;
  readonly limit: number;
  readonly originLimit: number | undefined;
}

/**
 * Inserts one chunk. With a `limit`, in a transaction that reads the count its insert updated (the
 * trigger, schema 7) and rolls back past it: the count's row stays locked until the commit, so chunks
 * stored at once by any number of servers are counted one after another and never pass it together.
 * With a `share`, the uploader's bytes are read first, under the account's own advisory lock (held to the
 * commit), and a chunk past its share is refused before its insert: one account's chunks on any servers are
 * counted one after another (postgres-upload-share.ts). Not under the count's row: until schema 14 that read
 * summed the account's uploads (30-70 ms at 100,000 of its own), and under the row every other user's chunk, on
 * every server, waited for it, a chunk at a time; it reads one counter row now, but needs no lock but the account's. Past both, the forum's refusal is said, as at the upload's start.
 */
const insertChunk = async (sql: Sql, id: string, seq: number, data: Buffer, limit: number | undefined, share: ShareCheck | undefined): Promise<void> => {
  if (limit === undefined && share === undefined) {
    await sql`INSERT INTO upload_chunks (upload_id, seq, data) VALUES (${id}, ${seq}, ${data})`;
    return;
  }
  await sql.begin(async (tx) => {
    if (share !== undefined) {
      await tx`SELECT pg_advisory_xact_lock(${SHARE_LOCK_CLASS}, hashtext(${share.uploader}))`;
      // Read after the lock is granted (a statement's snapshot): the chunks of the account committed before it count.
      if ((await uploaderBytes(tx, share.uploader)) + data.length > share.limit) {
        // A full forum said first, as at the upload's start (a full forum is full whoever asks): read without its row's lock.
        if (limit !== undefined && (await forumBytes(tx)) + data.length > limit) throw new UploadStorageFull(limit, 0);
        throw new UploadStorageFull(share.limit, 0, 'account');
      }
      // Its origin's accounts' together, and its /56's and /48's, under the levels' locks taken after the
      // account's (held to the commit): chunks of two accounts of one level are counted one after another too.
      // The locks and the read in one round trip, pipelined (postgres-origin-shares.ts says why not one statement).
      const passed = share.originLimit === undefined ? undefined : levelHeldPassed(await lockOriginUploadBytes(tx, share.uploader), data.length, share.originLimit);
      if (passed !== undefined) {
        if (limit !== undefined && (await forumBytes(tx)) + data.length > limit) throw new UploadStorageFull(limit, 0);
        throw new UploadStorageFull(passed.limit, 0, 'origin', passed.network);
      }
    }
    await tx`INSERT INTO upload_chunks (upload_id, seq, data) VALUES (${id}, ${seq}, ${data})`;
    if (limit !== undefined && (await forumBytes(tx)) > limit) throw new UploadStorageFull(limit, 0);
  });
};

// foreign_key_violation: a chunk inserted for an upload row that RMV's cascade deleted meanwhile (raised by schema 8's trigger).
const FOREIGN_KEY_VIOLATION = '23503';

/**
 * Starts a pending upload row for thread row `threadId` and returns its
 * writer, or `noThread` if the title's thread is no longer that row (removed,
 * maybe made again). Bytes are gathered up to {@link UPLOAD_CHUNK_BYTES} and
 * each full chunk is inserted before the stream accepts more (backpressure),
 * so at most one chunk is in memory. `commit` makes the upload visible and
 * appends `U uploaded F` to the thread in one transaction, under the thread's
 * lock, if the thread can take the line (thread-growth.ts; else it deletes
 * the row, as `abort` does); `abort` deletes the row (its chunks, doomed,
 * go with the sweep: `postgres-doomed-uploads.ts`).
 *
 * The pending row goes with its thread (ON DELETE CASCADE), whichever server
 * removes it: this server's RMV stops the upload at once (`inFlight`),
 * another's is noticed as the next chunk is stored, or at commit.
 */
export const postgresUploadWriter = async (sql: Sql, target: UploadTarget, context: UploadWriterContext): Promise<E.Either<UploadError, UploadWriter>> => {
  const { inFlight, maxStoredUploadBytes, maxUserUploadBytes, maxOriginUploadBytes, discardRetryMs, onDeleted, leases, reclaimLapsed, chunkDeadlineMs } = context;
  const { title, filename, uploader, threadId } = target;
  const line: ThreadEntry = { kind: 'upload', uploader, filename };
  const share = maxUserUploadBytes === undefined ? undefined : { uploader, limit: maxUserUploadBytes, originLimit: maxOriginUploadBytes };
  const leaseMs = leases.ms;
  // Only into that thread row: a thread of the title made since is another row, and gets no pending upload.
  // The row read is locked (KEY SHARE, the foreign key's own lock): the key is checked at the statement's end
  // against the title alone, and with another server's RMV and a CRT of the title committed in between, the
  // check found the new thread and the upload went into another user's thread (test postgres-upload-begin-remade).
  // A RMV under way (uncommitted) is waited for, and once it commits the row is not found: the thread gone. Before
  // the lock the foreign key's check waited for it and failed (23503), still read so; read as an error of the
  // database, the sender was told "could not complete the upload, please try again" (attack round 23).
  const inserted = await sql<{ id: string }[]>`
    INSERT INTO uploads (thread, filename, uploader, lease_expires_at)
    SELECT title, ${filename}, ${uploader}, now() + ${leaseMs} * interval '1 millisecond' FROM threads WHERE title = ${title} AND id = ${threadId}
    FOR KEY SHARE RETURNING id`.catch(
    (e: unknown) => {
      if (e instanceof postgres.PostgresError && e.code === FOREIGN_KEY_VIOLATION) return [];
      throw e;
    },
  );
  const id = inserted[0]?.id;
  if (id === undefined) return E.left(threadGone(title));
  leases.hold(id);
  /** Why the upload's row is gone: its thread row too (RMV), or only the row (its lease lapsed, another server gave it up). */
  const rowGone = async (q: Sql | TransactionSql = sql): Promise<Error> => {
    const thread = await q`SELECT 1 FROM threads WHERE title = ${title} AND id = ${threadId}`;
    return thread.length > 0 ? new UploadLeaseLapsedError(leaseMs) : new ThreadRemovedError();
  };
  /** Inserts chunk `n`; on a full forum, once more after the uploads of servers that are gone were deleted. */
  const storeChunk = async (n: number, data: Buffer): Promise<void> => {
    try {
      await insertChunk(sql, id, n, data, maxStoredUploadBytes, share);
    } catch (e) {
      if (!(e instanceof UploadStorageFull)) throw e;
      // The share's bytes in progress are the account's own other uploads: not said as other users' room.
      const held = async (full: UploadStorageFull): Promise<number> => (full.who !== undefined ? 0 : await bytesInProgress(sql, id).catch(() => 0));
      // Outside the chunk's deadline (deleteUploads), awaited only until its answer is due.
      if (!(await untilAnswerDue(reclaimLapsed(), false))) throw new UploadStorageFull(e.limit, await held(e), e.who, e.network);
      try {
        await insertChunk(sql, id, n, data, maxStoredUploadBytes, share);
      } catch (again) {
        if (!(again instanceof UploadStorageFull)) throw again;
        throw new UploadStorageFull(again.limit, await held(again), again.who, again.network);
      }
    }
  };
  let aborted = false;
  // The deadline of the chunk being stored, if one is: an abort passes it at once (its statement cancelled).
  let chunkDeadline: CommandDeadline | undefined;
  /** `work` (storing one chunk) under its own deadline; past it, failed as a {@link ChunkDeadlineError}. */
  const underChunkDeadline = (work: () => Promise<void>): Promise<void> =>
    withCommandDeadline(chunkDeadlineMs, async () => {
      const deadline = commandDeadline();
      chunkDeadline = deadline;
      try {
        await work();
      } catch (e) {
        // Read here, in the deadline's context: outside it, the deadline's own cancel (57014) read as an administrator's.
        const own = e instanceof ThreadRemovedError || e instanceof UploadLeaseLapsedError || e instanceof UploadStorageFull;
        if (deadline?.expired === true && !own) throw new ChunkDeadlineError(chunkDeadlineMs, e);
        throw e;
      } finally {
        chunkDeadline = undefined;
      }
    });
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let seq = 0;
  let total = 0;
  /** Inserts every full chunk gathered so far, and with `all` the last partial one too. */
  const flush = async (all: boolean): Promise<void> => {
    while (pendingBytes >= UPLOAD_CHUNK_BYTES || (all && pendingBytes > 0)) {
      const joined = pending.length === 1 ? (pending[0] ?? Buffer.alloc(0)) : Buffer.concat(pending, pendingBytes);
      const data = joined.subarray(0, Math.min(UPLOAD_CHUNK_BYTES, joined.length));
      const rest = joined.subarray(data.length);
      pending = rest.length > 0 ? [rest] : [];
      pendingBytes = rest.length;
      const n = seq++;
      await underChunkDeadline(async () => {
        // The row first: gone, its thread was removed (RMV's cascade), and the chunk would only be refused.
        const touched = await sql`
          UPDATE uploads SET touched_at = now(), lease_expires_at = now() + ${leaseMs} * interval '1 millisecond' WHERE id = ${id} RETURNING id`;
        if (touched.length === 0) throw await rowGone();
        try {
          await storeChunk(n, data);
        } catch (e) {
          // Removed between the two statements.
          if (e instanceof postgres.PostgresError && e.code === FOREIGN_KEY_VIOLATION) throw await rowGone();
          throw e;
        }
      });
    }
  };
  const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      total += chunk.length;
      if (pendingBytes < UPLOAD_CHUNK_BYTES) return callback();
      flush(false).then(
        () => callback(),
        (e: unknown) => {
          // Aborted (its sender gone): nobody reads why, and the abort lets go of the row itself.
          if (aborted) return callback();
          // Another server removed the thread: stopped as this server's RMV would have (the sender is told
          // through `stopped`, and the stream is destroyed by the stop, not failed). Likewise when the
          // uploads' room is spent, or on any other failure (a chunk's statement past its time limit, the
          // database gone): the sender reads why at once; the failed chunk was rolled back, and the rest go.
          void stop.stop(failure(asError(e)));
          // A stop no longer takes once the commit has begun (it ends the stream and waits for it): the stream
          // fails instead, or the commit went on without this chunk (an upload committed with its size and a
          // chunk missing, which no download can read).
          callback(stop.reason === undefined ? asError(e) : undefined);
        },
      );
    },
    final(callback) {
      flush(true).then(() => callback(), (e: unknown) => callback(asError(e)));
    },
  });
  // Errors surface through commit(); a listener keeps them from crashing the process.
  stream.on('error', () => undefined);
  const finished = new Promise<Error | null>((resolve) => {
    stream.once('finish', () => resolve(null));
    stream.once('close', () => resolve(stream.errored ?? new Error('upload was aborted')));
  });
  const deleteRow = (): Promise<boolean> =>
    deleteUploads(sql, (q) => q`id = ${id} AND NOT committed`).then(
      () => {
        onDeleted();
        return true;
      },
      () => false,
    );
  /**
   * Whether the upload's commit landed, asked on another connection after the commit's own failed. Under the
   * row's lock: a COMMIT the database is still running when the question comes is waited for, not read as
   * not yet done. Asked as {@link askedAfterLostCommit} asks (outside the command's deadline, again while
   * the database is out of reach, within what is left of the commit's deadline). `undefined` when the database
   * cannot tell (the upload's outcome is then unknown: its row, if committed after all, is kept, as `deleteRow`
   * deletes only an uncommitted one).
   */
  const landed = (): Promise<boolean | undefined> =>
    askedAfterLostCommit(async () => (await sql<{ committed: boolean }[]>`SELECT committed FROM uploads WHERE id = ${id} FOR UPDATE`)[0]?.committed === true);
  const discard = async (): Promise<void> => {
    leases.drop(id);
    // Not deleted (the database out of reach, or a lock held past lock_timeout: the upload_bytes row a
    // hung server's chunk holds, say): once more when such a server's transaction has surely ended, and
    // failing that the sweep of stale uploads removes it (10 minutes). Its bytes count until then.
    if (!(await deleteRow())) setTimeout(() => void deleteRow(), discardRetryMs).unref();
  };
  // RMV of the thread stops the upload, or a chunk that failed: the stream ended, its row (gone with the thread
  // already, after RMV) deleted. Awaited briefly: a chunk given up at a silent database stopped the upload, and
  // the delete waited with the sender's refusal (the lease, dropped, lets the row lapse; the discard retries it).
  const stop = new TransferStop<StopReason>(async () => {
    pending = [];
    stream.destroy();
    await awaitedBriefly(discard());
  });
  const forget = inFlight.add(title, threadId, stop);

  // The last chunk is stored as the stream ends: what stops it then is the commit's refusal.
  const failure = (err: Error): StopReason => {
    if (err instanceof ThreadRemovedError) return threadGone(title);
    if (err instanceof UploadStorageFull) return storageFull(err);
    if (err instanceof ChunkDeadlineError) return { kind: 'io', message: err.message, timedOut: true };
    return postgresIoError(err);
  };
  const commitOnce: TE.TaskEither<UploadError, void> = async () => {
    const ended = await endUploadStream({ stop, forget, aborted, stream, done: finished, discard, failure });
    if (ended !== undefined) return E.left(ended);
    try {
      const done = await sql.begin(async (tx): Promise<E.Either<UploadError, void>> => {
        const size = await lockThreadSize(tx, title);
        // Under the thread row's lock: the pending row is there unless RMV removed its thread (the cascade),
        // so a thread of the title made again meanwhile is another row, which it does not belong to. Locked too:
        // another server deleting it as a dead server's (its lease lapsed) takes no thread lock, and read only, a
        // deletion that landed between this and the update below left the update nothing to change, and the line
        // went in: listed, its sender told it was stored, and no file (attack round 23). Now such a deletion waits
        // and finds the row committed, or went first and the row is not found here.
        const mine = size === undefined ? [] : await tx`SELECT 1 FROM uploads WHERE id = ${id} FOR NO KEY UPDATE`;
        if (size === undefined) return E.left(threadGone(title));
        if (mine.length === 0) return E.left(failure(await rowGone(tx)));
        const taken = await tx`SELECT 1 FROM uploads WHERE thread = ${title} AND filename = ${filename} AND committed`;
        if (taken.length > 0) {
          await tx`DELETE FROM uploads WHERE id = ${id}`;
          return E.left({ kind: 'fileExists', title, filename });
        }
        // Under the row's lock, which every MSG takes too: concurrent MSGs and uploads are checked one after another.
        const after = appendedSize(size, line);
        const full = threadGrowthGuard(title)(after, await holdingAfterAppend(tx, size, after, line));
        if (E.isLeft(full)) {
          // Committed with the refusal (the transaction returns normally): its chunks are doomed with the row.
          await tx`DELETE FROM uploads WHERE id = ${id}`;
          return full;
        }
        await tx`UPDATE uploads SET committed = true, size = ${total}, touched_at = now() WHERE id = ${id}`;
        const last = await tx<{ last: string }[]>`SELECT COALESCE(MAX(pos), 0) AS last FROM entries WHERE thread = ${title}`;
        const pos = Number(last[0]?.last ?? 0) + 1;
        await tx`INSERT INTO entries (thread, pos, kind, author, body) VALUES (${title}, ${pos}, 'upload', ${uploader}, ${filename})`;
        await writeThreadSize(tx, title, after);
        return E.right(undefined);
      });
      // Refused, its row deleted in the transaction: its chunks are doomed.
      if (E.isLeft(done)) onDeleted();
      return done;
    } catch (e) {
      // Rolled back whole (a statement past its time limit, the connection lost before COMMIT): nothing of it
      // is visible. But a connection lost with COMMIT's answer leaves it committed, listed in its thread:
      // answered a failure, the uploader was told "failed" of a file the forum shows.
      const failed = postgresIoError(e);
      // A COMMIT a silent database left unanswered (postgres-abandon.ts): asking would get no answer either, and
      // the discard (of an uncommitted row only) waits for the database, after the answer.
      if (isOutcomeUnknown(failed)) {
        void discard();
        return E.left(failed);
      }
      // Refused or given up by the deadline before its COMMIT was written: surely not committed, nothing to ask.
      const committed = surelyRolledBack(e) ? false : await landed();
      if (committed === true) return E.right(undefined);
      // Outside the deadline (deleteUploads), awaited only until the answer is due: a database gone silent
      // meanwhile held the answer until it came back.
      await untilAnswerDue(discard(), undefined);
      return E.left(committed === false ? failed : { ...failed, message: `${failed.message}; the database could not say whether it committed`, outcomeUnknown: 'database' });
    }
  };

  const commit: TE.TaskEither<UploadError, void> = async () => {
    try {
      return await commitOnce();
    } finally {
      // Committed, refused or given up: no lease is renewed for it any more.
      leases.drop(id);
    }
  };

  // The chunk at the database cancelled at once (its deadline passed now), not awaited: a sender gone while it
  // was stored waited for it, its place among its user's uploads held meanwhile. Cancelled (or given up, its
  // connection destroyed), it stores nothing; one that lands anyway is refused by the row's absence or doomed
  // with it, and the row is never committed (`aborted`), so no file appears.
  const abort = async (): Promise<void> => {
    aborted = true;
    forget();
    pending = [];
    chunkDeadline?.expireNow();
    stream.destroy();
    await awaitedBriefly(discard());
  };
  return E.right({ stream, commit, abort, stopped: stop.stopped });
};

/** Which committed upload to read: `id`, of `size` bytes, in thread row `threadId` (its {@link ThreadIncarnation}) titled `title`. */
export interface DownloadSource {
  readonly title: string;
  readonly id: string;
  readonly size: number;
  readonly threadId: ThreadIncarnation;
}

/**
 * Reads a committed upload chunk by chunk, one query per chunk as the reader
 * asks for more: no connection is held between chunks, so a slow reader
 * costs nothing but its place. The upload goes only with its thread (ON
 * DELETE CASCADE): this server's RMV stops the download at once
 * (`inFlight`), another server's is noticed as the next chunk is read
 * without its upload's row (the chunks, doomed, are deleted later);
 * either way `stopped` settles with `noThread` and the stream is destroyed.
 */
export const postgresDownload = (sql: Sql, source: DownloadSource, inFlight: TransfersInFlight): Download => {
  const { title, id, size, threadId } = source;
  let seq = 0;
  let sent = 0;
  const stream = new Readable({
    read() {
      if (sent >= size) return void this.push(null);
      const n = seq++;
      // Only while the upload's row is there: a removed thread's chunks stay, doomed, until the sweeper deletes them.
      sql<{ data: Buffer }[]>`
        SELECT data FROM upload_chunks WHERE upload_id = ${id} AND seq = ${n} AND EXISTS (SELECT 1 FROM uploads WHERE id = ${id})`.then(
        (rows) => {
          if (stream.destroyed) return;
          const data = rows[0]?.data;
          // A committed upload's row goes only with its thread (RMV, on any server): stopped as this server's RMV would.
          if (data === undefined) return void stop.stop(threadGone(title));
          if (sent + data.length > size) return void this.destroy(new Error('the upload changed while it was being read'));
          sent += data.length;
          this.push(data);
          if (sent >= size) this.push(null);
        },
        (e: unknown) => this.destroy(e instanceof Error ? e : new Error(String(e))),
      );
    },
  });
  const stop = inFlight.addDownload(title, threadId, stream);
  return { stream, size, stopped: stop.stopped };
};
