/**
 * A data directory whose origins (store/origin-shares.ts) already hold more than their bound at the open:
 * `--origin-shares` (or a per-account share) lowered since, or origins recorded by hand. As with the
 * forum-wide limits (file-store-over-limit.test.ts) all is served and only growth is refused, so the open says
 * so once, per holding: how many origins are past it, the one that holds the most, and its bound.
 */
import * as E from 'fp-ts/lib/Either.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openFileStore, type FileStoreOptions, type ForumStore } from '../src/index.js';
import { lines, run } from './helpers.js';

/**
 * Accounts a, b, c of origin 127.0.0.9 and d, e of 127.0.0.7, f of none; thread `t1` by a with 6 lines
 * of a, 4 of b and 2 of c, thread `t2` by b, thread `t3` by d with 3 lines of d and 3 of e, `t4` by f with 9 of f.
 */
function directory(): string {
  const dir = mkdtempSync(join(tmpdir(), 'forum-origin-over-'));
  writeFileSync(join(dir, 'credentials.txt'), 'a pw\nb pw\nc pw\nd pw\ne pw\nf pw\n');
  writeFileSync(join(dir, '.forum-account-origins'), 'a 127.0.0.9\nb 127.0.0.9\nc 127.0.0.9\nd 127.0.0.7\ne 127.0.0.7\n');
  const posts = (who: readonly string[]): string => who.map((u, i) => `${i + 1} ${u}: x\n`).join('');
  writeFileSync(join(dir, 't1'), `a\n${posts([...'aaaaaabbbbcc'])}`);
  writeFileSync(join(dir, 't2'), 'b\n');
  writeFileSync(join(dir, 't3'), `d\n${posts([...'dddeee'])}`);
  writeFileSync(join(dir, 't4'), `f\n${posts([...'fffffffff'])}`);
  return dir;
}

const open = async (dir: string, options: FileStoreOptions): Promise<ForumStore> => {
  const s = await openFileStore(dir, { writeBudget: false, ...options })();
  if (E.isLeft(s)) throw new Error(s.left.message);
  return s.right;
};

describe('data-directory store: origins already past their bound at the open', () => {
  it('two origins past the lines bound: one warning naming how many and the one holding the most; all served, its growth refused, a DLT takes', async () => {
    // With no origin bound nothing is said; lowered to one share of 5 lines: 127.0.0.9 holds 12, 127.0.0.7 6; f, of no origin, is no origin's.
    const s = await open(directory(), { maxUserThreadLines: 10, threadLimits: { originShares: 0 } });
    expect(s.warnings).toEqual([]);
    const lowered = await open(directory(), { maxUserThreadLines: 5, threadLimits: { originShares: 1 } });
    expect(lowered.warnings).toEqual([
      "2 origins (the accounts one host created) already hold more than --origin-shares lets them: the most, 127.0.0.9's accounts, hold 12 lines, more than the 5 they may together; all is served, and a MSG or upload line of any of them is refused until DLT or RMV brings them under it",
    ]);
    expect((await lines(run(lowered, 'c', 'RDT t1'))).filter((l) => / [abc]: x$/.test(l))).toHaveLength(12);
    expect(await lines(run(lowered, 'c', 'MSG t1 y'))).toEqual([
      "Your account and the others created from the same address hold as much of the forum as one address may: at most 5 lines of the forum's threads (delete some of their messages to make room)",
    ]);
    expect(await lines(run(lowered, 'c', 'DLT t1 12'))).toEqual(['The message has been deleted']);
  });

  it('threads and bytes alike, each its own warning; an origin within every bound, or exactly at it, is not named', async () => {
    // Threads: each account may hold 1, an origin 2: 127.0.0.9 created 2 (at its bound), 127.0.0.7 1.
    const atBound = await open(directory(), { threadLimits: { maxThreadsPerUser: 1, originShares: 2 } });
    expect(atBound.warnings).toEqual([]);
    // Bytes: each line counts as `1 a: x` and its newline, 7 bytes: 127.0.0.9's 12 lines hold 84, 127.0.0.7's 6 hold 42; a bound of 50.
    const s = await open(directory(), { maxUserThreadBytes: 50, threadLimits: { maxThreadsPerUser: 1, originShares: 1 } });
    expect(s.warnings).toEqual([
      "1 origin (the accounts one host created) already holds more than --origin-shares lets them: the most, 127.0.0.9's accounts, hold 84 bytes of lines, more than the 50 they may together; all is served, and a MSG, longer EDT or upload line of any of them is refused until DLT or RMV brings them under it",
      "1 origin (the accounts one host created) already holds more than --origin-shares lets them: the most, 127.0.0.9's accounts, hold 2 threads, more than the 1 they may together; all is served, and a CRT of any of them is refused until RMV brings them under it",
    ]);
  });
});
