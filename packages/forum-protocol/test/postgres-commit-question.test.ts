/**
 * The question asked after a COMMIT whose answer was lost (postgres-commit-landed.ts) waits for a
 * transaction still open, or still committing, on a lock that transaction holds until it ends: read
 * at once, it says "not committed" of a change about to land, the user is told to try again, and the
 * retry doubles it. Here the transaction is held open on a second connection while the question is
 * asked, then committed or rolled back.
 */
import * as E from 'fp-ts/lib/Either.js';
import type { Sql, TransactionSql } from 'postgres';
import { describe, expect, it } from 'vitest';
import { committedAfterAll } from '../src/postgres-store/postgres-commit-landed.js';
import { ACCOUNT_LOCK_CLASS, accountCommittedAfterAll } from '../src/postgres-store/postgres-create-account.js';
import { createCommittedAfterAll, lockForCreate } from '../src/postgres-store/postgres-create-thread.js';
import { withCommandDeadline } from '../src/store/command-deadline.js';
import { usePostgres } from './postgres-harness.js';

const pg = usePostgres({ migrated: 8 });

/**
 * `change` run in a transaction left open until the question `asked(xid)` is waiting (it has not answered
 * `openSeconds` later, 0.2 s unless told), then ended as `end` says; the question's answer.
 */
const askedWhileOpen = async (
  sql: Sql,
  change: (tx: TransactionSql) => Promise<unknown>,
  asked: (xid: string) => Promise<boolean | undefined>,
  end: 'commit' | 'rollback',
  openSeconds = 0.2,
): Promise<{ readonly early: boolean; readonly answer: boolean | undefined }> => {
  let answer: Promise<boolean | undefined> | undefined;
  let early = false;
  const done = sql
    .begin(async (tx) => {
      await change(tx);
      const [row] = await tx<{ xid: string }[]>`SELECT txid_current()::text AS xid`;
      answer = asked(row?.xid ?? '');
      const first = await Promise.race([answer.then(() => true), tx`SELECT pg_sleep(${openSeconds})`.then(() => false)]);
      early = first;
      if (end === 'rollback') throw new Error('rolled back');
    })
    .catch(() => undefined);
  await done;
  return { early, answer: await answer };
};

describe('PostgreSQL: the question after a lost COMMIT answer', () => {
  it("waits past the connection's lock_timeout (0.5 s here, 2 s by default) for a change still open 1 s, within its own deadline, and answers committed", async () => {
    const store = await pg.openStore({ timeouts: { lockMs: 500 } });
    expect(await store.createThread('L', 'alice')()).toEqual(E.right(true));
    const started = performance.now();
    const r = await askedWhileOpen(
      store.sql,
      (tx) => tx`SELECT 1 FROM threads WHERE title = 'L' FOR UPDATE`,
      (xid) => withCommandDeadline(4_000, () => committedAfterAll(store.sql, 'L', xid)),
      'commit',
      1,
    );
    // Before: lock_timeout ended the wait (at 0.5 s here), and the MSG that landed was answered "may or may not be stored".
    expect(r).toEqual({ early: false, answer: true });
    expect(performance.now() - started).toBeLessThan(4_000);
  });

  it('gives up at its deadline when the transaction outlasts it: the outcome is unknown', async () => {
    const store = await pg.openStore();
    expect(await store.createThread('M', 'alice')()).toEqual(E.right(true));
    const r = await askedWhileOpen(
      store.sql,
      (tx) => tx`SELECT 1 FROM threads WHERE title = 'M' FOR UPDATE`,
      (xid) => withCommandDeadline(1_000, () => committedAfterAll(store.sql, 'M', xid)),
      'commit',
      2.5,
    );
    expect(r).toEqual({ early: true, answer: undefined });
  });

  for (const end of ['commit', 'rollback'] as const) {
    it(`waits for an RMV still open and answers ${end === 'commit' ? 'committed' : 'not committed'}`, async () => {
      const store = await pg.openStore();
      expect(await store.createThread('G', 'alice')()).toEqual(E.right(true));
      const r = await askedWhileOpen(store.sql, (tx) => tx`SELECT 1 FROM threads WHERE title = 'G' FOR UPDATE`.then(() => tx`DELETE FROM threads WHERE title = 'G'`), (xid) => committedAfterAll(store.sql, 'G', xid), end);
      expect(r).toEqual({ early: false, answer: end === 'commit' });
    });

    it(`waits for a CRT still open and answers ${end === 'commit' ? 'committed' : 'not committed'}`, async () => {
      const store = await pg.openStore();
      const r = await askedWhileOpen(
        store.sql,
        async (tx) => {
          await lockForCreate(tx, 'alice', 'shared');
          await tx`INSERT INTO threads (title, creator) VALUES ('C', 'alice')`;
        },
        (xid) => createCommittedAfterAll(store.sql, 'alice', xid),
        end,
      );
      expect(r).toEqual({ early: false, answer: end === 'commit' });
    });

    it(`waits for a new account still open and answers ${end === 'commit' ? 'committed' : 'not committed'}`, async () => {
      const store = await pg.openStore();
      const r = await askedWhileOpen(
        store.sql,
        (tx) => tx`SELECT pg_advisory_xact_lock(${ACCOUNT_LOCK_CLASS}, hashtext('carol'))`.then(() => tx`INSERT INTO accounts (username, secret) VALUES ('carol', 'pw')`),
        (xid) => accountCommittedAfterAll(store.sql, 'carol', xid),
        end,
      );
      expect(r).toEqual({ early: false, answer: end === 'commit' });
    });
  }
});
