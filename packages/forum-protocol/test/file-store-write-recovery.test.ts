/**
 * A write of the data-directory store that fails for a passing cause: out of
 * descriptors (EMFILE) when the journal is opened, a full disk (ENOSPC)
 * under a thread file's append and its undo, a journal whose commit record
 * cannot be synced. Before, one such failure turned the store read-only
 * until a restart (attack round 18: under `ulimit -n 48`, 1,036 of 1,083
 * MSGs refused after the first EMFILE; on a full disk, MSGs to the threads
 * whose write failed stayed refused after RMV made room). Now the change
 * fails alone, and the next one undoes what it left as the next open would,
 * or, while that fails too, is refused and tries again at most once a second.
 */
import * as E from 'fp-ts/lib/Either.js';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { JOURNAL_FILE } from '../src/file-store/undo-journal.js';
import { openFileStore, type ForumStore } from '../src/index.js';
import { lines, run } from './helpers.js';

/** Faults of the next file operations, by what they touch (counts: how many more fail). */
const faults = vi.hoisted(() => ({
  /** Opening the journal fails with EMFILE. */
  journalOpen: 0,
  /** Every write to thread file `T` (the change) fails with ENOSPC, and its truncation (its undo in place) with EIO, while set. */
  threadWrites: false,
  /** The journal's syncs to let pass before the next one fails with EIO (`undefined`: none fails). */
  journalSyncsBeforeFailure: undefined as number | undefined,
  /** Creating a temporary file (a whole-file write, the recovery's put-back) fails with ENOSPC while set. */
  tempFiles: false,
  /** While set, the next sync of thread file `U` waits for `release` (`reached` resolves when it starts waiting). */
  holdU: undefined as { readonly gate: Promise<void>; readonly reached: () => void } | undefined,
}));
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const fail = (code: string, path: string): Promise<never> => Promise.reject(Object.assign(new Error(`${code}: injected, ${path}`), { code }));
  return {
    ...fs,
    open: async (...args: Parameters<typeof fs.open>): Promise<FileHandle> => {
      const path = String(args[0]);
      const name = basename(path);
      if (name === JOURNAL_FILE && faults.journalOpen > 0) {
        faults.journalOpen--;
        return fail('EMFILE', path);
      }
      if (name.startsWith('.forum-tmp-') && faults.tempFiles) return fail('ENOSPC', path);
      const h = await fs.open(...args);
      if (name === JOURNAL_FILE) {
        const datasync = h.datasync.bind(h);
        h.datasync = async () => {
          if (faults.journalSyncsBeforeFailure !== undefined && faults.journalSyncsBeforeFailure-- === 0) {
            faults.journalSyncsBeforeFailure = undefined;
            return fail('EIO', path);
          }
          return datasync();
        };
      }
      if (name === 'U' && args[1] === 'r+') {
        const sync = h.sync.bind(h);
        h.sync = async () => {
          const hold = faults.holdU;
          faults.holdU = undefined;
          if (hold !== undefined) {
            hold.reached();
            await hold.gate;
          }
          return sync();
        };
      }
      if (name === 'T' && args[1] === 'r+') {
        const write = h.write.bind(h) as (...a: unknown[]) => Promise<{ bytesWritten: number }>;
        const truncate = h.truncate.bind(h);
        (h as { write: unknown }).write = (...a: unknown[]) => (faults.threadWrites ? fail('ENOSPC', path) : write(...a));
        h.truncate = (len?: number) => (faults.threadWrites ? fail('EIO', path) : truncate(len));
      }
      return h;
    },
  };
});

const REFUSED = ['The server could not complete the command, please try again'];

/** A store over a fresh directory whose clock the test moves, and what it told the log. */
const openStore = async (): Promise<{ readonly s: ForumStore; readonly dir: string; readonly clock: { now: number }; readonly warned: string[] }> => {
  const dir = mkdtempSync(join(tmpdir(), 'forum-write-recovery-'));
  const clock = { now: 0 };
  const warned: string[] = [];
  const opened = await openFileStore(dir, { clock: () => clock.now, onWarning: (w) => warned.push(w), writeBudget: false })();
  if (E.isLeft(opened)) throw new Error(opened.left.message);
  return { s: opened.right, dir, clock, warned };
};

/** The `io` message a MSG to `title` is refused with, or `undefined` if it was posted. */
const msgError = async (s: ForumStore, title: string, text: string): Promise<string | undefined> => {
  const r = await s.appendEntry(title, { kind: 'message', author: 'ann', text }, () => E.right(undefined), 'ann')();
  return E.isLeft(r) ? (r.left as { message?: string }).message ?? r.left.kind : undefined;
};

