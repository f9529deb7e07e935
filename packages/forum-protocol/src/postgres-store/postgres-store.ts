import * as E from 'fp-ts/lib/Either.js';
import * as O from 'fp-ts/lib/Option.js';
import * as TE from 'fp-ts/lib/TaskEither.js';
import postgres, { type Sql, type TransactionSql } from 'postgres';
import type { IoError, NoFileError, StoreError } from '../store/errors.js';
import { changeMessageInPostgres } from './postgres-change-message.js';
import { createAccountInPostgres } from './postgres-create-account.js';
import { createCommittedAfterAll, createThreadInPostgres } from './postgres-create-thread.js';
import { migrate } from './postgres-schema.js';
import { RecentThreads, threadRowVersion } from './postgres-recent-threads.js';
import { DEFAULT_UPLOAD_CHUNK_DEADLINE_MS, postgresDownload, postgresUploadWriter } from './postgres-upload.js';
import { bytesInProgress, DEFAULT_UPLOAD_LEASE_MS, lapsedUploads, UploadLeases } from './postgres-upload-leases.js';
import { holdingAfterAppend } from './postgres-thread-share.js';
import { lockThreadSize, writeThreadSize } from './postgres-thread-size.js';
import { attemptEither, DEFAULT_POSTGRES_TIMEOUTS, timeoutParameters, type PostgresTimeouts } from './postgres-timeouts.js';
import { deleteUploads, DoomedUploadSweeper, type DoomedUploadSweepOptions } from './postgres-doomed-uploads.js';
import { deadlineSql, learnUserCancel } from './postgres-deadline.js';
import { reconnectDelaySeconds } from './postgres-reconnect.js';
import { committedAfterAll, settledTransaction } from './postgres-commit-landed.js';
import { awaitedBriefly, untilAnswerDue } from './postgres-abandon.js';
import type { Account, AppendGuard, Download, ForumStore, ThreadUpdate, UploadError, UploadStat, UploadWriter } from '../store/store.js';
import { threadGrowthGuard } from '../store/thread-growth.js';
import { rememberReplyBytes } from '../store/thread-reply-size.js';
import { appendedSize, threadSize, type ThreadSize } from '../store/thread-size.js';
import type { Thread, ThreadEntry } from '../store/thread.js';
import { type ThreadLimits, resolveThreadLimits } from '../store/thread-limits.js';
import { threadGone, type ThreadIncarnation } from '../store/thread-incarnations.js';
import { TransfersInFlight } from '../store/transfers-in-flight.js';
import { defaultMaxUserUploadBytes, uploaderBytes } from './postgres-upload-share.js';
import { levelHeldPassed, originLevelUploadBytes, originOverLimitWarnings } from './postgres-origin-shares.js';
import { originLimit } from '../store/origin-shares.js';

