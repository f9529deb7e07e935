import * as E from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import { open, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { PRIVATE_FILE_MODE, syncDir, writeFileAtomic } from './atomic-write.js';
import { isEnoent, readFileIfPresent } from './file-errors.js';

/** The journal's file name in the data directory (a dot file: no valid thread or upload name can take it). */
export const JOURNAL_FILE = '.forum-journal';

// Frame: u32 payload length, u32 CRC-32 of the payload, payload. Payload: u32
// length of a JSON header, the header, then raw bytes (a begin record's old tail).
const FRAME_HEADER = 8;

const BeginRecord = t.type({ t: t.literal('begin'), id: t.number, file: t.string, offset: t.number });
const CommitRecord = t.type({ t: t.literal('commit'), id: t.number });
const RecordHeader = t.union([BeginRecord, CommitRecord]);
type RecordHeader = t.TypeOf<typeof RecordHeader>;

/** One decoded journal record: a header and, for `begin`, the bytes the change replaced. */
export interface JournalRecord {
  readonly header: RecordHeader;
  readonly bytes: Buffer;
}

/** Encodes one record as a checksummed, length-prefixed frame. */
export const encodeRecord = (header: RecordHeader, bytes: Uint8Array = Buffer.alloc(0)): Buffer => {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const payload = Buffer.alloc(4 + json.length + bytes.length);
  payload.writeUInt32BE(json.length, 0);
  json.copy(payload, 4);
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).copy(payload, 4 + json.length);
  const frame = Buffer.alloc(FRAME_HEADER);
  frame.writeUInt32BE(payload.length, 0);
  frame.writeUInt32BE(crc32(payload), 4);
  return Buffer.concat([frame, payload]);
};

/**
 * Decodes a journal's bytes: every whole, intact record from the start, up to
 * the first frame that is cut short or fails its checksum or codec (a torn
 * tail: that write never completed, so nothing after it was acted on).
 * `validBytes` says where the intact records end.
 */
export const decodeJournal = (data: Buffer): { readonly records: readonly JournalRecord[]; readonly validBytes: number } => {
  const records: JournalRecord[] = [];
  let at = 0;
  while (at + FRAME_HEADER <= data.length) {
    const length = data.readUInt32BE(at);
    const sum = data.readUInt32BE(at + 4);
    if (length < 4 || at + FRAME_HEADER + length > data.length) break;
    const payload = data.subarray(at + FRAME_HEADER, at + FRAME_HEADER + length);
    if (crc32(payload) !== sum) break;
    const jsonLength = payload.readUInt32BE(0);
    if (4 + jsonLength > payload.length) break;
    let value: unknown;
    try {
      value = JSON.parse(payload.subarray(4, 4 + jsonLength).toString('utf8'));
    } catch {
      break;
    }
    const header = RecordHeader.decode(value);
    if (E.isLeft(header)) break;
    records.push({ header: header.right, bytes: Buffer.from(payload.subarray(4 + jsonLength)) });
    at += FRAME_HEADER + length;
  }
  return { records, validBytes: at };
};

/**
 * Writes `bytes` at `offset` of an open file and cuts the file just after
 * them, unless it was `size` bytes (known) and so ends there already: an
 * append cuts nothing, so one finished late by a server that lost its lock
 * cannot cut off what the server that took over appended meanwhile.
 */
const writeTail = async (h: FileHandle, offset: number, bytes: Uint8Array, size?: number): Promise<void> => {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await h.write(bytes, done, bytes.length - done, offset + done);
    done += bytesWritten;
  }
  if (size === undefined || size > offset + bytes.length) await h.truncate(offset + bytes.length);
};

/**
 * A change refused because its file is not as this store last wrote it:
 * another program changed it (a server that lost its lock finishing a
 * write late, a hand edit). The store may read the file again.
 */
export class ForeignChangeError extends Error {
  readonly code = 'ERR_FOREIGN_CHANGE';
  constructor(message: string) {
    super(`${message}; it was changed by another program`);
    this.name = 'ForeignChangeError';
  }
}

/** Names in `dir` that recovery restored, or found missing (with a reason). */
export interface RecoveryReport {
  /** Files put back as they were before a change that a crash cut short. */
  readonly restored: readonly string[];
  /** Problems: a record naming a file that is gone (it is then skipped). */
  readonly warnings: readonly string[];
}

