/**
 * The undo journal is deleted only once no change is under way, so changes
 * that keep overlapping kept it growing by every old tail they replaced:
 * attack round 15 (attack/journal-growth.ts: accounts editing the middle
 * message of 2 MiB threads while others posted and uploaded) saw it reach
 * 152 MiB and stay for 10 s at a time, outside every disk bound. Here the
 * overlap is made exact: each change is held, just after its record is
 * synced (the journal's `owned` question), until the next change has synced
 * its own, so there is never a moment without one under way.
 */
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createUndoJournal, JOURNAL_FILE } from '../src/file-store/undo-journal.js';

const TAIL = 256 * 1024;
const LIMIT = 1024 * 1024;
const CHANGES = 12;
/** How long a change is held waiting for the next one to sync its record, at most. */
const HOLD_MS = 400;

const deferred = (): { readonly promise: Promise<void>; readonly resolve: () => void } => {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

describe('undo journal: bounded while changes overlap', () => {
  it('changes that always overlap keep the journal within its limit, and all of them are made', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-journal-bound-'));
    for (let i = 0; i < CHANGES; i++) writeFileSync(join(dir, `f${i}`), 'x'.repeat(TAIL));
    const synced = Array.from({ length: CHANGES + 1 }, deferred);
    const changes: Promise<void>[] = [];
    let calls = 0;
    let peak = 0;
    const journalBytes = (): number => (existsSync(join(dir, JOURNAL_FILE)) ? statSync(join(dir, JOURNAL_FILE)).size : 0);
    const journal = createUndoJournal(
      dir,
      async () => {
        // Asked once per change, after its record was synced: the changes start one at a time, so the k-th call is change k's.
        const k = calls++;
        synced[k]?.resolve();
        peak = Math.max(peak, journalBytes());
        if (k + 1 < CHANGES) changes.push(start(k + 1));
        await Promise.race([synced[k + 1]?.promise, sleep(HOLD_MS)]);
        return true;
      },
      { softLimitBytes: LIMIT },
    );
    const start = (i: number): Promise<void> => journal.replaceTail(`f${i}`, 0, Buffer.from('y'.repeat(TAIL)), TAIL);
    changes.push(start(0));
    while (changes.length < CHANGES) await Promise.all(changes);
    await Promise.all(changes);
    // Each record holds a replaced tail of 256 KiB: twelve of them (3 MiB) before the limit.
    expect(peak).toBeLessThanOrEqual(LIMIT);
    expect(peak).toBeGreaterThan(LIMIT / 2);
    for (let i = 0; i < CHANGES; i++) expect(readFileSync(join(dir, `f${i}`), 'utf8')).toBe('y'.repeat(TAIL));
    expect(existsSync(join(dir, JOURNAL_FILE))).toBe(false);
  });

  it('a record larger than the limit is still written, alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-journal-bound-'));
    writeFileSync(join(dir, 'big'), 'x'.repeat(2 * TAIL));
    let peak = 0;
    const journal = createUndoJournal(
      dir,
      async () => {
        peak = Math.max(peak, statSync(join(dir, JOURNAL_FILE)).size);
        return true;
      },
      { softLimitBytes: TAIL },
    );
    await journal.replaceTail('big', 0, Buffer.from('y'.repeat(10)), 2 * TAIL);
    expect(readFileSync(join(dir, 'big'), 'utf8')).toBe('y'.repeat(10));
    expect(peak).toBeGreaterThan(2 * TAIL);
    expect(existsSync(join(dir, JOURNAL_FILE))).toBe(false);
  });
});
