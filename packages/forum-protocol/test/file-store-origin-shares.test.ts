/**
 * One client address, with the 70 accounts its first hour of `--account-limit` allows, took every byte of the
 * data directory's threads (70 shares of 1/64) and all the uploads' room (70 shares of 1/16), after which every
 * other user's MSG and UPD were refused (attack round 30). The accounts one host created (their origin) now hold
 * together at most `originShares` accounts' shares; an account of no recorded origin (an old directory's) is
 * its own group, as before.
 */
import * as E from 'fp-ts/lib/Either.js';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openFileStore, type FileStoreOptions, type ForumStore } from '../src/index.js';
import { uploadOutcomeText as text, uploadSized as sized } from './sized-upload.js';
import { lines, run } from './helpers.js';

const KIB = 1024;
const open = async (dir: string, options: FileStoreOptions = {}): Promise<ForumStore> => {
  const s = await openFileStore(dir, { writeBudget: false, ...options })();
  if (E.isLeft(s)) throw new Error(s.left.message);
  return s.right;
};
const account = async (s: ForumStore, username: string, origin?: string): Promise<void> => {
  const made = await s.createAccount(origin === undefined ? { username, password: 'pw' } : { username, password: 'pw', origin })();
  expect(made).toEqual(E.right(true));
};
const ORIGIN_LINES = (n: number): string =>
  `Your account and the others created from the same address hold as much of the forum as one address may: at most ${n} lines of the forum's threads (delete some of their messages to make room)`;

