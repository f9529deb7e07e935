/**
 * An upload that begins while another server's RMV of its thread is under way (deleted, not yet committed): the
 * pending row's insert still sees the thread, and its foreign key's check waits for the RMV and fails once it
 * commits. Before attack round 23 that failure was read as an error of the database, and the sender told "The
 * server could not complete the upload, please try again", to a thread that no longer existed.
 */
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { lines, run } from './helpers.js';
import { heldUntilWaiting } from './held-lock.js';
import { usePostgres } from './postgres-harness.js';

const pg = usePostgres({ migrated: 4 });

describe('PostgreSQL upload begun during a RMV', () => {
  it('is refused as its thread gone, not as a database error, and leaves no pending row', async () => {
    // The wait is released as soon as the upload waits: a lock_timeout on a loaded machine must not end it first.
    const a = await pg.openStore({ timeouts: { lockMs: 30_000 } });
    await run(a, 'alice', 'CRT t');
    const [begun] = await heldUntilWaiting(a.sql, (tx) => tx`DELETE FROM threads WHERE title = 't'`, 1, () => [a.beginUpload('t', 'f.bin', 'alice')()]);
    expect(begun).toEqual(E.left({ kind: 'noThread', title: 't' }));
    expect(await a.sql`SELECT id FROM uploads`).toHaveLength(0);
  });

  it('goes on, and commits, when the RMV is rolled back instead', async () => {
    const a = await pg.openStore({ timeouts: { lockMs: 30_000 } });
    await run(a, 'alice', 'CRT t');
    const [begun] = await heldUntilWaiting(a.sql, (tx) => tx`DELETE FROM threads WHERE title = 't'`, 1, () => [a.beginUpload('t', 'f.bin', 'alice')()], true);
    if (begun === undefined || E.isLeft(begun)) throw new Error(`not begun: ${JSON.stringify(begun)}`);
    begun.right.stream.end(Buffer.from('data'));
    expect(await begun.right.commit()).toEqual(E.right(undefined));
    expect(await lines(run(a, 'alice', 'RDT t'))).toEqual(['alice uploaded f.bin']);
  });
});
