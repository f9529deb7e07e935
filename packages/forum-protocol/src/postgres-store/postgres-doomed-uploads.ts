import postgres, { type PendingQuery, type Row, type Sql } from 'postgres';
import { outsideCommandDeadline } from '../store/command-deadline.js';
import { toIoError } from '../store/errors.js';
import { isCancelledByUser } from './postgres-deadline.js';

/** SQLSTATE query_canceled: a statement past `statement_timeout` (or cancelled: told apart by `isCancelledByUser`). */
const QUERY_CANCELED = '57014';

/** How the chunks of deleted uploads are swept (`doomed_uploads`, schema 8). */
export interface DoomedUploadSweepOptions {
  /**
   * Whether the store sweeps by itself: as it opens, after each deletion of its own (RMV, a discard) and
   * every `everyMs`. Default true; false only for tests that look at what a deletion left.
   */
  readonly auto?: boolean;
  /** Most chunks one transaction of the sweep deletes. Default {@link DOOMED_BATCH_CHUNKS}. */
  readonly batchChunks?: number;
  /** How often the store looks for what other servers (or a crashed one) left. Default 60 s. */
  readonly everyMs?: number;
  /**
   * Told when a pass of its own failed (the database out of reach, a statement past its limit): the
   * chunks it did not delete still count against `maxStoredUploadBytes`. The pass is tried again
   * {@link DOOMED_RETRY_FIRST_MS} later, twice as long after each failure in a row, at most `everyMs`.
   */
  readonly onError?: (message: string) => void;
}

/** How long after a failed pass the first retry comes, ms (then twice as long each time, at most `everyMs`). */
export const DOOMED_RETRY_FIRST_MS = 1_000;

/**
 * Chunks (256 KiB) a sweep transaction deletes: 16 MiB, some 40 ms of the database's time here
 * (0.57 ms a chunk), far under any statement limit, and the row locks it holds go as soon.
 */
export const DOOMED_BATCH_CHUNKS = 64;

/**
 * Full batches in a row that fit the statement's time limit after which halved batches double again (up
 * to the size asked for): a slow spell (a busy disk, a lock waited for) cut every later sweep for good,
 * 0.6 ms a chunk at one a batch against 0.1 ms at 64 here, a commit each. Under a limit that stays short,
 * the try costs one batch past the limit every 64 that fit.
 */
export const DOOMED_REGROW_AFTER = 64;

/**
 * Deletes at most `batchChunks` chunks of one doomed upload, in one transaction, and forgets the upload
 * once it has none. The upload is locked `FOR UPDATE SKIP LOCKED`: servers sweeping at once each take
 * another one (or none), never wait for each other. With `only`, one of those uploads, waiting for a
 * batch another server runs on it (whoever asks for them by id needs them gone now). Chunks go from the
 * last: a server of schema 7 still reading the file for a download (it does not check the upload's row)
 * is stopped before its end. Resolves to the chunks deleted, or `undefined` when no doomed upload was free.
 */
export const sweepDoomedBatch = (sql: Sql, batchChunks: number, only?: readonly string[]): Promise<number | undefined> =>
  outsideCommandDeadline(() =>
    sql.begin(async (tx) => {
      const [doomed] =
        only === undefined
          ? await tx<{ id: string }[]>`SELECT id FROM doomed_uploads ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED`
          : await tx<{ id: string }[]>`SELECT id FROM doomed_uploads WHERE id = ANY(${[...only]}::bigint[]) ORDER BY id LIMIT 1 FOR UPDATE`;
      if (doomed === undefined) return undefined;
      const deleted = await tx`
        DELETE FROM upload_chunks WHERE upload_id = ${doomed.id} AND seq IN (
          SELECT seq FROM upload_chunks WHERE upload_id = ${doomed.id} ORDER BY seq DESC LIMIT ${batchChunks})`;
      // No chunk can come after: the trigger refuses one for a row that is gone, and a chunk stored as the
      // row was deleted committed first (the deletion waited for its KEY SHARE lock).
      if (deleted.count < batchChunks) await tx`DELETE FROM doomed_uploads WHERE id = ${doomed.id}`;
      return deleted.count;
    }),
  );

