import * as E from 'fp-ts/lib/Either.js';
import type * as TE from 'fp-ts/lib/TaskEither.js';
import { join } from 'node:path';
import { PUBLIC_FILE_MODE, writeFileAtomic } from './atomic-write.js';
import { entryShare, shareChange, type Share } from './account-shares.js';
import { readThreadFile } from './file-store-load.js';
import { ForeignChangeError } from './undo-journal.js';
import { toIoError, type StoreError } from '../store/errors.js';
import { noThread, unstorable, type FileStoreContext } from './file-store-context.js';
import { createBatcher } from '../concurrency/group-commit.js';
import type { ThreadUpdate, UploadError } from '../store/store.js';
import { locateChange, writtenBytes, type StoredThread } from '../store/thread-change.js';
import { appendGuarded, threadGrowthGuard } from '../store/thread-growth.js';
import { formatEntriesFrom, formatThreadFile, sameUploadLines, threadStoreProblem, type Thread, type ThreadEntry } from '../store/thread.js';
import { levelPassed } from '../store/origin-shares.js';

/** How to write a thread change: replace the file's bytes from `offset` on with `tail`, or (`offset` undefined) write the whole file. */
export interface ThreadWrite {
  /** How long the file is before the write, as the store last wrote or read it (a file of another length is not written). */
  readonly before: number;
  readonly stored: StoredThread;
  readonly offset: number | undefined;
  readonly tail: Buffer;
}

/** How the file store changes threads: plans checked against its limits, written through the undo journal. */
export interface ThreadWrites {
  /** Writes `plan` to `title`'s file (the caller holds the thread's lock). */
  readonly applyThreadWrite: (title: string, plan: ThreadWrite) => Promise<void>;
  /** The write that appends upload line `line` to the stored thread `cur`, if the thread may take it. */
  readonly planUploadLine: (cur: StoredThread, line: ThreadEntry) => E.Either<UploadError, ThreadWrite>;
  /** Applies `update` to thread `title`, batched with concurrent updates of it; `actor` is charged the write. */
  readonly updateThread: <Err, A>(title: string, update: ThreadUpdate<Err, A>, actor?: string) => TE.TaskEither<StoreError | Err, A>;
}