describe('the data-directory store after a failed write', () => {
  it('fails only the change whose journal could not be opened (EMFILE): the next MSG and account go through', async () => {
    const { s, dir } = await openStore();
    expect(await lines(run(s, 'ann', 'CRT T'))).toEqual(['Thread T created']);
    expect(await lines(run(s, 'ann', 'MSG T one'))).toEqual(['Message posted to T thread']);
    faults.journalOpen = 1;
    expect(await lines(run(s, 'ann', 'MSG T lost'))).toEqual(REFUSED);
    // Before: "the data directory is read-only after an earlier write failed (EMFILE…); restart the server".
    expect(await lines(run(s, 'ann', 'MSG T two'))).toEqual(['Message posted to T thread']);
    expect(E.isRight(await s.createAccount({ username: 'bob', password: 'pw' })())).toBe(true);
    expect(await lines(run(s, 'bob', 'MSG T three'))).toEqual(['Message posted to T thread']);
    expect(readFileSync(join(dir, 'T'), 'utf8')).toBe('ann\n1 ann: one\n2 ann: two\n3 bob: three\n');
    expect(existsSync(join(dir, JOURNAL_FILE))).toBe(false);
  });

  it('under concurrent MSGs to many threads, a failure fails only the changes it touched; every one answered done is on disk, and the next round all goes through', async () => {
    const { s, dir } = await openStore();
    const titles = Array.from({ length: 12 }, (_, i) => `t${i}`);
    for (const t of titles) expect(await lines(run(s, 'ann', `CRT ${t}`))).toEqual([`Thread ${t} created`]);
    // The journal cannot be opened for the first batch of records; the changes asked meanwhile either fail with
    // it or wait for the changes under way to settle and the recovery, instead of being refused for good.
    faults.journalOpen = 1;
    const rounds = await Promise.all(['first', 'second'].map((text) => Promise.all(titles.map((t) => lines(run(s, 'ann', `MSG ${t} ${text}`))))));
    expect(rounds.flat()).toContainEqual(REFUSED);
    const third = await Promise.all(titles.map((t) => lines(run(s, 'ann', `MSG ${t} third`))));
    expect(third).toEqual(titles.map((t) => [`Message posted to ${t} thread`]));
    titles.forEach((t, i) => {
      const posted = ['first', 'second'].filter((_, r) => rounds[r]?.[i]?.[0] === `Message posted to ${t} thread`);
      expect(readFileSync(join(dir, t), 'utf8')).toBe(`ann\n${[...posted, 'third'].map((text, n) => `${n + 1} ann: ${text}\n`).join('')}`);
    });
    expect(existsSync(join(dir, JOURNAL_FILE))).toBe(false);
  });

  it('the recovery waits for a change under way when the failure came, which is answered done and stays', async () => {
    const { s, dir } = await openStore();
    expect(await lines(run(s, 'ann', 'CRT T'))).toEqual(['Thread T created']);
    expect(await lines(run(s, 'ann', 'CRT U'))).toEqual(['Thread U created']);
    let release = (): void => {};
    let reached = (): void => {};
    const atSync = new Promise<void>((r) => (reached = r));
    faults.holdU = { gate: new Promise<void>((r) => (release = r)), reached };
    // A MSG to U under way (its file written, its sync held) while a MSG to T fails half done.
    const onU = msgError(s, 'U', 'kept');
    await atSync;
    faults.threadWrites = true;
    expect(await lines(run(s, 'ann', 'MSG T lost'))).toEqual(REFUSED);
    faults.threadWrites = false;
    // The next MSG to T waits for the recovery, which waits for U's change to settle (an undo of T now would
    // be run beside it, and deleting the journal would drop U's record).
    let answered = false;
    const onT = lines(run(s, 'ann', 'MSG T after')).finally(() => (answered = true));
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(answered).toBe(false);
    release();
    expect(await onU).toBeUndefined();
    expect(await onT).toEqual(['Message posted to T thread']);
    expect(readFileSync(join(dir, 'T'), 'utf8')).toBe('ann\n1 ann: after\n');
    expect(readFileSync(join(dir, 'U'), 'utf8')).toBe('ann\n1 ann: kept\n');
    expect(existsSync(join(dir, JOURNAL_FILE))).toBe(false);
  });

  it('undoes a change left half done (its write and its undo failed) at the next change, as the next open would', async () => {
    const { s, dir, warned } = await openStore();
    expect(await lines(run(s, 'ann', 'CRT T'))).toEqual(['Thread T created']);
    expect(await lines(run(s, 'ann', 'MSG T one'))).toEqual(['Message posted to T thread']);
    faults.threadWrites = true;
    try {
      expect(await lines(run(s, 'ann', 'MSG T lost'))).toEqual(REFUSED);
    } finally {
      faults.threadWrites = false;
    }
    // The record of what to undo is on disk: the journal was kept.
    expect(existsSync(join(dir, JOURNAL_FILE))).toBe(true);
    expect(await lines(run(s, 'ann', 'MSG T two'))).toEqual(['Message posted to T thread']);
    expect(readFileSync(join(dir, 'T'), 'utf8')).toBe('ann\n1 ann: one\n2 ann: two\n');
    expect(existsSync(join(dir, JOURNAL_FILE))).toBe(false);
    expect(warned).toEqual(['undid a change to T that a failed write left, and took changes again']);
  });

  it('undoes a change whose commit record could not be synced: the file is as before it, then the next change is written', async () => {
    const { s, dir } = await openStore();
    expect(await lines(run(s, 'ann', 'CRT T'))).toEqual(['Thread T created']);
    expect(await lines(run(s, 'ann', 'MSG T one'))).toEqual(['Message posted to T thread']);
    // Two in flight together, so the commit is a record, not the journal's deletion: the begin records'
    // sync passes, the first commit's fails.
    expect(await lines(run(s, 'ann', 'CRT U'))).toEqual(['Thread U created']);
    faults.journalSyncsBeforeFailure = 1;
    const [t, u] = await Promise.all([lines(run(s, 'ann', 'MSG T maybe')), lines(run(s, 'ann', 'MSG U maybe'))]);
    expect([t, u]).toContainEqual(REFUSED);
    expect(await lines(run(s, 'ann', 'MSG T two'))).toEqual(['Message posted to T thread']);
    expect(await lines(run(s, 'ann', 'MSG U two'))).toEqual(['Message posted to U thread']);
    // What was answered done is there, what was refused is not, and the cache agrees with the files.
    const expectT = `ann\n1 ann: one\n${t[0]?.startsWith('Message posted') === true ? '2 ann: maybe\n3 ann: two\n' : '2 ann: two\n'}`;
    const expectU = `ann\n${u[0]?.startsWith('Message posted') === true ? '1 ann: maybe\n2 ann: two\n' : '1 ann: two\n'}`;
    expect(readFileSync(join(dir, 'T'), 'utf8')).toBe(expectT);
    expect(readFileSync(join(dir, 'U'), 'utf8')).toBe(expectU);
    expect(await lines(run(s, 'ann', 'RDT T'))).toEqual(expectT.split('\n').slice(1, -1));
  });

  it('while the undo itself fails, refuses changes, tries again at most once a second, and takes them once it succeeds', async () => {
    const { s, dir, clock } = await openStore();
    expect(await lines(run(s, 'ann', 'CRT T'))).toEqual(['Thread T created']);
    expect(await lines(run(s, 'ann', 'CRT V'))).toEqual(['Thread V created']);
    expect(await lines(run(s, 'ann', 'MSG T one'))).toEqual(['Message posted to T thread']);
    const before = readFileSync(join(dir, 'T'), 'utf8');
    faults.threadWrites = true;
    expect(await lines(run(s, 'ann', 'MSG T lost'))).toEqual(REFUSED);
    faults.threadWrites = false;
    // The recovery puts T back as a new file renamed over it: no room for it (a disk still full).
    faults.tempFiles = true;
    expect(await msgError(s, 'T', 'refused')).toMatch(/read-only after an earlier write failed .*, and undoing it failed too \(ENOSPC: injected/);
    // Another thread's MSG: refused too (the journal is the directory's), and not retried within the second.
    expect(await msgError(s, 'V', 'refused')).toMatch(/read-only after an earlier write failed/);
    // RMV of the thread whose undo is pending is refused (a CRT of the title would be cut by it), another's
    // goes (how a full disk gets room back).
    expect(await lines(run(s, 'ann', 'RMV T'))).toEqual(REFUSED);
    expect(await lines(run(s, 'ann', 'RMV V'))).toEqual(['Thread V removed']);
    faults.tempFiles = false;
    // Within the second since the last attempt: still refused, though the cause has passed.
    clock.now += 999;
    expect(await msgError(s, 'T', 'refused')).toMatch(/read-only after an earlier write failed/);
    clock.now += 1;
    expect(await msgError(s, 'T', 'two')).toBeUndefined();
    expect(readFileSync(join(dir, 'T'), 'utf8')).toBe(`${before}2 ann: two\n`);
    expect(await lines(run(s, 'ann', 'RMV T'))).toEqual(['Thread T removed']);
  });

  it('refuses an EDT (a rewrite from its line) while the undo fails, and writes it once the undo is done', async () => {
    const { s, dir, clock } = await openStore();
    expect(await lines(run(s, 'ann', 'CRT T'))).toEqual(['Thread T created']);
    expect(await lines(run(s, 'ann', 'MSG T one'))).toEqual(['Message posted to T thread']);
    faults.threadWrites = true;
    expect(await lines(run(s, 'ann', 'MSG T lost'))).toEqual(REFUSED);
    faults.threadWrites = false;
    faults.tempFiles = true;
    expect(await lines(run(s, 'ann', 'EDT T 1 edited'))).toEqual(REFUSED);
    faults.tempFiles = false;
    clock.now += 1_000;
    expect(await lines(run(s, 'ann', 'EDT T 1 edited'))).toEqual(['The message has been edited']);
    expect(readFileSync(join(dir, 'T'), 'utf8')).toBe('ann\n1 ann: edited\n');
  });
});
