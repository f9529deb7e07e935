import type { Sql, TransactionSql } from 'postgres';
import { until } from './poll-until.js';

/** Backends of the database waiting on a lock (a row, a transaction, an advisory lock). */
export const lockWaiters = async (sql: Sql): Promise<number> =>
  (await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)[0]?.n ?? 0;

/** Thrown inside the holding transaction to roll it back. */
class RollBack extends Error {}

/**
 * Runs `commands` while a transaction of `sql` holds what `hold` took (a row's lock, an uncommitted delete), and
 * ends that transaction (committed, or rolled back with `rollBack`) once `waiters` backends wait on a lock: each command has run up to its first
 * statement that needs what is held. Two commands that must not both act on what they read before it interleave
 * exactly there, as two servers' would at worst, with no sleep. Resolves to the commands' results.
 */
export const heldUntilWaiting = async <A>(
  sql: Sql,
  hold: (tx: TransactionSql) => Promise<unknown>,
  waiters: number,
  commands: () => readonly Promise<A>[],
  rollBack = false,
): Promise<readonly A[]> => {
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  let held: () => void = () => undefined;
  const isHeld = new Promise<void>((resolve) => (held = resolve));
  const holder = sql.begin(async (tx) => {
    await hold(tx);
    held();
    await released;
    if (rollBack) throw new RollBack();
  }).catch((e: unknown) => {
    if (!(e instanceof RollBack)) throw e;
  });
  await isHeld;
  const running = commands();
  try {
    await until(async () => (await lockWaiters(sql)) >= waiters, 20_000);
  } finally {
    release();
    await holder;
  }
  return Promise.all(running);
};