/** The thread writes of the file store whose shared state is `ctx`. */
export const fileStoreThreadWrites = (ctx: FileStoreContext): ThreadWrites => {
  const { dir, mutex, journal, contents } = ctx;

  /**
   * Plans writing `next` over the stored thread `cur`: from the first entry
   * that differs on (an append for MSG), or the whole file (`offset`
   * undefined) for a hand-written one or a change from early in a large one.
   * Refuses what would not read back the same.
   */
  const planThreadWrite = (cur: StoredThread, next: Thread, change = locateChange(cur, next)): E.Either<StoreError, ThreadWrite | undefined> => {
    const title = cur.thread.title;
    if (next.title !== title) return E.left(unstorable('a thread update may not change its title'));
    if (change === undefined) return E.right(undefined);
    const { from, offset } = change;
    const before = cur.thread.entries;
    // A file the store wrote (canonical) reads back entry by entry: only entries new to it need checking.
    // Any other is written whole, so every entry is checked (a line it kept could otherwise read back changed).
    const problem = cur.canonical && !change.creatorChanged ? threadStoreProblem(next, from, from < before.length ? new Set(before) : undefined) : threadStoreProblem(next);
    if (problem !== undefined) return E.left(unstorable(problem));
    const tail = Buffer.from(offset === undefined ? formatThreadFile(next) : formatEntriesFrom(next, from), 'utf8');
    const bytes = (offset ?? 0) + tail.length;
    // A bigger file would not be read back as a thread (maxThreadFileBytes).
    if (bytes > ctx.maxThreadFileBytes) return E.left(unstorable(`thread ${title} would be larger than ${ctx.maxThreadFileBytes} bytes`));
    return E.right({ before: cur.bytes, stored: { thread: next, bytes, canonical: true }, offset, tail });
  };

  const applyThreadWrite = (title: string, plan: ThreadWrite): Promise<void> => ctx.disk.run(() => writeThread(title, plan));

  const writeThread = async (title: string, plan: ThreadWrite): Promise<void> => {
    if (plan.offset === undefined) {
      // After a failed write the journal may hold an undo of this file: a file renamed over it before that is
      // recovered would be cut by it. The journal refuses its own writes until then; this path must too.
      const refused = await journal.recover();
      if (refused !== undefined) throw refused;
      // Asked just before, as the journal asks for a change in place (FileStoreOptions.owned); a lock that
      // could not be read refuses the write with its own error, not as a lock lost.
      if (!(await ctx.owned())) throw new Error(`${title} was not changed: the data directory is no longer this server's`);
      await writeFileAtomic(dir, title, plan.tail, PUBLIC_FILE_MODE);
    }
    else await journal.replaceTail(title, plan.offset, plan.tail, plan.before);
  };

  /**
   * Why `account`'s lines growing by `growth` (only what grows is checked) would pass what the accounts of
   * its origin, or of its origin's /56 or /48, may hold together (store/origin-shares.ts), or `undefined`:
   * no origin, no bound, or it fits. The levels' counts hold the growth of changes being written, as each
   * account's does.
   */
  const overOriginShare = (account: string, growth: Share): StoreError | undefined => {
    const levels = contents.levels.get(account);
    if (levels === undefined) return undefined;
    const { threadBytes, threadLines } = ctx.originLimits;
    const bytes = levelPassed(levels, (key) => contents.shares.ofLevel(key).bytes, growth.bytes, threadBytes);
    if (bytes !== undefined) return { kind: 'threadStorageFull', limit: bytes.limit, who: 'origin', ...(bytes.network ? { network: true } : {}) };
    const lines = levelPassed(levels, (key) => contents.shares.ofLevel(key).lines, growth.lines, threadLines);
    if (lines !== undefined) return { kind: 'threadStorageFull', limit: lines.limit, unit: 'lines', who: 'origin', ...(lines.network ? { network: true } : {}) };
    return undefined;
  };

  /**
   * The write that appends upload line `line` to the stored thread `cur`, if
   * the thread may take it: the lines and reply size every append obeys
   * (thread-growth.ts, as MSG), and the bytes all threads may hold, as a MSG
   * batch counts them. Only plans: the caller holds the thread's lock to write.
   */
  const planUploadLine = (cur: StoredThread, line: ThreadEntry): E.Either<UploadError, ThreadWrite> => {
    const next = appendGuarded(cur.thread, line, threadGrowthGuard(cur.thread.title));
    if (E.isLeft(next)) return next;
    const plan = planThreadWrite(cur, next.right);
    if (E.isLeft(plan)) return plan;
    if (plan.right === undefined) return E.left({ kind: 'io', message: 'the upload line was not added' });
    const growth = plan.right.stored.bytes - cur.bytes;
    if (growth > 0 && contents.threadBytes + growth > ctx.maxThreadBytes) return E.left({ kind: 'threadStorageFull', limit: ctx.maxThreadBytes });
    if (contents.threadLines + 1 > ctx.maxThreadLines) return E.left({ kind: 'threadStorageFull', limit: ctx.maxThreadLines, unit: 'lines' });
    // The uploader's share (account-shares.ts), as a MSG's line counts for its author.
    const share = entryShare(line);
    if (share !== undefined) {
      const held = contents.shares.of(share.account);
      if (held.bytes + share.bytes > ctx.maxUserThreadBytes) return E.left({ kind: 'threadStorageFull', limit: ctx.maxUserThreadBytes, who: 'account' });
      if (held.lines + 1 > ctx.maxUserThreadLines) return E.left({ kind: 'threadStorageFull', limit: ctx.maxUserThreadLines, unit: 'lines', who: 'account' });
      const refused = overOriginShare(share.account, { lines: 1, bytes: share.bytes });
      if (refused !== undefined) return E.left(refused);
    }
    return E.right(plan.right);
  };


  /** A thread update waiting for the next batch (its error and result types erased; {@link updateThread} restores them). */
  interface ThreadJob {
    readonly update: ThreadUpdate<unknown, unknown>;
    /** The account charged for the write, if any. */
    readonly actor: string | undefined;
    readonly settle: (r: E.Either<unknown, unknown>) => void;
  }

  // Concurrent updates of one thread (many users posting to it) are applied in
  // order in memory, each checked on its own, then written together: one write
  // from the first line any of them changed, one journal record, one sync.
  const threadBatches = createBatcher<ThreadJob>(mutex, async (title, jobs) => {
    const original = contents.threads.get(title);
    if (original === undefined) {
      for (const job of jobs) job.settle(E.left(noThread(title)));
      return;
    }
    let cur = original;
    // What this batch added to `contents.threadBytes` and `threadLines` before its write: its growth so far, never
    // less than none. A shrink (DLT, a shorter EDT) is given back only once written: given back at once, another
    // thread's batch took the room while the write was under way, and a write that then failed took the count back
    // past the limit (a DLT's line failing behind a MSG elsewhere: 21 lines held under a limit of 20).
    let heldBytes = 0;
    let heldLines = 0;
    // Per account, as the two counts above: the batch's change of its share so far, and the growth of it held.
    const shareSum = new Map<string, Share>();
    const shareHeld = new Map<string, Share>();
    const heldOf = (account: string): Share => shareHeld.get(account) ?? { lines: 0, bytes: 0 };
    const grown = (account: string, step: Share | undefined): Share => {
      const sum = shareSum.get(account) ?? { lines: 0, bytes: 0 };
      return { lines: Math.max(0, sum.lines + (step?.lines ?? 0)), bytes: Math.max(0, sum.bytes + (step?.bytes ?? 0)) };
    };
    const overShare = (actor: string, step: ReadonlyMap<string, Share>): StoreError | undefined => {
      const next = grown(actor, step.get(actor));
      const held = heldOf(actor);
      const now = contents.shares.of(actor);
      if (next.bytes > held.bytes && now.bytes + next.bytes - held.bytes > ctx.maxUserThreadBytes) return { kind: 'threadStorageFull', limit: ctx.maxUserThreadBytes, who: 'account' };
      if (next.lines > held.lines && now.lines + next.lines - held.lines > ctx.maxUserThreadLines) return { kind: 'threadStorageFull', limit: ctx.maxUserThreadLines, unit: 'lines', who: 'account' };
      return overOriginShare(actor, { lines: next.lines - held.lines, bytes: next.bytes - held.bytes });
    };
    const holdShares = (step: ReadonlyMap<string, Share>): void => {
      for (const [account, s] of step) {
        const next = grown(account, s);
        const held = heldOf(account);
        contents.shares.add(account, { lines: next.lines - held.lines, bytes: next.bytes - held.bytes });
        shareHeld.set(account, next);
        const sum = shareSum.get(account) ?? { lines: 0, bytes: 0 };
        shareSum.set(account, { lines: sum.lines + s.lines, bytes: sum.bytes + s.bytes });
      }
    };
    const accepted: { readonly job: ThreadJob; readonly result: unknown }[] = [];
    // The plan of the first change accepted, made from `original`: alone in its batch (the usual case),
    // it is the batch's plan, and a change of a large thread is formatted once, not twice.
    let firstPlan: ThreadWrite | undefined;
    for (const job of jobs) {
      const out = job.update(cur.thread);
      if (E.isLeft(out)) {
        job.settle(out);
        continue;
      }
      // Upload lines say which files are uploads: only UPD and RMV may change them, with the files.
      if (!sameUploadLines(cur.thread, out.right.thread)) {
        job.settle(E.left(unstorable('a thread update may not add, remove or change upload lines')));
        continue;
      }
      // Charged what this change alone would rewrite (a batch writes once, but each change could have come alone).
      // Found before the change is formatted, so a refusal costs little more than finding where it starts.
      const change = locateChange(cur, out.right.thread);
      const bytes = change === undefined ? 0 : writtenBytes(cur, change.offset);
      const refused = ctx.charge(job.actor, bytes);
      if (refused !== undefined) {
        job.settle(E.left(refused));
        continue;
      }
      const step = planThreadWrite(cur, out.right.thread, change);
      if (E.isLeft(step)) {
        job.settle(step);
        continue;
      }
      const bytesHeld = Math.max(0, (step.right?.stored.bytes ?? cur.bytes) - original.bytes);
      if (bytesHeld > heldBytes && contents.threadBytes + bytesHeld - heldBytes > ctx.maxThreadBytes) {
        job.settle(E.left({ kind: 'threadStorageFull', limit: ctx.maxThreadBytes } satisfies StoreError));
        continue;
      }
      // Lines cost memory apart from their bytes: one-character MSGs filled maxThreadBytes with 9 times its memory.
      const linesHeld = Math.max(0, out.right.thread.entries.length - original.thread.entries.length);
      if (linesHeld > heldLines && contents.threadLines + linesHeld - heldLines > ctx.maxThreadLines) {
        job.settle(E.left({ kind: 'threadStorageFull', limit: ctx.maxThreadLines, unit: 'lines' } satisfies StoreError));
        continue;
      }
      // The asking account's share (account-shares.ts): counted from the first entry the change touches.
      const shareStep = change === undefined ? new Map<string, Share>() : shareChange(cur.thread.entries, out.right.thread.entries, change.from);
      const shareRefusal = job.actor === undefined ? undefined : overShare(job.actor, shareStep);
      if (shareRefusal !== undefined) {
        job.settle(E.left(shareRefusal));
        continue;
      }
      holdShares(shareStep);
      contents.threadBytes += bytesHeld - heldBytes;
      contents.threadLines += linesHeld - heldLines;
      heldBytes = bytesHeld;
      heldLines = linesHeld;
      if (accepted.length === 0) firstPlan = step.right;
      // Until written, the thread keeps its file's flag: a hand-written file's later jobs are checked whole too.
      cur = step.right === undefined ? { ...cur, thread: out.right.thread } : { ...step.right.stored, canonical: cur.canonical };
      accepted.push({ job, result: out.right.result });
    }
    try {
      const plan = accepted.length === 1 ? E.right(firstPlan) : planThreadWrite(original, cur.thread);
      if (E.isLeft(plan)) throw new Error(plan.left.kind === 'io' ? plan.left.message : 'thread vanished');
      if (plan.right !== undefined) await applyThreadWrite(title, plan.right);
      const written = plan.right?.stored ?? { ...original, thread: cur.thread };
      // The counts held this batch's growth already: corrected to what was written, a shrink given back now.
      contents.threadBytes += written.bytes - original.bytes - heldBytes;
      contents.threadLines += written.thread.entries.length - original.thread.entries.length - heldLines;
      // Each account's share likewise: its growth held already, a shrink given back now.
      for (const [account, sum] of shareSum) {
        const held = heldOf(account);
        contents.shares.add(account, { lines: sum.lines - held.lines, bytes: sum.bytes - held.bytes });
      }
      contents.threads.set(title, written);
    } catch (e) {
      contents.threadBytes -= heldBytes;
      contents.threadLines -= heldLines;
      for (const [account, held] of shareHeld) contents.shares.add(account, { lines: -held.lines, bytes: -held.bytes });
      // Changed by another program (attack round 9: a server frozen past its lock's takeover finished a write
      // late): read again, so that the next change of it goes ahead instead of every one being refused until a
      // restart. Only if its upload lines are the same (those name files the name index counts), and only if the
      // caller says the directory is still its own (owned: a server frozen past its lock's takeover read
      // the new holder's file again and appended to it, formatted as one of its own, attack round 9).
      if (e instanceof ForeignChangeError && (await ctx.owned().catch(() => false))) {
        const again = await readThreadFile(join(dir, title), title, ctx.maxThreadFileBytes).catch(() => 'unreadable');
        if (typeof again !== 'string' && sameUploadLines(again.thread, original.thread) && contents.threads.get(title) === original) {
          contents.threadBytes += again.bytes - original.bytes;
          contents.threadLines += again.thread.entries.length - original.thread.entries.length;
          contents.shares.addEntries(original.thread.entries, -1);
          contents.shares.addEntries(again.thread.entries, 1);
          contents.threads.set(title, again);
        }
      }
      for (const a of accepted) a.job.settle(E.left(toIoError(e)));
      return;
    }
    for (const a of accepted) a.job.settle(E.right(a.result));
  });

  const updateThread = <Err, A>(title: string, update: ThreadUpdate<Err, A>, actor?: string): TE.TaskEither<StoreError | Err, A> => () => {
    // Not queued behind a write the disk does not answer (disk-watch.ts).
    const stalled = ctx.disk.stalled();
    if (stalled !== undefined) return Promise.resolve(E.left(stalled));
    return new Promise<E.Either<StoreError | Err, A>>((resolve) =>
      // The batch only passes back what `update` returned (Err, A) or a StoreError.
      threadBatches.add(title, { update, actor, settle: resolve as (r: E.Either<unknown, unknown>) => void }),
    );
  };

  return { applyThreadWrite, planUploadLine, updateThread };
};
