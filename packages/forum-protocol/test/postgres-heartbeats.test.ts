/**
 * The session leases' and upload places' heartbeats against a database that does not answer: one
 * renewal waits at a time, as the upload leases' does (upload-lease-heartbeat.test.ts). Before, every tick
 * sent another statement, each holding a pool connection until the database answered: with the upload
 * leases' the three took the pool of 10 by their fourth tick, 20 s into the silence.
 */
import * as E from 'fp-ts/lib/Either.js';
import { afterEach, expect, it, vi } from 'vitest';
import { startHeartbeat } from '../src/postgres-store/postgres-heartbeat.js';
import { createPostgresSessionRegistry } from '../src/postgres-store/postgres-sessions.js';
import { createPostgresUploadSlots } from '../src/postgres-store/postgres-upload-slots.js';
import { silentDatabase } from './silent-database.js';

afterEach(() => {
  vi.useRealTimers();
});

it("the session leases' heartbeat sends no renewal while the last one is unanswered, and renews again once it is", async () => {
  vi.useFakeTimers();
  const db = silentDatabase();
  const registry = createPostgresSessionRegistry(db.sql, { serverId: 's1', leaseMs: 15_000 });
  // A lease held: the heartbeat renews the leases its server holds, and sends nothing while it holds none.
  const taking = registry.tryAcquire('ann', 's1/c1')();
  db.answer([{ username: 'ann' }]);
  expect(await taking).toEqual(E.right(true));
  // A minute of ticks (every 5 s) with the database silent: the first renewal only (before: 12).
  await vi.advanceTimersByTimeAsync(60_000);
  expect(db.sent()).toBe(2);
  db.answer([{ connection_key: 's1/c1' }]);
  await vi.advanceTimersByTimeAsync(5_000);
  expect(db.sent()).toBe(3);
  db.answer([{ connection_key: 's1/c1' }]);
  // Its close deletes this server's rows: answered too.
  const closing = registry.close();
  db.answer();
  await closing;
});

it("the upload places' heartbeat sends no renewal while the last one is unanswered, and renews again once it is", async () => {
  vi.useFakeTimers();
  const db = silentDatabase();
  const slots = createPostgresUploadSlots(db.sql, { serverId: 's1', perUser: 2, leaseMs: 15_000 });
  // No place held: each renewal is its sweep of lapsed places, one statement.
  await vi.advanceTimersByTimeAsync(60_000);
  expect(db.sent()).toBe(1);
  db.answer();
  await vi.advanceTimersByTimeAsync(5_000);
  expect(db.sent()).toBe(2);
  db.answer();
  // Its close deletes this server's rows: answered too.
  const closing = slots.close();
  db.answer();
  await closing;
});

it('a heartbeat beats at every tick while each beat is answered in time', async () => {
  vi.useFakeTimers();
  let beats = 0;
  const stop = startHeartbeat(1_000, async () => void (beats += 1), () => undefined);
  await vi.advanceTimersByTimeAsync(4_000);
  expect(beats).toBe(4);
  stop();
  await vi.advanceTimersByTimeAsync(4_000);
  expect(beats).toBe(4);
});

it('a failed beat is told to onError, one that throws is ignored, and the next tick beats again', async () => {
  vi.useFakeTimers();
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown): void => void unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  try {
    const told: unknown[] = [];
    let beats = 0;
    const stop = startHeartbeat(
      1_000,
      async () => {
        beats += 1;
        throw new Error(`beat ${beats} failed`);
      },
      (e) => {
        told.push(e instanceof Error ? e.message : e);
        throw new Error('the log failed too');
      },
    );
    await vi.advanceTimersByTimeAsync(2_000);
    stop();
    expect(told).toEqual(['beat 1 failed', 'beat 2 failed']);
    // The rejection of a promise nobody awaits is reported before the next turn of the event loop.
    vi.useRealTimers();
    await new Promise((resolve) => setImmediate(resolve));
    expect(unhandled).toEqual([]);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});