/**
 * One server's sweeper of doomed uploads: runs one pass at a time, each until nothing doomed is left
 * that another server is not sweeping; a pass asked for while one runs runs after it (what was doomed
 * meanwhile is swept too).
 */
export class DoomedUploadSweeper {
  readonly #sql: Sql;
  /** Chunks a batch deletes: the option's, halved each time a batch runs past the statement's time limit. */
  #batchChunks: number;
  /** The option's batch size, which halved batches grow back to (`DOOMED_REGROW_AFTER`). */
  readonly #fullBatchChunks: number;
  /** Full batches in a row that fit the time limit at the size halved to (`DOOMED_REGROW_AFTER`). */
  #fitted = 0;
  readonly #auto: boolean;
  readonly #timer: NodeJS.Timeout | undefined;
  readonly #everyMs: number;
  readonly #onError: ((message: string) => void) | undefined;
  #running: Promise<number> | undefined;
  #queued: Promise<number> | undefined;
  #closed = false;
  /** Background passes failed in a row (0: the last one succeeded). */
  #failures = 0;
  #retry: NodeJS.Timeout | undefined;
  /** The passes a kick already watches the outcome of. */
  readonly #watched = new WeakSet<Promise<number>>();

  constructor(sql: Sql, options: DoomedUploadSweepOptions = {}) {
    this.#sql = sql;
    // A fraction or NaN would fail every pass (LIMIT takes a whole number): a whole number of at least one.
    const batch = Math.floor(options.batchChunks ?? DOOMED_BATCH_CHUNKS);
    this.#batchChunks = Number.isFinite(batch) ? Math.max(1, batch) : DOOMED_BATCH_CHUNKS;
    this.#fullBatchChunks = this.#batchChunks;
    this.#auto = options.auto ?? true;
    this.#everyMs = options.everyMs ?? 60_000;
    this.#onError = options.onError;
    if (this.#auto) {
      this.#timer = setInterval(() => this.kick(), this.#everyMs);
      // A pass in flight is awaited by close(); the timer alone must not keep a stopping process alive.
      this.#timer.unref();
    }
  }