describe("data-directory store: the accounts of one origin hold a few accounts' shares together", () => {
  it('lines of many accounts of one origin, posted at once, stop at the origin\'s bound; another origin\'s account, and one of none, still post', async () => {
    const s = await open(mkdtempSync(join(tmpdir(), 'forum-origin-')), { maxUserThreadLines: 10, threadLimits: { originShares: 3 } });
    for (let i = 0; i < 6; i++) await account(s, `m${i}`, '127.0.0.9');
    await account(s, 'victim', '127.0.0.10');
    await account(s, 'old');
    await run(s, 'victim', 'CRT t');
    // 6 accounts of one origin, 10 lines each allowed alone: 30 together.
    const replies = await Promise.all(Array.from({ length: 60 }, (_, i) => lines(run(s, `m${i % 6}`, 'MSG t x', `r${i}`))));
    expect(replies.filter((r) => r[0] === 'Message posted to t thread')).toHaveLength(30);
    expect(replies.filter((r) => r[0] === ORIGIN_LINES(30))).toHaveLength(30);
    // An upload line counts the same way, refused as it begins.
    expect(await s.beginUpload('t', 'f', 'm0')()).toEqual(E.left({ kind: 'threadStorageFull', limit: 30, unit: 'lines', who: 'origin' }));
    expect(await lines(run(s, 'victim', 'MSG t y'))).toEqual(['Message posted to t thread']);
    expect(await lines(run(s, 'old', 'MSG t y'))).toEqual(['Message posted to t thread']);
    // A DLT of one of them gives the origin a line back, whichever of its accounts takes it.
    const first = (await lines(run(s, 'victim', 'RDT t'))).find((l) => / m\d: x$/.test(l)) ?? '';
    const [n, author] = first.split(' ');
    expect(await lines(run(s, (author ?? '').slice(0, -1), `DLT t ${n ?? ''}`))).toEqual(['The message has been deleted']);
    expect(await lines(run(s, 'm5', 'MSG t x'))).toEqual(['Message posted to t thread']);
    expect(await lines(run(s, 'm4', 'MSG t x'))).toEqual([ORIGIN_LINES(30)]);
  });

  it('bytes are bounded the same way, and the bound holds across a restart (the origins are kept in the directory)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-origin-'));
    const options = { maxUserThreadBytes: 10 * KIB, threadLimits: { originShares: 2 } };
    const s = await open(dir, options);
    for (const u of ['a', 'b', 'c']) await account(s, u, '2001:db8:0:1::/64');
    await run(s, 'a', 'CRT t');
    const long = 'x'.repeat(1000);
    const replies: (readonly string[])[] = [];
    for (let i = 0; i < 30; i++) replies.push(await lines(run(s, ['a', 'b', 'c'][i % 3] ?? 'a', `MSG t ${long}`)));
    const posted = replies.filter((r) => r[0] === 'Message posted to t thread').length;
    // `N a: xxx…\n` numbered 1 is 1,005 bytes: 20 KiB hold 20 of them.
    expect(posted).toBe(Math.floor((20 * KIB) / 1005));
    expect(replies.at(-1)).toEqual([`Your account and the others created from the same address hold as much of the forum as one address may: at most ${20 * KIB} bytes of the forum's threads (delete some of their messages to make room)`]);
    expect(readFileSync(join(dir, '.forum-account-origins'), 'utf8')).toBe('a 2001:db8:0:1::/64\nb 2001:db8:0:1::/64\nc 2001:db8:0:1::/64\n');
    // credentials.txt stays the spec's `username password`.
    expect(readFileSync(join(dir, 'credentials.txt'), 'utf8')).toBe('a pw\nb pw\nc pw\n');
    const reopened = await open(dir, options);
    expect((await lines(run(reopened, 'c', `MSG t ${long}`)))[0]).toMatch(/^Your account and the others created from the same address/);
    await account(reopened, 'd', '2001:db8:0:2::/64');
    expect(await lines(run(reopened, 'd', `MSG t ${long}`))).toEqual(['Message posted to t thread']);
  });

  it("uploads of one origin's accounts begun at once never pass its bound together; another origin's account still uploads", async () => {
    const s = await open(mkdtempSync(join(tmpdir(), 'forum-origin-')), { maxUserUploadBytes: 100 * KIB, threadLimits: { originShares: 2 } });
    for (let i = 0; i < 5; i++) await account(s, `m${i}`, '127.0.0.9');
    await account(s, 'victim', '127.0.0.10');
    await run(s, 'm0', 'CRT m');
    await run(s, 'victim', 'CRT v');
    // 10 uploads of 30 KiB at once by 5 accounts (each alone may hold 100 KiB): 6 fit the origin's 200 KiB.
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => sized(s, 'm', `f${i}`, `m${i % 5}`, 30 * KIB)));
    expect(results.filter(E.isRight)).toHaveLength(6);
    for (const r of results.filter(E.isLeft)) {
      expect(text(r)).toBe(
        `Your account and the others created from the same address hold as much of the forum's uploads as one address may: at most ${200 * KIB} bytes, ${20 * KIB} are left to them, this file has ${30 * KIB} (remove threads of theirs to make room)`,
      );
    }
    expect(text(await sized(s, 'v', 'own', 'victim', 90 * KIB))).toBe('OK');
    // RMV gives the origin its room back.
    expect(await lines(run(s, 'm0', 'RMV m'))).toEqual(['Thread m removed']);
    expect(text(await sized(s, 'v', 'back', 'm3', 90 * KIB))).toBe('OK');
  });

  it('a damaged line of the origins file is said at open, as a damaged credentials line is, and the lines around it still count', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-origin-'));
    writeFileSync(join(dir, 'credentials.txt'), 'a pw\nb pw\nc pw\n');
    writeFileSync(join(dir, '.forum-account-origins'), 'a 127.0.0.9\nb127.0.0.9\n\nc 127.0.0.9 extra\n');
    const s = await open(dir, { maxUserThreadLines: 1, threadLimits: { originShares: 1 } });
    expect(s.warnings).toEqual([
      ".forum-account-origins line 2 is malformed and was skipped (its account, if any, counts as a group of its own, outside its origin's --origin-shares)",
      ".forum-account-origins line 4 is malformed and was skipped (its account, if any, counts as a group of its own, outside its origin's --origin-shares)",
    ]);
    expect(await s.getAccount('a')()).toEqual(E.right({ _tag: 'Some', value: { username: 'a', password: 'pw', origin: '127.0.0.9' } }));
    expect(await s.getAccount('b')()).toEqual(E.right({ _tag: 'Some', value: { username: 'b', password: 'pw' } }));
  });

  it('a directory of the old format (no origins file) opens, its accounts log in and post as groups of their own; a new account records its origin beside them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-origin-'));
    writeFileSync(join(dir, 'credentials.txt'), 'alice pw\nbob pw\n');
    const s = await open(dir, { maxUserThreadLines: 2, threadLimits: { originShares: 1 } });
    expect(s.warnings).toEqual([]);
    expect(await s.getAccount('alice')()).toEqual(E.right({ _tag: 'Some', value: { username: 'alice', password: 'pw' } }));
    await run(s, 'alice', 'CRT t');
    for (const u of ['alice', 'bob']) for (let i = 0; i < 2; i++) expect(await lines(run(s, u, 'MSG t x'))).toEqual(['Message posted to t thread']);
    await account(s, 'carol', '127.0.0.9');
    expect(readFileSync(join(dir, 'credentials.txt'), 'utf8')).toBe('alice pw\nbob pw\ncarol pw\n');
    expect(readFileSync(join(dir, '.forum-account-origins'), 'utf8')).toBe('carol 127.0.0.9\n');
    const reopened = await open(dir, { maxUserThreadLines: 2, threadLimits: { originShares: 1 } });
    expect(await reopened.getAccount('carol')()).toEqual(E.right({ _tag: 'Some', value: { username: 'carol', password: 'pw', origin: '127.0.0.9' } }));
    expect(await reopened.replaceAccountSecret('carol', 'new')()).toEqual(E.right(true));
    expect(await reopened.getAccount('carol')()).toEqual(E.right({ _tag: 'Some', value: { username: 'carol', password: 'new', origin: '127.0.0.9' } }));
  });
});