/** Options for {@link openPostgresStore}. */
export interface PostgresStoreOptions {
  /** Most connections this server opens. Default 10. */
  readonly maxConnections?: number;
  /** A schema (created if missing) to keep the tables in instead of `public`: one database, several forums (tests). */
  readonly schema?: string;
  /**
   * Pending uploads untouched this long are deleted when the store opens and, while it runs, as an upload
   * begins at most once every `staleSweepEveryMs` (a crashed server left them: their bytes count against
   * `maxStoredUploadBytes`). Only those without a lease (a server of schema 11): one whose lease is current
   * is a live server's, however slow its sender. Default 10 minutes.
   */
  readonly staleUploadMs?: number;
  /** How often, at most, beginning an upload sweeps the stale pending uploads of every server. Default 60 s. */
  readonly staleSweepEveryMs?: number;
  /**
   * How long a pending upload's lease lives without renewal, ms (schema 12; this server renews its own with
   * each chunk and every third of it). An upload whose lease lapsed belongs to a server that is gone: it is
   * deleted, its chunks swept, as soon as an upload on any server finds no room, and by the sweep of stale
   * uploads. Keep it at most the forum's idle timeout. Default {@link DEFAULT_UPLOAD_LEASE_MS} (15 s).
   */
  readonly uploadLeaseMs?: number;
  /** Told when a renewal of upload leases fails (the next one may succeed; a lease lapses only after `uploadLeaseMs`). */
  readonly onUploadLeaseError?: (message: string) => void;
  /**
   * How long storing one chunk of an upload may take, ms: past it the upload is stopped, its sender told the
   * database did not answer in time (the abandon rule of commands: cancelled, then given up). Default
   * {@link DEFAULT_UPLOAD_CHUNK_DEADLINE_MS} (6 s).
   */
  readonly uploadChunkDeadlineMs?: number;
  /** Thread creation limits (CRT), over every server of the database. Default {@link DEFAULT_THREAD_LIMITS}. */
  readonly threadLimits?: Partial<ThreadLimits>;
  /**
   * Most bytes all uploads may hold in the database, committed and in progress, over every server
   * (`upload_bytes`, schema 7): a chunk that would pass it ends its upload, refused `uploadStorageFull`.
   * Default: no limit.
   */
  readonly maxStoredUploadBytes?: number;
  /**
   * Most bytes one account's uploads may hold in the database, committed and in progress, over every server
   * (postgres-upload-share.ts): a chunk past it ends its upload, an announced size past it is refused at once,
   * `uploadStorageFull` with `who: 'account'`. Default, with `maxStoredUploadBytes`,
   * {@link defaultMaxUserUploadBytes} of it (1/16, at least 1 MiB); without, no share.
   */
  readonly maxUserUploadBytes?: number;
  /**
   * The time limits of each connection (PostgreSQL's `statement_timeout`, `lock_timeout`,
   * `idle_in_transaction_session_timeout`). Default {@link DEFAULT_POSTGRES_TIMEOUTS}; the URL's
   * parameters (`?lock_timeout=5s`) override both.
   */
  readonly timeouts?: Partial<PostgresTimeouts>;
  /**
   * The sweep of deleted uploads' chunks (`doomed_uploads`, schema 8): RMV and the other deletions of
   * uploads leave them to it, after their reply. Default: automatic, 64 chunks a transaction.
   */
  readonly doomedUploadSweep?: DoomedUploadSweepOptions;
  /**
   * How long `close` lets the statements under way finish before it ends their connections, ms (postgres.js's
   * `end({ timeout })`): at a database gone silent, how long a close waits at most. Default 5 s.
   */
  readonly closeTimeoutMs?: number;
}

/** A {@link ForumStore} in PostgreSQL, with the connection pool that the session leases and transfer tokens share. */
export interface PostgresStore extends ForumStore {
  /** The pool (for `createPostgresSessionRegistry` and `createPostgresTransferTokens`). */
  readonly sql: Sql;
  /**
   * The schema version the database had when this store opened it (0: empty), before its migration to
   * `SCHEMA_VERSION`: below that, servers of the older schema may still be running (a rolling upgrade).
   */
  readonly schemaFound: number;
  /**
   * Deletes the chunks of deleted uploads (of any server's deletions) now, in transactions of at most
   * `doomedUploadSweep.batchChunks` chunks, after the pass running if any; resolves to the chunks it
   * deleted. Those another server is sweeping meanwhile are left to it.
   */
  sweepDoomedUploads(): Promise<number>;
  /** Stops the sweep (after its transaction in flight) and closes the pool, after the queries in flight. */
  close(): Promise<void>;
}

interface EntryRow {
  readonly pos: string;
  readonly kind: string;
  readonly author: string;
  readonly body: string;
}

const toEntry = (r: EntryRow): ThreadEntry => {
  switch (r.kind) {
    case 'message':
      return { kind: 'message', author: r.author, text: r.body };
    case 'upload':
      return { kind: 'upload', uploader: r.author, filename: r.body };
    default:
      return { kind: 'other', line: r.body };
  }
};

const entryColumns = (e: ThreadEntry): { readonly kind: string; readonly author: string; readonly body: string } => {
  switch (e.kind) {
    case 'message':
      return { kind: 'message', author: e.author, body: e.text };
    case 'upload':
      return { kind: 'upload', author: e.uploader, body: e.filename };
    case 'other':
      return { kind: 'other', author: '', body: e.line };
  }
};

const staleOf = (options: PostgresStoreOptions): number => options.staleUploadMs ?? 10 * 60_000;

// A pending upload whose lease lapsed (schema 12) belongs to a server that is gone. One without a lease
// (a server of schema 11) is judged by its last chunk: a row untouched for minutes. A current lease is
// its server's heartbeat, whatever the age of its last chunk: a sender slower than a chunk (256 KiB) per
// `staleMs` (a slow link, or the server's own pacing under load) was deleted mid-upload and told its
// lease lapsed. Resolves to the ids of the uploads it deleted (their chunks doomed).
const sweepStaleUploads = (sql: Sql, staleMs: number): Promise<readonly string[]> =>
  deleteUploads(
    sql,
    (tx) => tx`NOT committed AND (lease_expires_at < now() OR (lease_expires_at IS NULL AND touched_at < now() - ${staleMs} * interval '1 millisecond'))`,
  );

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** A thread and the position of each of its entries, read under the thread row's lock. */
interface LockedThread {
  readonly thread: Thread;
  readonly positions: readonly number[];
}

