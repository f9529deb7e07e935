/**
 * An upload's place among its user's uploads (postgres-upload-slots.ts) taken or given back at a database that
 * does not answer. Before, the take was one statement: given up at its command's deadline it still ran, and
 * its place was held, given back by nobody, until its lease lapsed (15 s); and giving a place back had no
 * deadline, so at a silent database it waited for as long as TCP did, and the user's next take with it.
 */
import * as E from 'fp-ts/lib/Either.js';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { createPostgresUploadSlots, type PostgresStore, type PostgresUploadSlots } from '../src/postgres.js';
import { ABANDON_AFTER_MS } from '../src/postgres-store/postgres-abandon.js';
import { withCommandDeadline } from '../src/store/command-deadline.js';
import { holdAnswersAfter, partitionAfterCommit } from './answer-holding-proxies.js';
import { loopbackProxy } from './loopback-proxy.js';
import { commitSpotter, frontendMessages } from './postgres-wire.js';
import { holdingProxy } from './holding-proxy.js';
import type { LoopbackProxy } from './loopback-proxy.js';
import { usePostgres } from './postgres-harness.js';
import { until } from './poll-until.js';

const pg = usePostgres({ migrated: 4 });

/** The take's command deadline here (a transfer's store step is 6 s in a server). */
const DEADLINE_MS = 800;

/** Giving a place back may take this long here (2 s in a server). */
const RELEASE_MS = 500;

/** A loaded machine's timers. */
const SLACK_MS = 700;

/** PostgreSQL's own limits far off: what ends the statements here is the deadline, not the database. */
const TIMEOUTS = { statementMs: 60_000, lockMs: 60_000, idleInTransactionMs: 60_000 } as const;

/** `p`'s value and how long it took, or 'still waiting' after `ms`. */
const timed = <A>(p: Promise<A>, ms: number): Promise<{ readonly value: A; readonly ms: number } | 'still waiting'> => {
  const from = performance.now();
  return Promise.race([p.then((value) => ({ value, ms: performance.now() - from })), new Promise<'still waiting'>((resolve) => setTimeout(() => resolve('still waiting'), ms))]);
};

/**
 * A proxy in front of the database that, once armed, holds the client's bytes from the next COMMIT on, and its
 * close, until `heal`: a COMMIT still on its way (TCP retransmitting it through a partition) when its take is
 * given up and the undo asks about its backend.
 */
