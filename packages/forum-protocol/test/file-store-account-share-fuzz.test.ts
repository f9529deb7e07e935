/**
 * Each account's share (file-store/account-shares.ts) must stay exactly what
 * its lines in the threads hold, whatever mix of MSG, upload lines, longer and
 * shorter EDT, DLT and RMV several sessions of several accounts send at once, and after a
 * restart: probed exactly, a MSG that fills the room the account's lines leave
 * is taken, and one a byte longer refused.
 */
import * as E from 'fp-ts/lib/Either.js';
import * as O from 'fp-ts/lib/Option.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { entryShare } from '../src/file-store/account-shares.js';
import { openFileStore, type ForumStore } from '../src/index.js';
import { lines, run, upload } from './helpers.js';

const MAX = 6000;
const USERS = ['ann', 'bob', 'cid'] as const;
const TITLES = ['t1', 't2', 't3'] as const;

const open = async (dir: string): Promise<ForumStore> => {
  const s = await openFileStore(dir, { writeBudget: false, maxUserThreadBytes: MAX, maxUserThreadLines: 10_000 })();
  if (E.isLeft(s)) throw new Error(s.left.message);
  return s.right;
};

/** A small seeded generator (mulberry32), so a failure repeats. */
const random = (seed: number): (() => number) => {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

/** What `user`'s lines hold of every thread, read from the store. */
const heldBy = async (s: ForumStore, user: string): Promise<number> => {
  let bytes = 0;
  for (const t of [...TITLES, 'probe']) {
    const th = await s.getThread(t)();
    if (E.isLeft(th) || O.isNone(th.right)) continue;
    for (const e of th.right.value.entries) {
      const share = entryShare(e);
      if (share?.account === user) bytes += share.bytes;
    }
  }
  return bytes;
};

/** Messages of `user` in `title`, by number. */
const ownNumbers = async (s: ForumStore, user: string, title: string): Promise<number[]> => {
  const th = await s.getThread(title)();
  if (E.isLeft(th) || O.isNone(th.right)) return [];
  const out: number[] = [];
  let n = 0;
  for (const e of th.right.value.entries) {
    if (e.kind !== 'message') continue;
    n++;
    if (e.author === user) out.push(n);
  }
  return out;
};

/** A MSG whose line takes exactly `bytes` of `user`'s share. */
const textOf = (user: string, bytes: number): string => {
  const one = entryShare({ kind: 'message', author: user, text: 'x' })?.bytes ?? 0;
  return 'y'.repeat(bytes - one + 1);
};

/** Checks `user`'s share in `s` is exactly what its lines hold: the room left fills, a byte more does not. */
const probe = async (s: ForumStore, user: string): Promise<void> => {
  // A MSG holds at most 4,096 bytes: the room is filled down to one MSG's worth first.
  while (MAX - (await heldBy(s, user)) > 3000) expect(await lines(run(s, user, `MSG probe ${textOf(user, 2000)}`))).toEqual(['Message posted to probe thread']);
  const room = MAX - (await heldBy(s, user));
  expect(room).toBeGreaterThanOrEqual(0);
  const min = entryShare({ kind: 'message', author: user, text: 'x' })?.bytes ?? 0;
  if (room + 1 >= min) expect((await lines(run(s, user, `MSG probe ${textOf(user, room + 1)}`)))[0]).toMatch(/^Your messages hold as much/);
  if (room >= min) expect(await lines(run(s, user, `MSG probe ${textOf(user, room)}`))).toEqual(['Message posted to probe thread']);
};

describe("data-directory store: each account's share stays what its lines hold", () => {
  it.each([1, 2, 3, 4])('seed %i: 25 rounds of concurrent MSG, UPD, EDT, DLT and RMV by three accounts, then probed live and after a restart', async (seed) => {
    const rnd = random(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
    const dir = mkdtempSync(join(tmpdir(), 'forum-share-fuzz-'));
    let s = await open(dir);
    for (const t of TITLES) await run(s, pick(USERS), `CRT ${t}`);
    for (let round = 0; round < 25; round++) {
      const ops: Promise<unknown>[] = [];
      for (let k = 0; k < 8; k++) {
        const user = pick(USERS);
        const title = pick(TITLES);
        const r = rnd();
        const text = 'z'.repeat(1 + Math.floor(rnd() * 900));
        const own = await ownNumbers(s, user, title);
        if (r < 0.1) ops.push(upload(s, title, `f${round}-${k}.bin`, user, new Uint8Array(1 + Math.floor(rnd() * 2000))));
        else if (r < 0.5 || own.length === 0) ops.push(run(s, user, `MSG ${title} ${text}`, `r${round}-${k}`));
        else if (r < 0.75) ops.push(run(s, user, `EDT ${title} ${pick(own)} ${text}`, `r${round}-${k}`));
        else if (r < 0.95) ops.push(run(s, user, `DLT ${title} ${pick(own)}`, `r${round}-${k}`));
        else ops.push(run(s, user, `RMV ${title}`, `r${round}-${k}`).then(() => run(s, user, `CRT ${title}`, `c${round}-${k}`)));
      }
      await Promise.all(ops);
    }
    await run(s, 'ann', 'CRT probe');
    for (const u of USERS) await probe(s, u);
    s = await open(dir);
    // Each account's last probe deleted, so that there is room to probe again.
    for (const u of USERS) {
      const mine = await ownNumbers(s, u, 'probe');
      await run(s, u, `DLT probe ${String(mine[mine.length - 1])}`);
    }
    for (const u of USERS) await probe(s, u);
  }, 60_000);
});
