import * as E from 'fp-ts/lib/Either.js';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { defaultMaxUserUploadBytes, UPLOAD_CHUNK_BYTES, type PostgresStore } from '../src/postgres.js';
import { commandErrorText } from '../src/store/errors.js';
import { lines, run } from './helpers.js';
import { usePostgres } from './postgres-harness.js';
import { uploadInChunks as upload } from './upload-in-chunks.js';

const pg = usePostgres({ migrated: 5 });

// The forum has room for 64 chunks, each account for 4 (attack round 27: one account filled the forum's room alone).
const ROOM = 64 * UPLOAD_CHUNK_BYTES;
const SHARE = 4 * UPLOAD_CHUNK_BYTES;

/** Two servers on one fresh forum, with `ROOM` for all uploads and `SHARE` for each account's. */
const twoServers = async (): Promise<readonly [PostgresStore, PostgresStore]> => {
  const options = { maxStoredUploadBytes: ROOM, maxUserUploadBytes: SHARE, doomedUploadSweep: { auto: false } };
  const a = await pg.openStore(options);
  const b = await pg.openPeer(a, options);
  return [a, b];
};


/**
 * Holds `upload_bytes`' row (which every chunk's insert locks, through its trigger) in a transaction of its own
 * until `release()`: what a slow reader under that lock did to every other chunk.
 */
const holdUploadBytesRow = async (store: PostgresStore): Promise<{ readonly release: () => Promise<void> }> => {
  let release = (): void => undefined;
  const releasing = new Promise<void>((resolve) => (release = resolve));
  let locked = (): void => undefined;
  const isLocked = new Promise<void>((resolve) => (locked = resolve));
  const holder = store.sql.begin(async (tx) => {
    await tx`UPDATE upload_bytes SET bytes = bytes`;
    locked();
    await releasing;
  });
  await isLocked;
  return {
    release: async () => {
      release();
      await holder;
    },
  };
};

