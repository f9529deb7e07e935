/**
 * A change of the undo journal during which another writer changes the same
 * file: a server frozen mid-change (SIGSTOP, a paused container) while the
 * server that took its directory over recovered and appended (attack round
 * 9, attack/fence-takeover.ts). The other writer's bytes must stay. The
 * instants are made exact by running "the other writer" from inside the
 * journal's own file operations (node:fs/promises wrapped).
 */
import { appendFileSync, existsSync, mkdtempSync, readFileSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import * as fsp from 'node:fs/promises';
import { createUndoJournal, encodeRecord, recoverJournal } from '../src/file-store/undo-journal.js';

/** What runs, once, right after the journal's record is synced / right after the file's bytes are written. */
const hooks = vi.hoisted(() => ({ afterRecordSync: undefined as (() => void) | undefined, afterFileWrite: undefined as (() => void) | undefined }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const once = (key: 'afterRecordSync' | 'afterFileWrite'): void => {
    const hook = hooks[key];
    hooks[key] = undefined;
    hook?.();
  };
  return {
    ...fs,
    open: async (...args: Parameters<typeof fs.open>): Promise<FileHandle> => {
      const h = await fs.open(...args);
      const journal = String(args[0]).endsWith('.forum-journal');
      const datasync = h.datasync.bind(h);
      const write = h.write.bind(h) as (...a: unknown[]) => Promise<{ bytesWritten: number }>;
      if (journal) {
        h.datasync = async () => {
          await datasync();
          once('afterRecordSync');
        };
      } else {
        (h as { write: unknown }).write = async (...a: unknown[]) => {
          const r = await write(...a);
          once('afterFileWrite');
          return r;
        };
      }
      return h;
    },
  };
});

const BEFORE = 'ann\n1 ann: hello\n';
const MINE = '2 ann: mine\n';
const THEIRS = '2 bob: confirmed by the server that took over\n3 bob: and another\n';

describe('undo journal: another writer during a change', () => {
  it('a file appended to while the change waited for its record: not written, their lines stay', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-journal-foreign-'));
    const file = join(dir, 't');
    writeFileSync(file, BEFORE);
    hooks.afterRecordSync = () => appendFileSync(file, THEIRS);
    const journal = createUndoJournal(dir);
    // Before: written at its offset and cut after it (their two lines gone, resolved).
    await expect(journal.replaceTail('t', BEFORE.length, Buffer.from(MINE), BEFORE.length)).rejects.toThrow(/changed from 17 to 82 bytes while this server was changing it/);
    expect(readFileSync(file, 'utf8')).toBe(BEFORE + THEIRS);
    // The journal settled (a commit): the next change is not refused for it.
    expect(journal.failure()).toBeUndefined();
  });

  it('the journal of the server that took over, made while this change waited for its record, is not deleted by its commit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-journal-foreign-'));
    const file = join(dir, 't');
    const journalPath = join(dir, '.forum-journal');
    writeFileSync(file, BEFORE);
    // The other server's start recovers (deletes) this journal; a change of its own then has a journal of its own.
    hooks.afterRecordSync = () => {
      unlinkSync(journalPath);
      writeFileSync(journalPath, 'the other server\'s journal');
    };
    await createUndoJournal(dir).replaceTail('t', BEFORE.length, Buffer.from(MINE), BEFORE.length);
    // Before: deleted by name as this change committed (a crash of the other server then had nothing to undo by).
    expect(readFileSync(journalPath, 'utf8')).toBe('the other server\'s journal');
  });

  it('a directory no longer owned once the record is synced (the lock taken over while frozen there): the file is not written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-journal-foreign-'));
    const file = join(dir, 't');
    writeFileSync(file, BEFORE);
    let owned = true;
    hooks.afterRecordSync = () => {
      owned = false;
    };
    const journal = createUndoJournal(dir, async () => owned);
    // Before: written (the new holder, not having written t yet, would append at the same offset).
    await expect(journal.replaceTail('t', BEFORE.length, Buffer.from(MINE), BEFORE.length)).rejects.toThrow('t was not changed: the data directory is no longer this server\'s');
    expect(readFileSync(file, 'utf8')).toBe(BEFORE);
  });

  it('recovery puts a file back as a new file: a write through a handle opened before it (a frozen server\'s, woken) lands in no file anyone reads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-journal-foreign-'));
    const file = join(dir, 't');
    // A change of the frozen server under way: its record synced, its bytes maybe written.
    writeFileSync(file, BEFORE + MINE);
    writeFileSync(join(dir, '.forum-journal'), encodeRecord({ t: 'begin', id: 1, file: 't', offset: BEFORE.length }, Buffer.alloc(0)));
    const frozen = await fsp.open(file, 'r+');
    // The new holder's start.
    expect((await recoverJournal(dir)).restored).toEqual(['t']);
    expect(readFileSync(file, 'utf8')).toBe(BEFORE);
    appendFileSync(file, THEIRS);
    // The frozen server wakes and writes its change at the offset it planned.
    await frozen.write(Buffer.from(MINE), 0, MINE.length, BEFORE.length);
    await frozen.close();
    // Before: written over the new holder's first line ("2 ann: mine\n" cut into "2 bob: …").
    expect(readFileSync(file, 'utf8')).toBe(BEFORE + THEIRS);
  });

  it('a journal of another writer at the name, met while the directory is this store\'s, is deleted and the change made; not while it is not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-journal-foreign-'));
    const file = join(dir, 't');
    writeFileSync(file, BEFORE);
    // Made by the server that lost the directory, woken mid-change.
    writeFileSync(join(dir, '.forum-journal'), 'the other server\'s journal');
    let owned = false;
    const journal = createUndoJournal(dir, async () => owned);
    await expect(journal.replaceTail('t', BEFORE.length, Buffer.from(MINE), BEFORE.length)).rejects.toMatchObject({ code: 'EEXIST' });
    owned = true;
    const again = createUndoJournal(dir, async () => owned);
    // Before: EEXIST, and the journal refused every later change (the server read-only until restarted).
    await again.replaceTail('t', BEFORE.length, Buffer.from(MINE), BEFORE.length);
    expect(again.failure()).toBeUndefined();
    expect(readFileSync(file, 'utf8')).toBe(BEFORE + MINE);
    expect(existsSync(join(dir, '.forum-journal'))).toBe(false);
  });

  it('an append whose bytes were undone by another server\'s recovery, which then appended more, cuts nothing off', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-journal-foreign-'));
    const file = join(dir, 't');
    writeFileSync(file, BEFORE);
    // Frozen just after its bytes landed: the other server's recovery cuts them off, and it appends its own.
    hooks.afterFileWrite = () => {
      truncateSync(file, BEFORE.length);
      appendFileSync(file, THEIRS);
    };
    await createUndoJournal(dir).replaceTail('t', BEFORE.length, Buffer.from(MINE), BEFORE.length);
    // Before: the file cut at the end of this append's bytes, in the middle of bob's first line.
    expect(readFileSync(file, 'utf8')).toBe(BEFORE + THEIRS);
  });
});
