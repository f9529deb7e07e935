/**
 * The upload leases' heartbeat against a database that does not answer: one renewal waits at a time.
 * Before, every tick sent another UPDATE, each holding a pool connection until the database answered,
 * so a database hung for a minute (12 ticks of a 15 s lease) took every connection of a pool of 10.
 */
import { afterEach, expect, it, vi } from 'vitest';
import { UploadLeases } from '../src/postgres-store/postgres-upload-leases.js';
import { silentDatabase } from './silent-database.js';

afterEach(() => {
  vi.useRealTimers();
});

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
