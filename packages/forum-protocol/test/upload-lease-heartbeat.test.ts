/**
 * The upload leases' heartbeat against a database that does not answer: one renewal waits at a time.
 * Before, every tick sent another UPDATE, each holding a pool connection until the database answered,
 * so a database hung for a minute (12 ticks of a 15 s lease) took every connection of a pool of 10.
 */
import type { Sql } from 'postgres';
import { afterEach, expect, it, vi } from 'vitest';
import { UploadLeases } from '../src/postgres-store/postgres-upload-leases.js';

afterEach(() => {
  vi.useRealTimers();
});

/** A database that takes every statement and answers only when `answer` is called; counts them. */
const silentDatabase = (): { readonly sql: Sql; readonly sent: () => number; readonly answer: () => void } => {
  let sent = 0;
  let waiting: (() => void)[] = [];
  const query = (): Promise<unknown[]> => {
    sent += 1;
    return new Promise((resolve) => waiting.push(() => resolve([])));
  };
  return {
    sql: query as unknown as Sql,
    sent: () => sent,
    answer: () => {
      const now = waiting;
      waiting = [];
      now.forEach((f) => f());
    },
  };
};

it('sends no renewal while the last one is unanswered, and renews again once it is', async () => {
  vi.useFakeTimers();
  const db = silentDatabase();
  const leases = new UploadLeases(db.sql, 15_000);
  leases.hold('7');
  // A minute of ticks (every 5 s) with the database silent: the first renewal only.
  await vi.advanceTimersByTimeAsync(60_000);
  expect(db.sent()).toBe(1);
  db.answer();
  await vi.advanceTimersByTimeAsync(5_000);
  expect(db.sent()).toBe(2);
  leases.close();
});

it('renews at every tick while the database answers', async () => {
  vi.useFakeTimers();
  const db = silentDatabase();
  const leases = new UploadLeases(db.sql, 15_000);
  leases.hold('7');
  for (let tick = 1; tick <= 4; tick += 1) {
    await vi.advanceTimersByTimeAsync(5_000);
    expect(db.sent()).toBe(tick);
    db.answer();
  }
  leases.close();
});
