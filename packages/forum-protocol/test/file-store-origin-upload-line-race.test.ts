/**
 * An upload's commit checked its line against the shares (the forum's, its uploader's, its origin's) and then
 * measured the file (`lstat`, a yield) before holding the line: a MSG of another thread, by another account of
 * the same origin, passed the origin's check in that gap, and both were held: the origin's accounts held a line
 * more than their bound (one per upload committing at once). The file is measured before the check now, so
 * the check and the hold are one synchronous step, as everywhere else.
 */
import * as E from 'fp-ts/lib/Either.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { openFileStore, type ForumStore } from '../src/index.js';
import { lines, run } from './helpers.js';

/** While armed, the next `lstat` waits for `release` (and says it has been reached). */
const gate = vi.hoisted(() => ({ armed: false, reached: (): void => undefined, release: Promise.resolve() }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...fs,
    lstat: async (...args: Parameters<typeof fs.lstat>) => {
      if (gate.armed) {
        gate.armed = false;
        gate.reached();
        await gate.release;
      }
      return fs.lstat(...args);
    },
  };
});

const open = async (dir: string): Promise<ForumStore> => {
  // Each account 2 lines, the origin's accounts 4 together.
  const s = await openFileStore(dir, { writeBudget: false, maxUserThreadLines: 2, threadLimits: { originShares: 2 } })();
  if (E.isLeft(s)) throw new Error(s.left.message);
  return s.right;
};

describe("data-directory store: an upload's line and another thread's MSG of one origin at once", () => {
  it("never hold together more lines than the origin's bound", async () => {
    const s = await open(mkdtempSync(join(tmpdir(), 'forum-origin-race-')));
    for (const u of ['a', 'b', 'c']) expect(await s.createAccount({ username: u, password: 'pw', origin: '127.0.0.9' })()).toEqual(E.right(true));
    expect(await s.createAccount({ username: 'v', password: 'pw', origin: '127.0.0.10' })()).toEqual(E.right(true));
    for (const t of ['t1', 't2']) expect(await lines(run(s, 'v', `CRT ${t}`))).toEqual([`Thread ${t} created`]);
    // The origin holds 3 of its 4 lines.
    for (const [u, t] of [['a', 't1'], ['a', 't1'], ['b', 't2']] as const) expect(await lines(run(s, u, `MSG ${t} x`))).toEqual([`Message posted to ${t} thread`]);

    // b's upload to t1 commits (its line the origin's 4th) while c posts to t2 (also the 4th): one of them only.
    const writer = await s.beginUpload('t1', 'f', 'b')();
    if (E.isLeft(writer)) throw new Error(writer.left.kind);
    await new Promise<void>((resolve, reject) => writer.right.stream.write(Buffer.from('hello'), (err) => (err ? reject(err) : resolve())));
    let release = (): void => undefined;
    const reached = new Promise<void>((resolve) => {
      gate.reached = resolve;
    });
    gate.release = new Promise<void>((resolve) => {
      release = resolve;
    });
    gate.armed = true;
    const committed = writer.right.commit();
    await reached;
    const posted = await lines(run(s, 'c', 'MSG t2 y'));
    release();
    const upload = await committed;

    const oks = [E.isRight(upload), posted[0] === 'Message posted to t2 thread'].filter(Boolean);
    expect(oks).toHaveLength(1);
    // What the threads hold of the origin's accounts: the bound's 4 lines.
    let held = 0;
    for (const t of ['t1', 't2']) {
      const rdt = await lines(run(s, 'v', `RDT ${t}`));
      held += rdt.filter((l) => / [abc]: /.test(l) || /^b uploaded /.test(l)).length;
    }
    expect(held).toBe(4);
  });
});