/**
 * Undoes every change in `dir`'s journal that began and did not commit (newest
 * first), syncs the files, and deletes the journal. Idempotent: a crash during
 * recovery is finished by the next one. A torn tail is dropped silently (it is
 * the record that was being written when the process died; the change it
 * announced had not started).
 */
export const recoverJournal = async (dir: string): Promise<RecoveryReport> => {
  const path = join(dir, JOURNAL_FILE);
  const data = await readFileIfPresent(path);
  if (data === undefined) return { restored: [], warnings: [] };
  const { records } = decodeJournal(data);
  const committed = new Set(records.flatMap((r) => (r.header.t === 'commit' ? [r.header.id] : [])));
  const open_ = records.filter((r) => r.header.t === 'begin' && !committed.has(r.header.id));
  const restored: string[] = [];
  const warnings: string[] = [];
  for (const r of [...open_].reverse()) {
    if (r.header.t !== 'begin') continue;
    const { file, offset } = r.header;
    // Only plain names this store could have written; anything else is not acted on.
    if (file.length === 0 || file.includes('/') || file.includes('\u0000') || file === '.' || file === '..') {
      warnings.push(`${JOURNAL_FILE} names an invalid file ${JSON.stringify(file)}; skipped`);
      continue;
    }
    const current = await readFileIfPresent(join(dir, file));
    if (current === undefined) {
      warnings.push(`${JOURNAL_FILE} has an unfinished change to ${file}, which is missing; skipped`);
      continue;
    }
    // Put back as a new file renamed over the name, not in place: a server frozen mid-change whose lock was
    // taken over (this recovery is the new holder's) still has the old file open, and its write, when it wakes,
    // then lands in a file nobody reads (attack round 9: it landed over the new holder's appended lines).
    const head = current.length >= offset ? current.subarray(0, offset) : Buffer.concat([current, Buffer.alloc(offset - current.length)]);
    // The file keeps its mode (credentials.txt was put back 0644, readable by any local user); one gone since it
    // was read is made owner-only, which never widens it.
    await writeFileAtomic(dir, file, Buffer.concat([head, r.bytes]), PRIVATE_FILE_MODE);
    restored.push(file);
  }
  await unlink(path);
  await syncDir(dir);
  return { restored, warnings };
};

/**
 * Closes the journal `h` and deletes it at `path` if the name still holds
 * it: a server that took the directory over while this one was frozen
 * mid-change recovered (deleted) this journal and may be writing one of its
 * own under the name, which this one's late commit must not delete.
 */
const closeAndDelete = async (h: FileHandle, path: string): Promise<void> => {
  const mine = await h.stat();
  await h.close();
  const there = await stat(path).catch((e: unknown) => {
    if (isEnoent(e)) return undefined;
    throw e;
  });
  if (there !== undefined && there.ino === mine.ino && there.dev === mine.dev) await unlink(path);
};