interface ThreadRow {
  readonly creator: string;
  readonly pos: string | null;
  readonly kind: string | null;
  readonly author: string | null;
  readonly body: string | null;
}

/** The thread from one row per line (a thread without lines: one row of nulls), or `undefined`. */
const toLocked = (title: string, rows: readonly ThreadRow[]): LockedThread | undefined => {
  const creator = rows[0]?.creator;
  if (creator === undefined) return undefined;
  const lines = rows.flatMap((r) => (r.pos === null ? [] : [{ pos: r.pos, kind: r.kind ?? '', author: r.author ?? '', body: r.body ?? '' }]));
  return { thread: { title, creator, entries: lines.map(toEntry) }, positions: lines.map((r) => Number(r.pos)) };
};

// Lock first, then read the lines in a second statement: under READ COMMITTED that statement sees
// what the previous holder of the lock committed (a join locking only the thread row would re-check
// that row after the wait but return the lines as they were before it). The two are pipelined (one
// round trip): the connection runs them in order, so the read still starts once the lock is held.
const lockThread = async (tx: TransactionSql, title: string): Promise<LockedThread | undefined> => {
  const [size, rows] = await Promise.all([
    lockThreadSize(tx, title),
    tx<EntryRow[]>`SELECT pos, kind, author, body FROM entries WHERE thread = ${title} ORDER BY pos`,
  ]);
  if (size === undefined) return undefined;
  const thread: Thread = { title, creator: size.creator, entries: rows.map(toEntry) };
  // The update's size checks (MSG, EDT) then cost one line's work, not a count of every line.
  rememberReplyBytes(thread, size.replyBytes);
  return { thread, positions: rows.map((r) => Number(r.pos)) };
};

/**
 * Writes the difference between the locked thread and `next`: entries the
 * update kept are the same objects, so only the changed run in the middle is
 * deleted and inserted (MSG: one insert; DLT: one delete; EDT: one of each).
 */
const writeDiff = async (tx: TransactionSql, locked: LockedThread, next: readonly ThreadEntry[]): Promise<void> => {
  const old = locked.thread.entries;
  const title = locked.thread.title;
  let head = 0;
  while (head < old.length && head < next.length && old[head] === next[head]) head++;
  let tail = 0;
  while (tail < old.length - head && tail < next.length - head && old[old.length - 1 - tail] === next[next.length - 1 - tail]) tail++;
  const removed = locked.positions.slice(head, old.length - tail);
  const added = next.slice(head, next.length - tail);
  const before = head === 0 ? 0 : (locked.positions[head - 1] ?? 0);
  const after = tail === 0 ? Number.POSITIVE_INFINITY : (locked.positions[old.length - tail] ?? Number.POSITIVE_INFINITY);
  if (added.length <= after - before - 1) {
    if (removed.length > 0) await tx`DELETE FROM entries WHERE thread = ${title} AND pos = ANY(${removed})`;
    if (added.length > 0) {
      const rows = added.map((e, i) => ({ thread: title, pos: before + 1 + i, ...entryColumns(e) }));
      await tx`INSERT INTO entries ${tx(rows, 'thread', 'pos', 'kind', 'author', 'body')}`;
    }
    return;
  }
  // No room between the kept neighbours (an insertion in the middle): renumber everything after the kept head.
  await tx`DELETE FROM entries WHERE thread = ${title} AND pos > ${before}`;
  const rows = next.slice(head).map((e, i) => ({ thread: title, pos: before + 1 + i, ...entryColumns(e) }));
  if (rows.length > 0) await tx`INSERT INTO entries ${tx(rows, 'thread', 'pos', 'kind', 'author', 'body')}`;
};

/**
 * Whether postgres.js has this workspace's patch (`patches/postgres@3.4.9.patch`, which marks it): without it
 * a transaction's BEGIN, not pipelined, never took its connection (UNSAFE_TRANSACTION).
 */
const isPatchedDriver = (postgres as unknown as { readonly forumPatched?: unknown }).forumPatched === true;

