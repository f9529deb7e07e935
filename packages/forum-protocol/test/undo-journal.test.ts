import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createUndoJournal, decodeJournal, encodeRecord, JOURNAL_FILE, recoverJournal } from '../src/file-store/undo-journal.js';

const freshDir = (): string => mkdtempSync(join(tmpdir(), 'forum-journal-'));

/** A journal and a file as a process killed at some instant of one change leaves them. */
const crashState = (dir: string, journal: Buffer, file: string): void => {
  writeFileSync(join(dir, JOURNAL_FILE), journal);
  writeFileSync(join(dir, 't'), file);
};

const BEFORE = 'ann\n1 ann: hello\n2 bob: there\n';
// EDT of message 1: the file from the start of line 2 on is replaced.
const OFFSET = 'ann\n'.length;
const AFTER = 'ann\n1 ann: changed, longer\n2 bob: there\n';
const begin = encodeRecord({ t: 'begin', id: 7, file: 't', offset: OFFSET }, Buffer.from(BEFORE.slice(OFFSET)));
const commit = encodeRecord({ t: 'commit', id: 7 });

describe('undo journal', () => {
  it('records are length-prefixed and checksummed: every cut of the journal decodes to the whole records before the cut', () => {
    const whole = Buffer.concat([begin, commit]);
    for (let cut = 0; cut <= whole.length; cut++) {
      const { records, validBytes } = decodeJournal(whole.subarray(0, cut));
      const expected = cut >= whole.length ? 2 : cut >= begin.length ? 1 : 0;
      expect(records.map((r) => r.header.t), `cut at ${cut}`).toEqual(['begin', 'commit'].slice(0, expected));
      expect(validBytes).toBe(expected === 2 ? whole.length : expected === 1 ? begin.length : 0);
    }
    // A flipped bit anywhere in a record ends the journal there.
    for (let i = 0; i < begin.length; i++) {
      const bad = Buffer.from(whole);
      bad[i] = (bad[i] as number) ^ 0x10;
      expect(decodeJournal(bad).records.length, `bit flipped in byte ${i}`).toBe(0);
    }
  });

  it('a change killed after its begin record and before its commit is undone, wherever the file write stopped', async () => {
    // The file as the kill may leave it: untouched, part written, written but not cut, all done.
    const fileStates = [BEFORE, BEFORE.slice(0, OFFSET) + AFTER.slice(OFFSET, OFFSET + 5) + BEFORE.slice(OFFSET + 5), AFTER + 'trailing old bytes', AFTER];
    // The journal as it may be: begin whole, commit absent or torn at any byte.
    const journals = [begin, ...Array.from({ length: commit.length }, (_, k) => Buffer.concat([begin, commit.subarray(0, k)]))];
    for (const file of fileStates) {
      for (const journal of journals) {
        const dir = freshDir();
        crashState(dir, journal, file);
        const report = await recoverJournal(dir);
        expect(report.restored).toEqual(['t']);
        expect(readFileSync(join(dir, 't'), 'utf8')).toBe(BEFORE);
        expect(readdirSync(dir)).toEqual(['t']);
      }
    }
  });

  it('a committed change stays; a torn begin record means the change never started', async () => {
    const dir = freshDir();
    crashState(dir, Buffer.concat([begin, commit]), AFTER);
    expect((await recoverJournal(dir)).restored).toEqual([]);
    expect(readFileSync(join(dir, 't'), 'utf8')).toBe(AFTER);
    for (let cut = 0; cut < begin.length; cut++) {
      const torn = freshDir();
      crashState(torn, begin.subarray(0, cut), BEFORE);
      expect((await recoverJournal(torn)).restored).toEqual([]);
      expect(readFileSync(join(torn, 't'), 'utf8')).toBe(BEFORE);
      expect(readdirSync(torn)).toEqual(['t']);
    }
  });

  it('recovery undoes newest first and is idempotent (a crash during recovery is finished by the next)', async () => {
    const dir = freshDir();
    // Change 1 (append) committed; change 2 (append) and change 3 (edit of line 2) on another file not.
    writeFileSync(join(dir, 'u'), 'bob\n1 bob: x\n2 bob: EDITED\n');
    writeFileSync(join(dir, 't'), 'ann\n1 ann: a\n2 ann: b\n');
    const journal = Buffer.concat([
      encodeRecord({ t: 'begin', id: 1, file: 't', offset: 13 }),
      encodeRecord({ t: 'commit', id: 1 }),
      encodeRecord({ t: 'begin', id: 2, file: 'u', offset: 13 }),
      encodeRecord({ t: 'begin', id: 3, file: 'u', offset: 13 }, Buffer.from('2 bob: y\n')),
    ]);
    writeFileSync(join(dir, JOURNAL_FILE), journal);
    // Undo of change 3 gives '…2 bob: y', then undo of change 2 cuts it: u as before both.
    const copy = freshDir();
    writeFileSync(join(copy, 'u'), readFileSync(join(dir, 'u')));
    writeFileSync(join(copy, 't'), readFileSync(join(dir, 't')));
    writeFileSync(join(copy, JOURNAL_FILE), journal);
    await recoverJournal(dir);
    expect(readFileSync(join(dir, 'u'), 'utf8')).toBe('bob\n1 bob: x\n');
    expect(readFileSync(join(dir, 't'), 'utf8')).toBe('ann\n1 ann: a\n2 ann: b\n');
    // Recovery killed after undoing change 3 only: run again from the journal, same result.
    writeFileSync(join(copy, 'u'), 'bob\n1 bob: x\n2 bob: y\n');
    await recoverJournal(copy);
    expect(readFileSync(join(copy, 'u'), 'utf8')).toBe('bob\n1 bob: x\n');
  });

  it('a record naming a missing or unsafe file is reported and skipped', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, JOURNAL_FILE), Buffer.concat([encodeRecord({ t: 'begin', id: 1, file: 'gone', offset: 0 }), encodeRecord({ t: 'begin', id: 2, file: '../x', offset: 0 })]));
    const report = await recoverJournal(dir);
    expect(report.warnings).toEqual(['.forum-journal names an invalid file "../x"; skipped', '.forum-journal has an unfinished change to gone, which is missing; skipped']);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('replaceTail changes the file, and the journal is gone once no change is under way', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 't'), BEFORE);
    const journal = createUndoJournal(dir);
    await journal.replaceTail('t', OFFSET, Buffer.from(AFTER.slice(OFFSET)));
    expect(readFileSync(join(dir, 't'), 'utf8')).toBe(AFTER);
    expect(readdirSync(dir)).toEqual(['t']);
    // Concurrent changes to different files share the journal and all land.
    for (const n of ['a', 'b', 'c', 'd']) writeFileSync(join(dir, n), 'x\n');
    await Promise.all(['a', 'b', 'c', 'd'].map((n, i) => journal.replaceTail(n, 2, Buffer.from(`${i}\n`))));
    expect(['a', 'b', 'c', 'd'].map((n) => readFileSync(join(dir, n), 'utf8'))).toEqual(['x\n0\n', 'x\n1\n', 'x\n2\n', 'x\n3\n']);
    expect(readdirSync(dir).sort()).toEqual(['a', 'b', 'c', 'd', 't']);
    await expect(journal.replaceTail('t', 10_000, Buffer.from('x'))).rejects.toThrow(/shorter than the store expected/);
  });
});