const holdCommit = async (url: string): Promise<LoopbackProxy & { arm(): void; heal(): void }> => {
  let armed = false;
  const heals: (() => void)[] = [];
  const proxy = await loopbackProxy(url, (client, upstream) => {
    const isCommit = commitSpotter();
    let held: Buffer[] | undefined;
    let closed = false;
    client.on('data', (chunk: Buffer) => {
      if (held === undefined && armed && frontendMessages(chunk).some(isCommit)) {
        armed = false;
        held = [];
        heals.push(() => {
          for (const c of held ?? []) upstream.write(c);
          held = undefined;
          if (closed) upstream.end();
        });
      }
      if (held === undefined) upstream.write(chunk);
      else held.push(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    return {
      clientClosed: () => {
        closed = true;
        if (held === undefined) upstream.destroy();
      },
    };
  });
  return { ...proxy, arm: () => void (armed = true), heal: () => heals.splice(0).forEach((h) => h()) };
};

/** Places (1 per user) on a store of `connections` that reaches the database through `proxy`, on `direct`'s schema; its errors told. */
const slotsBehind = async (
  proxy: LoopbackProxy,
  connections = 2,
): Promise<{ readonly direct: PostgresStore; readonly slots: PostgresUploadSlots; readonly errors: readonly string[]; readonly places: (user: string) => Promise<number> }> => {
  const direct = await pg.openStore({ timeouts: TIMEOUTS });
  const [{ s: schema } = { s: '' }] = await direct.sql<{ s: string }[]>`SELECT current_schema() AS s`;
  pg.onClose(() => proxy.close());
  const store = await pg.openPeerVia(proxy.url, schema, { timeouts: TIMEOUTS, maxConnections: connections });
  const errors: string[] = [];
  const slots = createPostgresUploadSlots(store.sql, { serverId: 's', perUser: 1, leaseMs: 15_000, releaseDeadlineMs: RELEASE_MS, onError: (m) => errors.push(m) });
  pg.onClose(() => slots.close());
  const places = async (user: string): Promise<number> => (await direct.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM upload_slots WHERE username = ${user}`)[0]?.n ?? -1;
  return { direct, slots, errors, places };
};

/** Whether no backend of the database runs or waits in a transaction but `watcher`'s own. */
const allIdle = async (watcher: postgres.Sql): Promise<boolean> =>
  (await watcher`SELECT 1 FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_type = 'client backend' AND state <> 'idle'`).length === 0;

describe('PostgreSQL: an upload place taken or given back at a database that does not answer', () => {
  it("a take whose answer never comes is refused 'try again' at its deadline, and leaves no place once the database reads the connection's end", async () => {
    const proxy = await holdAnswersAfter(pg.url());
    const { slots, places } = await slotsBehind(proxy);
    proxy.arm('forum_upload_slot_take');
    const taken = await timed(
      withCommandDeadline(DEADLINE_MS, () => slots.take('ann')()),
      DEADLINE_MS + ABANDON_AFTER_MS + 5_000,
    );
    expect(taken).not.toBe('still waiting');
    if (taken === 'still waiting') return;
    expect(taken.value).toMatchObject(E.left({ kind: 'io', timedOut: true }));
    expect(taken.ms).toBeLessThan(DEADLINE_MS + ABANDON_AFTER_MS + SLACK_MS);
    const watcher = pg.connect();
    // The take's connection destroyed: its backend reads the end and rolls back what it had open.
    await until(() => allIdle(watcher));
    // Before: the take ran on its own and committed with nobody told: ann's one place held for its lease (15 s).
    expect(await places('ann')).toBe(0);
    expect(E.isRight(await withCommandDeadline(DEADLINE_MS, () => slots.take('ann')())) ? 'taken' : 'refused').toBe('taken');
    expect(await places('ann')).toBe(1);
  }, 20_000);

  it("a take whose COMMIT landed and was never answered is refused 'try again', not 'may or may not', and its place is undone", async () => {
    const proxy = await partitionAfterCommit(pg.url());
    const { slots, places, errors } = await slotsBehind(proxy);
    proxy.arm('forum_upload_slot_take');
    const taken = await withCommandDeadline(DEADLINE_MS, () => slots.take('bob')());
    // Before: one statement, no COMMIT: the take was answered (a place) and nothing held.
    expect(proxy.partitioned()).toBe(1);
    expect(taken).toMatchObject(E.left({ kind: 'io', timedOut: true }));
    if (E.isLeft(taken)) expect(taken.left).not.toHaveProperty('outcomeUnknown');
    // It committed: the place is there until the undo deletes it (its backend ended or idle with its mark).
    await until(async () => (await places('bob')) === 0);
    expect(errors).toEqual([]);
    expect(E.isRight(await withCommandDeadline(DEADLINE_MS, () => slots.take('bob')())) ? 'taken' : 'refused').toBe('taken');
  }, 20_000);

  it("giving a place back at a database cut off ends at the release's deadline, the user's next take is not held, and the next renewal deletes the place", async () => {
    const proxy = await holdingProxy(pg.url());
    // One connection: the renewal below goes to a fresh one (a renewal written to one cut off waits for it).
    const { slots, places } = await slotsBehind(proxy, 1);
    const taken = await withCommandDeadline(DEADLINE_MS, () => slots.take('cat')());
    const release = E.isRight(taken) ? taken.right : undefined;
    if (release === undefined) throw new Error('no place taken');
    expect(await places('cat')).toBe(1);
    // The pool's connection cut off (new ones pass): the DELETE is written to it and never reaches the database.
    proxy.hold();
    const released = await timed(release(), RELEASE_MS + ABANDON_AFTER_MS + 5_000);
    // Before: still waiting, for as long as TCP would (and so was the upload's connection, and cat's next take).
    expect(released).not.toBe('still waiting');
    if (released === 'still waiting') return;
    expect(released.ms).toBeLessThan(RELEASE_MS + ABANDON_AFTER_MS + SLACK_MS);
    expect(await places('cat')).toBe(1);
    // The heartbeat's next renewal (on a fresh connection) deletes it: cat may upload again.
    await slots.renew();
    expect(await places('cat')).toBe(0);
    expect(E.isRight(await withCommandDeadline(DEADLINE_MS, () => slots.take('cat')())) ? 'taken' : 'refused').toBe('taken');
  }, 20_000);

  it("a take whose COMMIT is still on its way when the undo asks is undone once it lands: its backend, in its transaction, is not taken for one that ran it", async () => {
    const proxy = await holdCommit(pg.url());
    const { slots, places, errors } = await slotsBehind(proxy);
    proxy.arm();
    const taken = await withCommandDeadline(DEADLINE_MS, () => slots.take('dan')());
    expect(taken).toMatchObject(E.left({ kind: 'io', timedOut: true }));
    // Several rounds of the undo (every 250 ms) find the backend idle in its transaction, the COMMIT not read yet.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await places('dan')).toBe(0);
    // The COMMIT lands (the place is taken), then the connection's end; the undo then deletes the place.
    proxy.heal();
    const watcher = pg.connect();
    await until(() => allIdle(watcher));
    // An undo that took the backend in its transaction for one that had run the take deleted nothing: the place stayed.
    await until(async () => (await places('dan')) === 0);
    expect(errors).toEqual([]);
  }, 20_000);
});