/**
 * Connects to PostgreSQL at `url` and creates or migrates the forum's tables
 * (see `postgres-schema.ts`, and the migrations in `migrations/`). Every
 * command is one transaction; a change to a thread locks its row
 * (`SELECT … FOR UPDATE`), so commands from any number
 * of servers on one thread run one after another and message numbers stay
 * those of the spec. Upload bytes are stored in chunks and never held whole.
 */
export const openPostgresStore = (url: string, options: PostgresStoreOptions = {}): TE.TaskEither<IoError, PostgresStore> =>
  attemptEither(async () => {
    const limits = resolveThreadLimits(options.threadLimits);
    const share = options.maxUserUploadBytes;
    if (share !== undefined && (!Number.isSafeInteger(share) || share < 1)) throw new RangeError(`maxUserUploadBytes must be a whole number from 1 (got ${String(share)})`);
    const schema = options.schema;
    if (schema !== undefined && !SCHEMA_NAME.test(schema)) return E.left({ kind: 'io', message: `invalid schema name: ${schema}` } satisfies IoError);
    const sql = postgres(url, {
      max: options.maxConnections ?? 10,
      // No statement is written to a connection behind another's (postgres.js pipelines up to 100 on a busy
      // connection by default): one waits in the pool's queue, where its command's deadline takes it out, not
      // behind statements of other commands that may each run up to statement_timeout (postgres-deadline.ts).
      // The unpatched driver (an application installing this package) took no transaction so.
      ...(isPatchedDriver ? { max_pipeline: 0 } : {}),
      // Back within a second of the database's return, not postgres.js's 20 s (postgres-reconnect.ts).
      backoff: reconnectDelaySeconds,
      onnotice: () => undefined,
      connection: {
        ...timeoutParameters({ ...DEFAULT_POSTGRES_TIMEOUTS, ...options.timeouts }),
        ...(schema === undefined ? {} : { search_path: schema }),
      },
    });
    let schemaFound: number;
    let warnings: string[];
    try {
      schemaFound = await migrate(sql, schema);
      await sweepStaleUploads(sql, staleOf(options));
      await learnUserCancel(sql);
      // After the sweep: the uploads of servers gone no longer count.
      warnings = await originOverLimitWarnings(sql, { threads: originLimit(limits.maxThreadsPerUser, limits.originShares), uploadBytes: originLimit(uploadShareOf(options), limits.originShares) });
    } catch (e) {
      await sql.end({ timeout: 1 });
      throw e;
    }
    // Every statement of the store, and of the registries that share its pool, held to the deadline of the command that makes it.
    return E.right(makeStore(deadlineSql(sql), limits, options, schemaFound, warnings));
  });

/** Each account's share of the uploads' room: `maxUserUploadBytes`, by default a part of `maxStoredUploadBytes`; none without either. */
const uploadShareOf = (options: PostgresStoreOptions): number | undefined =>
  options.maxUserUploadBytes ?? (options.maxStoredUploadBytes === undefined ? undefined : defaultMaxUserUploadBytes(options.maxStoredUploadBytes));