interface Pending {
  readonly frame: Buffer;
  /** A commit record that may instead delete the journal, when it is the only thing left in it to settle. */
  readonly commit: boolean;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

/** A change to one file that a crash can never leave half done. */
export interface UndoJournal {
  /**
   * Replaces the bytes of `dir/file` from `offset` to its end with `tail`:
   * first the bytes replaced are appended to the journal and synced, then the
   * file is changed and synced, then a commit record is appended and synced
   * (or, when no other change is under way, the journal is deleted and the
   * directory synced, which commits as well).
   * Resolves once all of that is on disk (and, if no other change is under
   * way, the journal deleted). A crash before the commit is undone at the
   * next {@link recoverJournal}; after it, the change stays. Callers serialise
   * changes to one file. `size`, if given, is how long the caller's cache
   * says the file is: a file of another length was changed by someone else
   * (a server that lost its lock finishing a write late, a hand edit), and
   * the change is refused instead of cutting their bytes off.
   */
  replaceTail(file: string, offset: number, tail: Uint8Array, size?: number): Promise<void>;
  /**
   * Set once a change failed in a way that may have left the journal holding
   * an undo of it (its record or its file write failed, or its commit): every
   * later change is refused until {@link UndoJournal.recover} has undone it.
   */
  readonly failure: () => Error | undefined;
  /**
   * After a failed change, undoes what it left as the next open would
   * ({@link recoverJournal}, once the changes under way have settled), and
   * takes changes again; resolves to the error to refuse a change with while
   * that is not done (the recovery failed too: it is tried again at a later
   * call, at most once per {@link UndoJournalOptions.recoverRetryMs}).
   * `replaceTail` calls it itself; a writer of a whole file the journal may
   * hold an undo of calls it first.
   */
  readonly recover: () => Promise<Error | undefined>;
  /** Whether a failed change of `file` may have left an undo of it in the journal, not yet recovered. */
  readonly unsettled: (file: string) => boolean;
}

/** Default of {@link UndoJournalOptions.recoverRetryMs}: a recovery that failed is tried again at most once a second. */
export const RECOVER_RETRY_MS = 1_000;

/**
 * Bytes the journal may hold before a new change waits for it to be deleted
 * ({@link UndoJournalOptions.softLimitBytes}). It is deleted only once no change
 * is under way, so changes that kept overlapping (accounts editing the second
 * half of large threads while others post) kept it growing by every old tail
 * they replaced, outside every disk bound: attack round 15
 * (attack/journal-growth.ts) saw 152 MiB held for 10 s at a time.
 */
export const JOURNAL_SOFT_LIMIT_BYTES = 64 * 1024 * 1024;

/** Options of {@link createUndoJournal}. */
export interface UndoJournalOptions {
  /**
   * Past this many bytes a new change waits until the changes under way have
   * committed and the journal is deleted ({@link JOURNAL_SOFT_LIMIT_BYTES} by
   * default). A record larger than it is still written, into an empty journal.
   */
  readonly softLimitBytes?: number;
  /** Milliseconds now, for {@link UndoJournalOptions.recoverRetryMs}; only differences count. Default `performance.now`. */
  readonly clock?: () => number;
  /** Least milliseconds between two attempts to recover from a failed change ({@link RECOVER_RETRY_MS} by default). */
  readonly recoverRetryMs?: number;
  /** Told what each recovery from a failed change put back (for the log). */
  readonly onRecovered?: (report: RecoveryReport) => void;
}

/**
 * The undo journal of a data directory. Appends from concurrent changes are
 * written and synced together (group commit); the journal file exists only
 * while changes are under way, so an idle directory holds only the spec's files.
 * `owned` is asked after each change's record is synced, just before the file
 * is written: `false` leaves the file as it is (the change is refused).
 */
export const createUndoJournal = (dir: string, owned: () => Promise<boolean> = async () => true, options: UndoJournalOptions = {}): UndoJournal => {
  const path = join(dir, JOURNAL_FILE);
  const softLimit = options.softLimitBytes ?? JOURNAL_SOFT_LIMIT_BYTES;
  let handle: FileHandle | undefined;
  let size = 0;
  // Bytes of the frames appended and not yet written (or dropped): with `size`, what the journal will hold.
  let queuedBytes = 0;
  // Changes waiting for the journal to be deleted (softLimit), woken when it is or when the journal fails.
  let emptied: (() => void)[] = [];
  const wake = (): void => {
    const waiting = emptied;
    emptied = [];
    for (const w of waiting) w();
  };
  /** The journal file is gone (deleted, or never made): what it held is nothing now. */
  const deleted = (): void => {
    size = 0;
    wake();
  };
  let queue: Pending[] = [];
  let writer: Promise<void> | undefined;
  let inFlight = 0;
  let nextId = 1;
  let failed: Error | undefined;
  // Changes that failed undone neither way: their `inFlight` stays raised (the journal, holding their undo, is
  // never deleted as settled) until a recovery undoes them.
  let stuck = 0;
  // Files a failed change may have left an undo of in the journal (its record may be on disk, its commit is not).
  const unsettledFiles = new Set<string>();
  const clock = options.clock ?? (() => performance.now());
  const retryMs = options.recoverRetryMs ?? RECOVER_RETRY_MS;
  let lastAttempt: number | undefined;
  let lastRecoveryError: Error | undefined;
  let recovering: Promise<Error | undefined> | undefined;
  // A recovery waiting for the changes under way to settle (none can begin while `failed` is set).
  let idleWaiters: (() => void)[] = [];
  const settledAll = (): boolean => inFlight === stuck && queue.length === 0 && writer === undefined;
  const checkIdle = (): void => {
    if (idleWaiters.length === 0 || !settledAll()) return;
    const waiting = idleWaiters;
    idleWaiters = [];
    for (const w of waiting) w();
  };

  const flush = async (): Promise<void> => {
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      let batchBytes = batch.reduce((n, p) => n + p.frame.length, 0);
      // Taken off `queuedBytes` once: when written (then counted in `size`), deleted with the journal, or dropped.
      const settled = (): void => {
        queuedBytes -= batchBytes;
        batchBytes = 0;
      };
      try {
        if (batch.length === 1 && batch[0]?.commit === true && inFlight === 0 && handle !== undefined) {
          // The last change under way commits by deleting the journal (made durable by the directory
          // sync) instead of appending a commit record and then deleting it: one page write less.
          const h = handle;
          handle = undefined;
          await closeAndDelete(h, path);
          await syncDir(dir);
          settled();
          deleted();
          batch[0].resolve();
          continue;
        }
        if (handle === undefined) {
          // A journal left by a crash is recovered at open, before any change: one here now is another writer's, a
          // server that lost the directory to this one and woke mid-change (attack round 9: this server then went
          // read-only with EEXIST). While the directory is this one's (`owned`), it is deleted, not acted on: its
          // undo records describe that server's files, which this server's recovery already put back.
          // Owner-only: its records hold the bytes each change replaced, credentials.txt's lines among them.
          handle = await open(path, 'wx', PRIVATE_FILE_MODE).catch(async (e: unknown) => {
            if ((e as { code?: unknown }).code !== 'EEXIST' || !(await owned().catch(() => false))) throw e;
            await unlink(path).catch(() => undefined);
            return open(path, 'wx', PRIVATE_FILE_MODE);
          });
          size = 0;
          // The journal must be findable after a power loss before any file it protects is touched.
          await syncDir(dir);
        }
        const bytes = Buffer.concat(batch.map((p) => p.frame));
        let done = 0;
        while (done < bytes.length) done += (await handle.write(bytes, done, bytes.length - done, size + done)).bytesWritten;
        await handle.datasync();
        size += bytes.length;
        settled();
        if (inFlight === 0 && queue.length === 0) {
          // Every change begun has its commit record on disk: nothing left to undo.
          const h = handle;
          handle = undefined;
          await closeAndDelete(h, path);
          deleted();
        }
        for (const p of batch) p.resolve();
      } catch (e) {
        settled();
        failed ??= e instanceof Error ? e : new Error(String(e));
        wake();
        for (const p of batch) p.reject(e);
      }
    }
  };

