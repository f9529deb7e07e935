/**
 * An upload that begins as another server removes its thread (RMV) and a third user makes the title again (CRT):
 * the pending row's insert reads the thread row it was granted, and its foreign key is checked at the end of the
 * statement against the title alone. With the RMV and the CRT committed in between, the check found the new
 * thread, and the upload went on into it: committed, the file was listed in another user's thread of that title.
 * Made to happen exactly there: a test transaction holds an uncommitted upload row of the id the insert is given
 * next (its primary key's check waits for it), while the RMV and the CRT run.
 */
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { lines, run } from './helpers.js';
import { lockWaiters } from './held-lock.js';
import { until } from './poll-until.js';
import { usePostgres } from './postgres-harness.js';

const pg = usePostgres({ migrated: 1 });

describe('PostgreSQL upload begun as its thread is removed and made again', () => {
  it('does not go into the new thread of the title', async () => {
    const a = await pg.openStore({ timeouts: { lockMs: 30_000 } });
    await run(a, 'alice', 'CRT t');
    await run(a, 'alice', 'CRT other');
    // The next id the upload's row is given, held by an uncommitted row of another thread.
    const [next] = await a.sql<{ id: string }[]>`SELECT (setval('uploads_id_seq', 1000) + 1)::text AS id`;
    if (next === undefined) throw new Error('no sequence');
    let release: () => void = () => undefined;
    let held: () => void = () => undefined;
    const isHeld = new Promise<void>((resolve) => (held = resolve));
    const holder = a.sql
      .begin(async (tx) => {
        await tx`INSERT INTO uploads (id, thread, filename, uploader) VALUES (${next.id}, 'other', 'x', 'carol')`;
        held();
        await new Promise<void>((resolve) => (release = resolve));
        throw new Error('rolled back');
      })
      .catch(() => undefined);
    await isHeld;
    const begin = a.beginUpload('t', 'f.bin', 'alice')();
    await until(async () => (await lockWaiters(a.sql)) >= 1, 20_000);
    // Another server's RMV, then bob makes the title again: both done before the insert's check (before), or
    // the RMV waits for the insert, which holds the row it read (after).
    const remade = lines(run(a, 'alice', 'RMV t')).then(async (rmv) => [...rmv, ...(await lines(run(a, 'bob', 'CRT t')))]);
    let done = false;
    void remade.then(() => (done = true));
    await until(async () => done || (await lockWaiters(a.sql)) >= 2, 20_000);
    release();
    await holder;
    const begun = await begin;
    expect(await remade).toEqual(['Thread t removed', 'Thread t created']);
    const committed = E.isLeft(begun) ? begun : await (begun.right.stream.end(Buffer.from('data')), begun.right.commit());
    // Before: committed, and listed in bob's thread t ("alice uploaded f.bin").
    expect(committed).toEqual(E.left({ kind: 'noThread', title: 't' }));
    expect(await lines(run(a, 'bob', 'RDT t'))).toEqual(['Thread t is empty']);
    expect(await a.sql`SELECT 1 FROM uploads WHERE thread = 't'`).toHaveLength(0);
  });
});