const makeStore = (sql: Sql, limits: ThreadLimits, options: PostgresStoreOptions, schemaFound: number, warnings: readonly string[]): PostgresStore => {
  const maxStoredUploadBytes = options.maxStoredUploadBytes;
  const maxUserUploadBytes = uploadShareOf(options);
  const maxOriginUploadBytes = originLimit(maxUserUploadBytes, limits.originShares);
  const staleMs = staleOf(options);
  const sweepEveryMs = options.staleSweepEveryMs ?? 60_000;
  // A failed discard is tried again once the limits this store's connections set have surely run out
  // for a hung server's transaction (it ends at its idle limit) and for the retry's own lock wait.
  const timeouts = { ...DEFAULT_POSTGRES_TIMEOUTS, ...options.timeouts };
  const discardRetryMs = timeouts.idleInTransactionMs + timeouts.lockMs + 1_000;
  let sweptAt = performance.now();
  const noThread = (title: string): StoreError => ({ kind: 'noThread', title });
  // This server's uploads being received and downloads being read, so that its RMV stops those of the thread it removes.
  const inFlight = new TransfersInFlight();
  const sweeper = new DoomedUploadSweeper(sql, options.doomedUploadSweep);
  const leases = new UploadLeases(sql, options.uploadLeaseMs ?? DEFAULT_UPLOAD_LEASE_MS, options.onUploadLeaseError);
  /**
   * Deletes the pending uploads of servers that are gone (lease lapsed) and their chunks, now: asked when an
   * upload finds no room, which such an upload held for up to `staleUploadMs` (attack round 18). Resolves
   * to whether any went. A sweep that fails leaves their chunks to the sweeper (still counted meanwhile).
   */
  const reclaimLapsed = async (): Promise<boolean> => {
    const ids = await deleteUploads(sql, lapsedUploads);
    if (ids.length === 0) return false;
    await sweeper.sweepUploads(ids).catch(() => sweeper.kick());
    return true;
  };
  // What a server (this one before a crash, another, one of schema 7) left doomed: swept in the background.
  sweeper.kick();

  const recent = new RecentThreads();
  const getThread = (title: string): TE.TaskEither<StoreError, O.Option<Thread>> =>
    attemptEither(async () => {
      // A large thread read lately: its row first, and the value read then if nobody wrote it since.
      if (recent.has(title)) {
        const kept = recent.get(title, await threadRowVersion(sql, title));
        if (kept !== undefined) return E.right(O.some(kept));
      }
      // One statement: one snapshot of the head and the lines, one round trip.
      const rows = await sql<(ThreadRow & { readonly id: string; readonly version: string; readonly reply_bytes: string })[]>`
        SELECT t.id::text AS id, t.xmin::text AS version, t.reply_bytes, t.creator, e.pos, e.kind, e.author, e.body
        FROM threads t LEFT JOIN entries e ON e.thread = t.title
        WHERE t.title = ${title} ORDER BY e.pos`;
      const locked = toLocked(title, rows);
      const head = rows[0];
      if (locked !== undefined && head !== undefined) recent.set({ id: head.id, version: head.version }, locked.thread, Number(head.reply_bytes));
      return E.right(O.map((l: LockedThread) => l.thread)(O.fromNullable(locked)));
    });

  const updateThread = <Err, A>(title: string, update: ThreadUpdate<Err, A>): TE.TaskEither<StoreError | Err, A> =>
    attemptEither(() =>
      sql.begin(async (tx): Promise<E.Either<StoreError | Err, A>> => {
        const locked = await lockThread(tx, title);
        if (locked === undefined) return E.left(noThread(title));
        const out = update(locked.thread);
        if (E.isLeft(out)) return out;
        const next = out.right.thread;
        // threadSize(next) is remembered when the update was an edit or a delete; any other is counted here, once.
        await Promise.all([writeDiff(tx, locked, next.entries), writeThreadSize(tx, title, threadSize(next))]);
        return E.right(out.right.result);
      }),
    );

  // Reads the thread's row, and its lines only for the share of an account other than the creator in a thread
  // larger than a share and not full (postgres-thread-share.ts): the creator's MSG costs the same on 10,000 lines as on none.
  const appendEntry =
    <Err>(title: string, entry: ThreadEntry, guard: AppendGuard<Err>): TE.TaskEither<StoreError | Err, void> =>
    () =>
      // A connection lost with COMMIT's answer leaves the line committed: answered a failure, the client's
      // retry (the line asks for one) posted it twice (attack round 18).
      settledTransaction(
        (wrote) =>
          sql.begin(async (tx): Promise<E.Either<StoreError | Err, void>> => {
            const before = await lockThreadSize(tx, title);
            if (before === undefined) return E.left(noThread(title));
            const after = appendedSize(before, entry);
            // The entry's account's lines in the thread, under the row's lock (thread-share.ts).
            const ok = guard(after, await holdingAfterAppend(tx, before, after, entry));
            if (E.isLeft(ok)) return ok;
            const c = entryColumns(entry);
            // The last position from the primary key's index: one lookup, however long the thread.
            const [inserted] = await Promise.all([
              tx<{ xid: string }[]>`INSERT INTO entries (thread, pos, kind, author, body)
                 SELECT ${title}, COALESCE(max(pos), 0) + 1, ${c.kind}, ${c.author}, ${c.body} FROM entries WHERE thread = ${title}
                 RETURNING txid_current()::text AS xid`,
              writeThreadSize(tx, title, after),
            ]);
            const xid = inserted[0]?.xid;
            if (xid !== undefined) wrote(xid);
            return E.right(undefined);
          }),
        (xid) => committedAfterAll(sql, title, xid),
        undefined,
      );

  const removeThread =
    <Err>(title: string, guard: (thread: Thread) => E.Either<Err, void>): TE.TaskEither<StoreError | Err, void> =>
    async () => {
      // The row deleted, once it has.
      let deleted: ThreadIncarnation | undefined;
      // As appendEntry's: a RMV whose COMMIT landed, answered a failure, was retried and told the thread does not
      // exist, or (another user having made the title again meanwhile) that it belongs to another user.
      const removed = await settledTransaction(
        (wrote) =>
          sql.begin(async (tx): Promise<E.Either<StoreError | Err, void>> => {
            const locked = await lockThread(tx, title);
            if (locked === undefined) return E.left(noThread(title));
            const ok = guard(locked.thread);
            if (E.isLeft(ok)) return ok;
            // Its upload rows locked first in the order of their ids, as the lease heartbeat and deleteUploads lock
            // them: the cascade alone took them in the table's scan order, which a row's update (every chunk renews
            // its lease) leaves unlike the ids', and a RMV beside either deadlocked, one of the two ended after
            // deadlock_timeout (1 s) (test postgres-rmv-upload-lock-order).
            await tx`SELECT 1 FROM uploads WHERE thread = ${title} ORDER BY id FOR UPDATE`;
            // Its lines and upload rows (committed or pending) go with it (ON DELETE CASCADE); the uploads' chunks
            // are doomed with them (schema 8's trigger) and deleted after the reply, however many GiB they hold.
            const rows = await tx<{ id: string; xid: string }[]>`DELETE FROM threads WHERE title = ${title} RETURNING id, txid_current()::text AS xid`;
            const row = rows[0];
            if (row !== undefined) {
              deleted = row.id;
              wrote(row.xid);
            }
            return E.right(undefined);
          }),
        (xid) => committedAfterAll(sql, title, xid),
        undefined,
      );
      const gone = deleted;
      if (E.isLeft(removed)) return removed;
      return attemptEither(async () => {
        sweeper.kick();
        // Committed: this server's uploads to that thread row could only be refused at commit, and its downloads
        // of it would fail at their next chunk with no word of why; stopped now. (Another server's learn of it
        // as they store or read their next chunk, or as an upload commits.)
        if (gone !== undefined) await inFlight.stopAll(title, gone, threadGone(title));
        return E.right(undefined);
      })();
    };

  /**
   * What an upload is refused for before a pending row or a chunk is stored (`checkUpload`,
   * `beginUpload`): what its commit would refuse now, from the size kept on the thread's row, without
   * a lock. The commit checks again under the row's lock.
   */
  const uploadProblem = async (title: string, filename: string, uploader: string, granted?: ThreadIncarnation): Promise<E.Either<UploadError, ThreadIncarnation>> => {
    const rows = await sql<{ id: string; exists: boolean; creator: string; entry_count: number; message_count: number; reply_bytes: string }[]>`
      SELECT id, EXISTS (SELECT 1 FROM uploads WHERE thread = ${title} AND filename = ${filename} AND committed) AS exists,
             creator, entry_count, message_count, reply_bytes
      FROM threads WHERE title = ${title}`;
    const row = rows[0];
    if (row === undefined) return E.left(noThread(title));
    // Granted for another row of this title (removed since, maybe made again): refused as for any missing thread.
    if (granted !== undefined && String(row.id) !== granted) return E.left(threadGone(title));
    if (row.exists) return E.left({ kind: 'fileExists', title, filename });
    const size: ThreadSize = { title, creator: row.creator, entries: row.entry_count, messages: row.message_count, replyBytes: Number(row.reply_bytes) };
    // The thread row's id is its incarnation: a thread of the title made again is a new row.
    const line: ThreadEntry = { kind: 'upload', uploader, filename };
    const after = appendedSize(size, line);
    return E.map(() => String(row.id))(threadGrowthGuard(title)(after, await holdingAfterAppend(sql, size, after, line)));
  };

  /**
   * Refuses an upload of `size` announced bytes that cannot fit under `maxStoredUploadBytes` now (the
   * data directory's quota refuses such a file by its size line; PostgreSQL's limit did so only once the
   * chunks reached it, after the sender had sent the room left). Read without a lock: each chunk is
   * still counted under one as it is stored.
   */
  const roomProblem = async (size: number | undefined, uploader: string): Promise<E.Either<UploadError, void>> => {
    if (size === undefined) return E.right(undefined);
    const forum = await forumRoomProblem(size);
    if (E.isLeft(forum)) return forum;
    return shareProblem(size, uploader);
  };

  /** The forum's room for `size` bytes (`maxStoredUploadBytes`): said first, as a full forum is full whoever asks. */
  const forumRoomProblem = async (size: number): Promise<E.Either<UploadError, void>> => {
    if (maxStoredUploadBytes === undefined) return E.right(undefined);
    const freeNow = async (): Promise<number> => {
      const rows = await sql<{ bytes: string }[]>`SELECT bytes FROM upload_bytes`;
      return Math.max(0, maxStoredUploadBytes - Number(rows[0]?.bytes ?? 0));
    };
    let free = await freeNow();
    if (size <= free) return E.right(undefined);
    // Held by a dead server's half upload: freed now, not when it is 10 minutes stale.
    if (await untilAnswerDue(reclaimLapsed(), false)) free = await freeNow();
    if (size <= free) return E.right(undefined);
    // Part of what is counted may be doomed chunks that no sweep is deleting (their server died after its
    // RMV): swept now, not at this server's next tick (60 s), so that the sender's next try finds the room.
    sweeper.kick();
    // Held by live uploads: free again once they end, which the refusal says (removing threads may not help).
    const inProgress = await bytesInProgress(sql);
    return E.left({ kind: 'uploadStorageFull', limit: maxStoredUploadBytes, announced: { free, size }, ...(inProgress > 0 ? { inProgress } : {}) });
  };

  /** `uploader`'s share's room for `size` bytes (`maxUserUploadBytes`, postgres-upload-share.ts). Read without a lock, as the forum's. */
  const shareProblem = async (size: number, uploader: string): Promise<E.Either<UploadError, void>> => {
    if (maxUserUploadBytes === undefined) return E.right(undefined);
    let mine = await uploaderBytes(sql, uploader);
    // A dead server's half upload of the same account: freed now, as for the forum's room.
    if (mine + size > maxUserUploadBytes && (await untilAnswerDue(reclaimLapsed(), false))) mine = await uploaderBytes(sql, uploader);
    if (mine + size > maxUserUploadBytes) return E.left({ kind: 'uploadStorageFull', limit: maxUserUploadBytes, who: 'account', announced: { free: Math.max(0, maxUserUploadBytes - mine), size } });
    // Its origin's accounts' together, and its /56's and /48's (postgres-origin-shares.ts), read as its own; each
    // chunk checks again under the levels' locks.
    if (maxOriginUploadBytes === undefined) return E.right(undefined);
    let passed = levelHeldPassed(await originLevelUploadBytes(sql, uploader), size, maxOriginUploadBytes);
    if (passed !== undefined && (await untilAnswerDue(reclaimLapsed(), false))) passed = levelHeldPassed(await originLevelUploadBytes(sql, uploader), size, maxOriginUploadBytes);
    if (passed === undefined) return E.right(undefined);
    return E.left({ kind: 'uploadStorageFull', limit: passed.limit, who: 'origin', ...(passed.network ? { network: true } : {}), announced: { free: Math.max(0, passed.limit - passed.held), size } });
  };

  const beginUpload = (title: string, filename: string, uploader: string, granted?: ThreadIncarnation, size?: number): TE.TaskEither<UploadError, UploadWriter> =>
    attemptEither(async (): Promise<E.Either<UploadError, UploadWriter>> => {
      // Only at open, a server killed mid-upload left its pending rows and chunks until some server
      // restarted: with servers that run for months, forever, and counted against maxStoredUploadBytes.
      if (performance.now() - sweptAt >= sweepEveryMs) {
        sweptAt = performance.now();
        // Outside the deadline (deleteUploads): awaited only until the answer is due, and left to the sweeps after.
        const stale = await untilAnswerDue(sweepStaleUploads(sql, staleMs), []);
        // Their chunks deleted before this upload's room is checked: on a full forum it is the one that needs
        // that room, and left to the background they were still counted (an announced size refused at once).
        // A failure leaves them to the sweeper, and the checks below to decide. Awaited only until the answer
        // is due, as the sweep: its batches run outside the deadline, and at a database gone silent as they ran
        // the upload's start (a transfer's store step) waited for as long as TCP did.
        if (stale.length > 0) await untilAnswerDue(sweeper.sweepUploads(stale).catch(() => sweeper.kick()), undefined);
      }
      const room = await uploadProblem(title, filename, uploader, granted);
      if (E.isLeft(room)) return room;
      const fits = await roomProblem(size, uploader);
      if (E.isLeft(fits)) return fits;
      // The pending row is inserted only if the thread is still that row: a RMV after the check is caught there.
      return postgresUploadWriter(
        sql,
        { title, filename, uploader, threadId: room.right },
        { inFlight, maxStoredUploadBytes, maxUserUploadBytes, maxOriginUploadBytes, discardRetryMs, onDeleted: () => sweeper.kick(), leases, reclaimLapsed, chunkDeadlineMs: options.uploadChunkDeadlineMs ?? DEFAULT_UPLOAD_CHUNK_DEADLINE_MS },
      );
    });

  /** The committed upload's id and size and its thread row's id, or why there is none. */
  const findUpload = async (
    title: string,
    filename: string,
  ): Promise<E.Either<StoreError | NoFileError, { readonly id: string; readonly size: number; readonly threadId: ThreadIncarnation }>> => {
    const rows = await sql<{ thread_id: string; id: string | null; size: string | null }[]>`
      SELECT t.id AS thread_id, u.id, u.size FROM threads t
      LEFT JOIN uploads u ON u.thread = t.title AND u.filename = ${filename} AND u.committed
      WHERE t.title = ${title}`;
    const row = rows[0];
    if (row === undefined) return E.left(noThread(title));
    if (row.id === null || row.size === null) return E.left({ kind: 'noFile', title, filename });
    return E.right({ id: row.id, size: Number(row.size), threadId: String(row.thread_id) });
  };

  const openDownload = (title: string, filename: string, granted?: ThreadIncarnation): TE.TaskEither<StoreError | NoFileError, Download> =>
    attemptEither(async (): Promise<E.Either<StoreError | NoFileError, Download>> => {
      const found = await findUpload(title, filename);
      if (E.isLeft(found)) return found;
      const { id, size, threadId } = found.right;
      // Granted for another row of this title (removed since, maybe made again with a file of the name): not that file.
      if (granted !== undefined && threadId !== granted) return E.left(threadGone(title));
      return E.right(postgresDownload(sql, { title, id, size, threadId }, inFlight));
    });

  return {
    sql,
    schemaFound,
    warnings,
    sweepDoomedUploads: () => sweeper.sweep(),
    close: async () => {
      leases.close();
      // The pass running ends after its batch (ms), but its statements run outside any deadline: at a database
      // gone silent the close (and a server's stop) waited for as long as TCP did. Awaited briefly, then the
      // pool's end (closeTimeoutMs, 5 s by default) cuts it off.
      await awaitedBriefly(sweeper.close());
      await sql.end({ timeout: (options.closeTimeoutMs ?? 5_000) / 1_000 });
    },
    getAccount: (username) =>
      attemptEither(async () => {
        const rows = await sql<{ secret: string }[]>`SELECT secret FROM accounts WHERE username = ${username}`;
        return E.right(O.map((r: { secret: string }): Account => ({ username, password: r.secret }))(O.fromNullable(rows[0])));
      }),
    listAccounts: () =>
      attemptEither(async () => {
        const rows = await sql<{ username: string }[]>`SELECT username FROM accounts`;
        return E.right(rows.map((r) => r.username));
      }),
    createAccount: (account) => () => createAccountInPostgres(sql, account),
    replaceAccountSecret: (username, secret) =>
      attemptEither(async () => {
        const rows = await sql`UPDATE accounts SET secret = ${secret} WHERE username = ${username} RETURNING username`;
        return E.right(rows.length === 1);
      }),
    listThreads: () =>
      attemptEither(async () => {
        const rows = await sql<{ title: string }[]>`SELECT title FROM threads`;
        // Sorted here, by UTF-16 code unit as the spec's other stores do (a database collation would differ).
        return E.right(rows.map((r) => r.title).sort());
      }),
    getThread,
    // As appendEntry's: a CRT whose COMMIT landed, answered a failure, was retried and told the thread exists.
    createThread: (title, creator) => () =>
      settledTransaction((wrote) => createThreadInPostgres(sql, limits, title, creator, wrote), (xid) => createCommittedAfterAll(sql, creator, xid), true),
    updateThread,
    appendEntry,
    // As appendEntry's: a DLT whose COMMIT landed, answered a failure, was retried as that line asks, and the
    // retry deleted the message numbered after it (an EDT retried was only answered wrong).
    changeMessage: (title, n, change) => () =>
      settledTransaction((wrote) => changeMessageInPostgres(sql, title, n, change, wrote), (xid) => committedAfterAll(sql, title, xid), undefined),
    removeThread,
    checkUpload: (title, filename, uploader) => attemptEither(() => uploadProblem(title, filename, uploader)),
    beginUpload,
    statUpload: (title, filename) =>
      attemptEither(async () => E.map((u: { readonly size: number; readonly threadId: ThreadIncarnation }): UploadStat => ({ size: u.size, incarnation: u.threadId }))(await findUpload(title, filename))),
    openDownload,
  };
};