  /**
   * Asks for a pass in the background (if the sweeper is automatic). A failure is told (`onError`) and
   * the pass tried again soon: the bytes it left are counted against `maxStoredUploadBytes` meanwhile, and
   * waiting for the timer left them so for up to `everyMs`, with no word of why.
   */
  kick(): void {
    if (!this.#auto || this.#closed) return;
    const pass = this.sweep();
    // Kicks while a pass waits to run get that pass: its outcome is told once.
    if (this.#watched.has(pass)) return;
    this.#watched.add(pass);
    pass.then(
      () => {
        this.#failures = 0;
      },
      (e: unknown) => {
        this.#failures += 1;
        // A retry already waiting comes sooner (the waits grow): "within" holds for it too.
        const inMs = Math.min(this.#everyMs, DOOMED_RETRY_FIRST_MS * 2 ** Math.min(this.#failures - 1, 20));
        const next = this.#closed ? 'not tried again: the store is closing' : `tried again within ${inMs} ms`;
        if (!this.#closed && this.#retry === undefined) {
          this.#retry = setTimeout(() => {
            this.#retry = undefined;
            this.kick();
          }, inMs);
          // Cleared by close(); it must not keep a stopping process alive meanwhile.
          this.#retry.unref();
        }
        // Last: a listener that throws must not cost the retry.
        this.#onError?.(`the sweep of deleted uploads' chunks failed (their bytes still count; ${next}): ${toIoError(e).message}`);
      },
    );
  }

  /** Runs a pass (after the one running, if any); resolves to the chunks it deleted. */
  sweep(): Promise<number> {
    if (this.#queued !== undefined) return this.#queued;
    const running = this.#running;
    if (running === undefined) return this.#start();
    const queued = running
      .catch(() => 0)
      .then(() => {
        this.#queued = undefined;
        return this.#start();
      });
    this.#queued = queued;
    return queued;
  }

  /** Stops sweeping: the pass running ends after its transaction (the rest is left for any server's next). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    if (this.#retry !== undefined) clearTimeout(this.#retry);
    await Promise.allSettled([this.#running, this.#queued]);
  }

  #start(): Promise<number> {
    const pass = this.#pass().finally(() => {
      if (this.#running === pass) this.#running = undefined;
    });
    this.#running = pass;
    return pass;
  }

  /**
   * Deletes the chunks of the doomed uploads `ids` now, beside the pass running if any (a transaction at a
   * time, waiting for another server's batch on them): for a caller that needs their room at once, as an
   * upload beginning on a full forum needs that of the stale uploads its beginning deleted. Resolves to the
   * chunks it deleted.
   */
  sweepUploads(ids: readonly string[]): Promise<number> {
    return ids.length === 0 ? Promise.resolve(0) : this.#pass(ids);
  }

  /** Batches until none is left of `ids`' doomed uploads (any, without) that another server is not sweeping, or the sweeper closes. */
  async #pass(ids?: readonly string[]): Promise<number> {
    let deleted = 0;
    while (!this.#closed) {
      const n = await this.#batch(ids);
      if (n === undefined) break;
      deleted += n;
    }
    return deleted;
  }

  /**
   * One batch of `ids`' doomed uploads (any, without), in batches half as large from then on if it ran past
   * the statement's time limit: under a `statement_timeout` (the URL's) shorter than a batch takes, every
   * pass failed the same way for good, the bytes counted against `maxStoredUploadBytes` meanwhile. A batch
   * of one chunk that still times out fails the pass (told, tried again later). Halved batches double
   * again after `DOOMED_REGROW_AFTER` full ones in a row fit.
   */
  async #batch(ids?: readonly string[]): Promise<number | undefined> {
    for (;;) {
      const size = this.#batchChunks;
      try {
        const n = await sweepDoomedBatch(this.#sql, size, ids);
        // Only a full batch says the size fits (an upload's last, shorter one took less time).
        if (n === size && size < this.#fullBatchChunks && size === this.#batchChunks && ++this.#fitted >= DOOMED_REGROW_AFTER) {
          this.#fitted = 0;
          this.#batchChunks = Math.min(this.#fullBatchChunks, size * 2);
        }
        return n;
      } catch (e) {
        if (!(e instanceof postgres.PostgresError) || e.code !== QUERY_CANCELED || isCancelledByUser(e) || size === 1 || this.#closed) throw e;
        this.#fitted = 0;
        // A batch beside (`sweepUploads` and a pass) may have halved it already.
        this.#batchChunks = Math.min(this.#batchChunks, Math.floor(size / 2));
      }
    }
  }
}

/**
 * Deletes the upload rows (pending or not) for which `where` (a condition on a row of `uploads`) holds,
 * outside any command's deadline (a clean-up that failed would leave the bytes counted until the next sweep
 * of stale uploads), and resolves to their ids. Their chunks are doomed (schema 8's trigger) and left to the
 * sweeper: as quick for a GiB as for a byte. The rows are locked first in the order of their ids, as the
 * upload leases' heartbeat locks those it renews (postgres-upload-leases.ts): each locked them in its plan's
 * order (the deletion by lease expiry), and a server back from a cut-off renewing its uploads as another
 * deleted them deadlocked with it, one of the two ended after `deadlock_timeout` (1 s). `where` is checked
 * again on a row another transaction changed while this one waited for it: an upload whose lease was renewed
 * meanwhile is not deleted (a condition in a subquery was not, and the live upload was deleted).
 */
export const deleteUploads = async (sql: Sql, where: (sql: Sql) => PendingQuery<Row[]>): Promise<readonly string[]> =>
  outsideCommandDeadline(async () => {
    const rows = await sql<{ id: string }[]>`
      WITH doomed AS (SELECT id FROM uploads WHERE ${where(sql)} ORDER BY id FOR UPDATE)
      DELETE FROM uploads u USING doomed d WHERE u.id = d.id RETURNING u.id::text AS id`;
    return rows.map((r) => r.id);
  });