describe("each account's share of the uploads' room (maxUserUploadBytes)", () => {
  it('one account\'s 6 uploads of 3 chunks at once over two servers, a share of 4 chunks: at most one commits, the rest refused as over its share; another account still uploads', async () => {
    const [a, b] = await twoServers();
    await run(a, 'mallory', 'CRT t');
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => upload(i % 2 === 0 ? a : b, 'mallory', `f${i}`, randomBytes(3 * UPLOAD_CHUNK_BYTES))));
    const committed = results.filter(E.isRight).length;
    // Before the share: all 6 committed (18 of the forum's 64 chunks).
    expect(committed).toBeLessThanOrEqual(1);
    expect(results.filter(E.isLeft)).toEqual(Array.from({ length: 6 - committed }, () => E.left({ kind: 'uploadStorageFull', limit: SHARE, who: 'account' })));
    const [held] = await a.sql<{ n: string }[]>`SELECT COALESCE(sum(size), 0) AS n FROM uploads WHERE uploader = 'mallory' AND committed`;
    expect(Number(held?.n)).toBeLessThanOrEqual(SHARE);
    expect(await upload(b, 'bob', 'mine', randomBytes(3 * UPLOAD_CHUNK_BYTES))).toEqual(E.right(undefined));
  });

  it('an upload announced past what is left of the share is refused as it begins, on either server, with its line; RMV of the thread gives the room back', async () => {
    const [a, b] = await twoServers();
    await run(a, 'mallory', 'CRT t');
    expect(await upload(a, 'mallory', 'three', randomBytes(3 * UPLOAD_CHUNK_BYTES))).toEqual(E.right(undefined));
    const refused = await b.beginUpload('t', 'two', 'mallory', undefined, 2 * UPLOAD_CHUNK_BYTES)();
    const expected = { kind: 'uploadStorageFull', limit: SHARE, who: 'account', announced: { free: UPLOAD_CHUNK_BYTES, size: 2 * UPLOAD_CHUNK_BYTES } } as const;
    expect(refused).toEqual(E.left(expected));
    expect(commandErrorText(expected)).toBe(
      `Your uploads hold as much of the forum as one user may: at most ${SHARE} bytes, ${UPLOAD_CHUNK_BYTES} are left to you, this file has ${2 * UPLOAD_CHUNK_BYTES} (an upload goes with its thread: remove threads of yours, or ask the creators of the other threads you uploaded to)`,
    );
    expect(await b.sql`SELECT count(*)::int AS n FROM uploads WHERE NOT committed`).toEqual([{ n: 0 }]);
    // Another account's file of that size begins.
    const other = await b.beginUpload('t', 'two', 'bob', undefined, 2 * UPLOAD_CHUNK_BYTES)();
    expect(E.isRight(other)).toBe(true);
    if (E.isRight(other)) await other.right.abort();
    expect(await lines(run(b, 'mallory', 'RMV t'))).toEqual(['Thread t removed']);
    await run(a, 'mallory', 'CRT t');
    expect(await upload(a, 'mallory', 'again', randomBytes(SHARE))).toEqual(E.right(undefined));
  });

  it('by default, with maxStoredUploadBytes, the share is 1/16 of it, at least 1 MiB, at most all of it', async () => {
    expect([defaultMaxUserUploadBytes(2 ** 30), defaultMaxUserUploadBytes(8 * 2 ** 20), defaultMaxUserUploadBytes(1000)]).toEqual([2 ** 26, 2 ** 20, 1000]);
    const a = await pg.openStore({ maxStoredUploadBytes: 32 * 2 ** 20 });
    await run(a, 'mallory', 'CRT t');
    const refused = await a.beginUpload('t', 'big', 'mallory', undefined, 2 * 2 ** 20 + 1)();
    expect(refused).toEqual(E.left({ kind: 'uploadStorageFull', limit: 2 * 2 ** 20, who: 'account', announced: { free: 2 * 2 ** 20, size: 2 * 2 ** 20 + 1 } }));
  });

  it("the share is read before the chunk's insert, not under the forum-wide count's row lock that every user's chunk takes", async () => {
    // Read after the insert, the share's read (as long as the account's uploads are many: 30-70 ms at 100,000 of
    // its own) ran under upload_bytes' row lock, and every other user's chunk on every server waited for it.
    // Here that row is held by another transaction: a chunk past the share is refused without waiting for it.
    const [a] = await twoServers();
    await run(a, 'mallory', 'CRT t');
    expect(await upload(a, 'mallory', 'full', randomBytes(SHARE))).toEqual(E.right(undefined));
    const row = await holdUploadBytesRow(a);
    try {
      const begun = await a.beginUpload('t', 'more', 'mallory')();
      if (E.isLeft(begun)) throw new Error('not begun');
      begun.right.stream.write(randomBytes(UPLOAD_CHUNK_BYTES));
      // Before: the insert waited for the row (lock_timeout), and the upload failed as the database's error.
      expect(await begun.right.stopped).toEqual({ kind: 'uploadStorageFull', limit: SHARE, who: 'account' });
    } finally {
      await row.release();
    }
  });

  it("two chunks of one account on two servers, room for one, both read while upload_bytes' row is held: one is stored, the other refused", async () => {
    // The share is read before the insert: without the account's lock both chunks read the same bytes, both fit,
    // and both were stored once the row was let go (the account past its share by a chunk).
    const [a, b] = await twoServers();
    await run(a, 'mallory', 'CRT t');
    expect(await upload(a, 'mallory', 'three', randomBytes(3 * UPLOAD_CHUNK_BYTES))).toEqual(E.right(undefined));
    const row = await holdUploadBytesRow(a);
    const writers = [];
    try {
      for (const [store, name] of [[a, 'x'], [b, 'y']] as const) {
        const begun = await store.beginUpload('t', name, 'mallory')();
        if (E.isLeft(begun)) throw new Error('not begun');
        writers.push(begun.right);
        begun.right.stream.write(randomBytes(UPLOAD_CHUNK_BYTES));
      }
      // Both chunks' transactions waiting on a lock (the row, or the first's account lock) before the row is let go.
      const waiting = async (): Promise<number> =>
        (await a.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`)[0]?.n ?? 0;
      for (let i = 0; i < 500 && (await waiting()) < 2; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(await waiting()).toBe(2);
    } finally {
      await row.release();
    }
    const results = await Promise.all(writers.map((w) => w.commit()));
    expect(results.filter(E.isRight).length).toBe(1);
    expect(results.filter(E.isLeft)).toEqual([E.left({ kind: 'uploadStorageFull', limit: SHARE, who: 'account' })]);
  });
});
