/**
 * An IPv6 origin is a /64, and one customer's /56 (a home delegation) or /48 (free from a tunnel broker) is
 * 256 or 65,536 of them: accounts created from many /64s of one /56 held each /64's bound apiece. The data
 * directory's accounts of origin /64 X now also count against X's /56 and /48, with 4 and 16 times the
 * origin's bound (rudp's `hostLevels`), for the threads' lines and bytes and the uploads' room alike, derived
 * from the recorded /64 (the origins file is unchanged), so across a restart too.
 */
import * as E from 'fp-ts/lib/Either.js';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openFileStore, originOfAddress, type FileStoreOptions, type ForumStore } from '../src/index.js';
import { uploadOutcomeText as text, uploadSized as sized } from './sized-upload.js';
import { lines, run } from './helpers.js';

const KIB = 1024;
const open = async (dir: string, options: FileStoreOptions = {}): Promise<ForumStore> => {
  const s = await openFileStore(dir, { writeBudget: false, ...options })();
  if (E.isLeft(s)) throw new Error(s.left.message);
  return s.right;
};
const hex2 = (n: number): string => n.toString(16).padStart(2, '0');
/** Account `username` created from `address` (`host:port`), recording its origin as the server does. */
const account = async (s: ForumStore, username: string, address: string): Promise<void> => {
  expect(await s.createAccount({ username, password: 'pw', origin: originOfAddress(address) })()).toEqual(E.right(true));
};
const networkLines = (n: number, unit: string): string =>
  `Your account and the others created from the same network hold as much of the forum as one network may: at most ${n} ${unit} of the forum's threads (delete some of their messages to make room)`;

describe("data-directory store: an IPv6 origin's /56 and /48 hold 4 and 16 origins' shares", () => {
  it("lines of accounts of 20 /64s of one /56, posted at once, stop at the /56's 4 shares, also after a restart; another /56 of the /48 still posts", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-origin-levels-'));
    const options = { maxUserThreadLines: 5, threadLimits: { originShares: 1 } };
    const s = await open(dir, options);
    for (let i = 0; i < 20; i++) await account(s, `h${i}`, `[2001:db8:0:1${hex2(i)}::1]:4000`);
    await account(s, 'victim', '[2001:db8:0:200::1]:4000');
    await run(s, 'victim', 'CRT t');
    // 5 lines an account, 5 an origin; 20 the /56.
    const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => lines(run(s, `h${i % 20}`, 'MSG t x', `r${i}`))));
    expect(replies.filter((r) => r[0] === 'Message posted to t thread')).toHaveLength(20);
    expect(replies.filter((r) => r[0] === networkLines(20, 'lines'))).toHaveLength(80);
    expect(await lines(run(s, 'victim', 'MSG t y'))).toEqual(['Message posted to t thread']);
    // The origins file records each account's /64 alone, as before: the /56 is derived from it.
    expect(readFileSync(join(dir, '.forum-account-origins'), 'utf8').split('\n')[0]).toBe('h0 2001:db8:0:100::/64');
    const reopened = await open(dir, options);
    await account(reopened, 'late', '[2001:db8:0:1ff::1]:4000');
    expect(await lines(run(reopened, 'late', 'MSG t x'))).toEqual([networkLines(20, 'lines')]);
  });

  it("bytes of lines of one /48's accounts stop at its 16 shares; a different /48 is unaffected", async () => {
    const s = await open(mkdtempSync(join(tmpdir(), 'forum-origin-levels-')), { maxUserThreadBytes: 2 * KIB, maxUserThreadLines: 1000, threadLimits: { originShares: 1 } });
    // 40 /56s of 2001:db8:5::/48, one account each: each /56 may hold 8 KiB, the /48 32 KiB.
    for (let i = 0; i < 40; i++) await account(s, `w${hex2(i)}`, `[2001:db8:5:${hex2(i)}00::1]:4000`);
    await account(s, 'other', '[2001:db8:6::1]:4000');
    await run(s, 'other', 'CRT t');
    const long = 'x'.repeat(1000);
    // `1 w00: xxx…` and its newline: 1,008 bytes; 2 fit an account's 2 KiB, 32 the /48's 32 KiB.
    const replies = await Promise.all(Array.from({ length: 80 }, (_, i) => lines(run(s, `w${hex2(i % 40)}`, `MSG t ${long}`, `r${i}`))));
    expect(replies.filter((r) => r[0] === 'Message posted to t thread')).toHaveLength(Math.floor((32 * KIB) / 1008));
    expect(replies.filter((r) => r[0] === networkLines(32 * KIB, 'bytes'))).toHaveLength(80 - Math.floor((32 * KIB) / 1008));
    expect(await lines(run(s, 'other', `MSG t ${long}`))).toEqual(['Message posted to t thread']);
  });

  it("uploads of accounts of 20 /64s of one /56, begun at once, stop at the /56's 4 shares; another /48 and IPv4 addresses still upload", async () => {
    const s = await open(mkdtempSync(join(tmpdir(), 'forum-origin-levels-')), { maxUserUploadBytes: 100 * KIB, threadLimits: { originShares: 1 } });
    for (let i = 0; i < 20; i++) await account(s, `h${i}`, `[2001:db8:0:1${hex2(i)}::1]:4000`);
    await account(s, 'far', '[2001:db8:7::1]:4000');
    for (let i = 0; i < 5; i++) await account(s, `v${i}`, `198.51.100.${i + 1}:4000`);
    await run(s, 'far', 'CRT t');
    // One 100 KiB file each (an account's and an origin's whole share): 4 fit the /56's 400 KiB.
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => sized(s, 't', `f${i}`, `h${i}`, 100 * KIB)));
    expect(results.filter(E.isRight)).toHaveLength(4);
    for (const r of results.filter(E.isLeft)) {
      expect(text(r)).toBe(
        `Your account and the others created from the same network hold as much of the forum's uploads as one network may: at most ${400 * KIB} bytes, 0 are left to them, this file has ${100 * KIB} (remove threads of theirs to make room)`,
      );
    }
    expect(text(await sized(s, 't', 'far', 'far', 100 * KIB))).toBe('OK');
    // IPv4 origins of one /24 are as before: each its own 100 KiB.
    const v4 = await Promise.all(Array.from({ length: 5 }, (_, i) => sized(s, 't', `v${i}`, `v${i}`, 100 * KIB)));
    expect(v4.filter(E.isRight)).toHaveLength(5);
  });

  it("an open warns of a /56 already past its bound (lowered since), naming it as a network's", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-origin-levels-'));
    const s = await open(dir, { maxUserThreadLines: 5, threadLimits: { originShares: 1 } });
    for (let i = 0; i < 6; i++) await account(s, `h${i}`, `[2001:db8:0:1${hex2(i)}::1]:4000`);
    await run(s, 'h0', 'CRT t');
    for (let i = 0; i < 6; i++) for (let k = 0; k < 3; k++) expect(await lines(run(s, `h${i}`, 'MSG t x'))).toEqual(['Message posted to t thread']);
    // 18 lines in the /56, 3 in each /64; lowered to 4 an account: the /56 may hold 16, each /64 4.
    const lowered = await open(dir, { maxUserThreadLines: 4, threadLimits: { originShares: 1 } });
    expect(lowered.warnings).toEqual([
      "1 origin (the accounts one host, or one IPv6 /56 or /48, created) already holds more than --origin-shares lets them: the most, 2001:db8:0:100::/56's accounts, hold 18 lines, more than the 16 they may together; all is served, and a MSG or upload line of any of them is refused until DLT or RMV brings them under it",
    ]);
  });
});