  const kick = (): void => {
    if (writer !== undefined || queue.length === 0) return;
    writer = flush().finally(() => {
      writer = undefined;
      // Frames queued after the loop's last look at the queue.
      kick();
      checkIdle();
    });
  };

  const append = (frame: Buffer, commit = false): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      queuedBytes += frame.length;
      queue.push({ frame, commit, resolve, reject });
      kick();
    });

  // Read through a function: it may be set by another change while this one waits.
  const failure = (): Error | undefined => failed;

  const toError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));
  /** The error a change is refused with while `broke` stands. */
  const readOnly = (broke: Error): Error =>
    new Error(
      `the data directory is read-only after an earlier write failed (${broke.message})` +
        (lastRecoveryError === undefined ? '' : `, and undoing it failed too (${lastRecoveryError.message})`) +
        `: tried again at the next change, at most every ${retryMs / 1000} s`,
    );

  /**
   * One attempt to undo what the failed changes left: the open's own recovery, run once no change is under
   * way (none can begin meanwhile: `failed` refuses them, and every writer of a file the journal may hold an
   * undo of asks `recover` first), so the files it puts back are as the store's cache holds them: it updates
   * its cache only for a change that committed.
   */
  const attemptRecovery = async (): Promise<Error | undefined> => {
    const broke = failed;
    if (broke === undefined) return undefined;
    if (lastAttempt !== undefined && clock() - lastAttempt < retryMs) return readOnly(broke);
    // Looked at again once woken: a change that settled queues its commit record right after.
    while (!settledAll()) await new Promise<void>((resolve) => idleWaiters.push(resolve));
    lastAttempt = clock();
    try {
      // The recovery writes files: only while the directory is this store's (a server that lost its lock
      // would put back files the new holder wrote since).
      if (!(await owned())) throw new Error('the data directory is no longer this server\'s');
      if (handle !== undefined) {
        const h = handle;
        handle = undefined;
        await h.close().catch(() => undefined);
      }
      const report = await recoverJournal(dir);
      inFlight -= stuck;
      stuck = 0;
      unsettledFiles.clear();
      failed = undefined;
      lastRecoveryError = undefined;
      lastAttempt = undefined;
      deleted();
      options.onRecovered?.(report);
      return undefined;
    } catch (e) {
      lastRecoveryError = toError(e);
      return readOnly(broke);
    }
  };

  const recover = (): Promise<Error | undefined> => {
    if (failed === undefined) return Promise.resolve(undefined);
    // One at a time: the changes refused meanwhile share its answer.
    recovering ??= attemptRecovery().finally(() => {
      recovering = undefined;
    });
    return recovering;
  };

  /** Whether a begin record of `bytes` may go into the journal now: it fits under the limit, or the journal is empty. */
  const fits = (bytes: number): boolean => {
    const held = size + queuedBytes;
    return held === 0 || held + bytes <= softLimit;
  };

  const replaceTail = async (file: string, offset: number, tail: Uint8Array, size?: number): Promise<void> => {
    const refused = await recover();
    if (refused !== undefined) throw refused;
    const h = await open(join(dir, file), 'r+');
    try {
      const { size: oldSize } = await h.stat();
      if (offset > oldSize) throw new ForeignChangeError(`${file} is ${oldSize} bytes, shorter than the store expected (${offset})`);
      // Longer than this store wrote it: another writer appended (attack round 9: a server frozen past its
      // lock's takeover finished its append late, and the new holder's next append cut it off, or the
      // reverse). Refused: their bytes stay, and the restart that reloads the file serves them.
      if (size !== undefined && oldSize !== size) throw new ForeignChangeError(`${file} is ${oldSize} bytes, not the ${size} this server wrote`);
      const old = Buffer.alloc(oldSize - offset);
      let got = 0;
      while (got < old.length) {
        const { bytesRead } = await h.read(old, got, old.length - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      const id = nextId++;
      const begin = encodeRecord({ t: 'begin', id, file, offset }, old.subarray(0, got));
      // Past its limit the journal is let empty first: the changes under way commit (they wait for nothing
      // new) and it is deleted. Checked and appended with no await between, so waiters woken together
      // take the room one after another.
      while (failure() === undefined && !fits(begin.length)) await new Promise<void>((resolve) => emptied.push(resolve));
      const broke = failure();
      if (broke !== undefined) throw readOnly(broke);
      inFlight++;
      let outcome: 'changed' | 'restored' | 'stuck' = 'stuck';
      let error: unknown;
      try {
        await append(begin);
        // The record's sync is where a server frozen mid-change (SIGSTOP, a paused container) most likely
        // stopped; if another writer changed the file meanwhile (the server that took the directory over,
        // its recovery and its appends), it is left as it is: nothing was written, so nothing to put back.
        // The directory asked about then too (`owned`: the lock, read now): its new holder may not have written
        // this file yet, and would append at the same offset as this change (attack round 9, fence-takeover.ts
        // with A9_B_BUSY: lines of both cut into each other).
        // A lock that could not be read (EMFILE, EIO) is not a lock lost: its own error says which.
        const ours = await owned().catch((e: unknown) => toError(e));
        const { size: now } = await h.stat();
        if (ours instanceof Error) {
          error = new Error(`${file} was not changed: ${ours.message}`);
          outcome = 'restored';
        } else if (!ours) {
          error = new Error(`${file} was not changed: the data directory is no longer this server's`);
          outcome = 'restored';
        } else if (now !== oldSize) {
          error = new ForeignChangeError(`${file} changed from ${oldSize} to ${now} bytes while this server was changing it`);
          outcome = 'restored';
        } else try {
          await writeTail(h, offset, tail, oldSize);
          await h.sync();
          outcome = 'changed';
        } catch (e) {
          error = e;
          // Put the file back now if possible; if not, the record stays for the next open to undo.
          try {
            await writeTail(h, offset, old.subarray(0, got));
            await h.sync();
            outcome = 'restored';
          } catch {
            // Stuck: handled below.
          }
        }
      } catch (e) {
        error = e;
      }
      if (outcome === 'stuck') {
        // inFlight stays raised: the journal, with its record of what to undo, is never deleted until recovered.
        stuck++;
        unsettledFiles.add(file);
        failed ??= new Error(`a change to ${file} could neither be made nor undone`);
        wake();
        checkIdle();
        throw error;
      }
      // Its commit record is queued at once (the writer's end wakes a recovery waiting for it).
      inFlight--;
      // A restored file needs no undo either: one commit record covers both outcomes.
      try {
        await append(encodeRecord({ t: 'commit', id }), true);
      } catch (e) {
        // The record of the change stays uncommitted (the journal failed: `failed` is set): recovery undoes it.
        unsettledFiles.add(file);
        throw e;
      }
      if (outcome === 'restored') throw error;
    } finally {
      await h.close();
    }
  };

  return { replaceTail, failure, recover, unsettled: (file) => unsettledFiles.has(file) };
};
