import * as E from 'fp-ts/lib/Either.js';
import type * as TE from 'fp-ts/lib/TaskEither.js';
import { Readable, Writable } from 'node:stream';
import type { Sql } from 'postgres';
import { toIoError } from './errors.js';
import { lockThreadSize, writeThreadSize } from './postgres-thread-size.js';
import type { Download, UploadError, UploadWriter } from './store.js';
import { threadGrowthGuard } from './thread-growth.js';
import { appendedSize } from './thread-size.js';
import type { ThreadEntry } from './thread.js';

/** Bytes per stored chunk: big enough that a query per chunk is cheap, small enough that a server holds little per transfer. */
export const UPLOAD_CHUNK_BYTES = 256 * 1024;

/** Who uploads what. */
export interface UploadTarget {
  readonly title: string;
  readonly filename: string;
  readonly uploader: string;
}

/**
 * Starts a pending upload row and returns its writer: bytes are gathered up
 * to {@link UPLOAD_CHUNK_BYTES} and each full chunk is inserted before the
 * stream accepts more (backpressure), so at most one chunk is in memory.
 * `commit` makes the upload visible and appends `U uploaded F` to the thread
 * in one transaction, under the thread's lock, if the thread can take the
 * line (thread-growth.ts; else it deletes the row, as `abort` does); `abort`
 * deletes the row and its chunks.
 */
export const postgresUploadWriter = async (sql: Sql, target: UploadTarget): Promise<UploadWriter> => {
  const { title, filename, uploader } = target;
  const line: ThreadEntry = { kind: 'upload', uploader, filename };
  const inserted = await sql<{ id: string }[]>`INSERT INTO uploads (thread, filename, uploader) VALUES (${title}, ${filename}, ${uploader}) RETURNING id`;
  const id = inserted[0]?.id;
  if (id === undefined) throw new Error('no id for the new upload');
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
      await sql`INSERT INTO upload_chunks (upload_id, seq, data) VALUES (${id}, ${n}, ${data})`;
      await sql`UPDATE uploads SET touched_at = now() WHERE id = ${id}`;
    }
  };
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      total += chunk.length;
      if (pendingBytes < UPLOAD_CHUNK_BYTES) return callback();
      flush(false).then(() => callback(), (e: unknown) => callback(e instanceof Error ? e : new Error(String(e))));
    },
    final(callback) {
      flush(true).then(() => callback(), (e: unknown) => callback(e instanceof Error ? e : new Error(String(e))));
    },
  });
  // Errors surface through commit(); a listener keeps them from crashing the process.
  stream.on('error', () => undefined);
  const finished = new Promise<Error | null>((resolve) => {
    stream.once('finish', () => resolve(null));
    stream.once('close', () => resolve(stream.errored ?? new Error('upload was aborted')));
  });
  let aborted = false;
  const discard = async (): Promise<void> => {
    await sql`DELETE FROM uploads WHERE id = ${id} AND NOT committed`.catch(() => undefined);
  };

  const commit: TE.TaskEither<UploadError, void> = async () => {
    if (aborted) return E.left({ kind: 'io', message: 'upload was aborted' });
    if (!stream.writableEnded) stream.end();
    const err = await finished;
    if (err !== null) {
      await discard();
      return E.left(toIoError(err));
    }
    try {
      return await sql.begin(async (tx): Promise<E.Either<UploadError, void>> => {
        const size = await lockThreadSize(tx, title);
        if (size === undefined) return E.left({ kind: 'noThread', title });
        const taken = await tx`SELECT 1 FROM uploads WHERE thread = ${title} AND filename = ${filename} AND committed`;
        if (taken.length > 0) {
          await tx`DELETE FROM uploads WHERE id = ${id}`;
          return E.left({ kind: 'fileExists', title, filename });
        }
        // Under the row's lock, which every MSG takes too: concurrent MSGs and uploads are checked one after another.
        const after = appendedSize(size, line);
        const full = threadGrowthGuard(title)(after);
        if (E.isLeft(full)) {
          // Committed with the refusal (the transaction returns normally): its chunks go with the row.
          await tx`DELETE FROM uploads WHERE id = ${id}`;
          return full;
        }
        const mine = await tx`UPDATE uploads SET committed = true, size = ${total}, touched_at = now() WHERE id = ${id} RETURNING id`;
        // The thread was removed (taking this pending upload with it) and made again meanwhile.
        if (mine.length === 0) return E.left({ kind: 'io', message: 'the thread was removed during the upload' });
        const last = await tx<{ last: string }[]>`SELECT COALESCE(MAX(pos), 0) AS last FROM entries WHERE thread = ${title}`;
        const pos = Number(last[0]?.last ?? 0) + 1;
        await tx`INSERT INTO entries (thread, pos, kind, author, body) VALUES (${title}, ${pos}, 'upload', ${uploader}, ${filename})`;
        await writeThreadSize(tx, title, after);
        return E.right(undefined);
      });
    } catch (e) {
      await discard();
      return E.left(toIoError(e));
    }
  };

  const abort = async (): Promise<void> => {
    aborted = true;
    pending = [];
    stream.destroy();
    await discard();
  };
  return { stream, commit, abort };
};

/**
 * Reads a committed upload chunk by chunk, one query per chunk as the reader
 * asks for more: no connection is held between chunks, so a slow reader
 * costs nothing but its place. Fails if the upload is removed meanwhile.
 */
export const postgresDownload = (sql: Sql, id: string, size: number): Download => {
  let seq = 0;
  let sent = 0;
  const stream = new Readable({
    read() {
      if (sent >= size) return void this.push(null);
      const n = seq++;
      sql<{ data: Buffer }[]>`SELECT data FROM upload_chunks WHERE upload_id = ${id} AND seq = ${n}`.then(
        (rows) => {
          const data = rows[0]?.data;
          if (data === undefined || sent + data.length > size) return void this.destroy(new Error('the upload was removed while it was being read'));
          sent += data.length;
          this.push(data);
          if (sent >= size) this.push(null);
        },
        (e: unknown) => this.destroy(e instanceof Error ? e : new Error(String(e))),
      );
    },
  });
  return { stream, size };
};
