import postgres, { type Sql } from 'postgres';
import { setTimeout as sleep } from 'node:timers/promises';
import { outsideCommandDeadline } from '../store/command-deadline.js';
import { isTerminated } from './postgres-timeouts.js';

/**
 * How long {@link committedAfterAll} keeps asking while the database cannot be reached, ms. A COMMIT's answer
 * lost with its connection is most often a database that went away (a crash, an immediate shutdown) and comes
 * back within a second or two (crash recovery); asked once, then, the question failed too, and the change
 * that landed was answered a failure whose retry doubled it.
 */
export const COMMIT_QUESTION_MS = 5_000;

/** The pause between two questions, ms (the pool's reconnect backoff paces them too, postgres-reconnect.ts). */
const COMMIT_QUESTION_PAUSE_MS = 250;

/**
 * Whether `e` says the database could not be reached or was going away (a connection refused, reset or
 * closed; 57P01-03: shut down, crashed, starting up), rather than an answer it gave (a lock not granted in
 * lock_timeout, an xid it does not know): worth asking again.
 */
const outOfReach = (e: unknown): boolean => !(e instanceof postgres.PostgresError) || isTerminated(e);

/**
 * `question`'s answer, asked after a COMMIT whose answer was lost: outside the command's deadline, which may be
 * what failed the commit (the answer must still be true), and again for up to {@link COMMIT_QUESTION_MS} while
 * the database is out of reach. False when the database cannot tell (still out of reach, or it answers with an
 * error): the failure then stands.
 */
export const askedAfterLostCommit = (question: () => Promise<boolean>): Promise<boolean> =>
  outsideCommandDeadline(async () => {
    const until = performance.now() + COMMIT_QUESTION_MS;
    for (;;) {
      try {
        return await question();
      } catch (e) {
        if (!outOfReach(e) || performance.now() + COMMIT_QUESTION_PAUSE_MS >= until) return false;
        await sleep(COMMIT_QUESTION_PAUSE_MS);
      }
    }
  });

/**
 * Whether the transaction `xid` (its `txid_current()`), which changed thread `title` and whose COMMIT failed
 * from this side (the connection lost with COMMIT's answer), committed after all: asked on another
 * connection ({@link askedAfterLostCommit}), under the thread row's lock, so a COMMIT the database is still
 * running is waited for, not read as not yet done.
 */
export const committedAfterAll = (sql: Sql, title: string, xid: string): Promise<boolean> =>
  askedAfterLostCommit(() =>
    sql.begin(async (tx) => {
      await tx`SELECT 1 FROM threads WHERE title = ${title} FOR UPDATE`;
      const [row] = await tx<{ status: string | null }[]>`SELECT txid_status(${xid}::bigint) AS status`;
      return row?.status === 'committed';
    }),
  );
