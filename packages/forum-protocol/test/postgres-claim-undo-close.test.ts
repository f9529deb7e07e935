/**
 * The undos of given-up lease claims (postgres-claim-undo.ts) at a registry's close, and as they give up: a close
 * stopped them at once, so a claim that landed during a graceful stop held its account for the lease (15 s); and
 * each undo that gave up said so on a line of its own, so an outage's burst of given-up logins flooded the log.
 */
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { ABANDON_AFTER_MS, RELEASE_DEADLINE_MS } from '../src/postgres-store/postgres-abandon.js';
import { withCommandDeadline } from '../src/store/command-deadline.js';
import { claimBackend, proxiedRegistry, type ProxiedRegistry } from './proxied-registry.js';
import { usePostgres } from './postgres-harness.js';
import { until } from './poll-until.js';

const pg = usePostgres({ migrated: 3 });

/** The commands' deadline here (the server's is 6 s): short, for a quick test. */
const DEADLINE_MS = 800;

/** {@link proxiedRegistry}'s, every connection of its pool open. */
const proxied = async (connections: number, undoClaimForMs?: number): Promise<ProxiedRegistry> => {
  const proxiedOne = await proxiedRegistry(pg, { connections, serverId: 'closing', ...(undoClaimForMs === undefined ? {} : { undoClaimForMs }) });
  await Promise.all(Array.from({ length: connections }, () => proxiedOne.store.sql`SELECT pg_sleep(0.05)`));
  return proxiedOne;
};

describe("PostgreSQL: given-up lease claims' undos at close, and as they give up", () => {
  it('a claim that lands while the registry closes is undone by the close: its account is not held for the lease', async () => {
    const { direct, proxy, registry, errors } = await proxied(1);
    expect(await registry.tryAcquire('ann', 'closing/c1')()).toEqual(E.right(true));
    // The backend of the pool's one connection (idle, ann's claim its last statement): bob's claim goes there.
    const { watcher, pid } = await claimBackend(pg);
    proxy.hold();
    expect(await withCommandDeadline(DEADLINE_MS, () => registry.tryAcquire('bob', 'closing/c2')())).toMatchObject(E.left({ kind: 'io', timedOut: true }));
    // A graceful stop while bob's claim is still on its way; the partition heals as it closes.
    const closing = registry.close();
    proxy.heal();
    // The database runs bob's claim, then reads its client's close, and its backend ends.
    await until(async () => (await watcher`SELECT 1 FROM pg_stat_activity WHERE pid = ${pid}`).length === 0);
    await closing;
    // Before: the close stopped the undo at once, and bob's lease, landed after, held the account for 15 s.
    expect(await direct.sql`SELECT username FROM session_leases WHERE server_id = 'closing'`).toEqual([]);
    expect(errors).toEqual([]);
  }, 20_000);

  // The two below side by side (it.concurrent): each waits out deadlines on a schema and proxy of its own, and neither
  // reads pg_stat_activity, where the test above looks for the backend of its claim among all.
  it.concurrent("closing at a database cut off: the deletion of the registry's leases ends at its deadline, not when TCP gives up", async () => {
    const { direct, proxy, registry } = await proxied(1);
    expect(await registry.tryAcquire('dan', 'closing/c5')()).toEqual(E.right(true));
    // The pool's connection cut off (new ones pass): the close's DELETE is written to it and never reaches the database.
    proxy.hold();
    const started = performance.now();
    const closed = await Promise.race([registry.close().then(() => performance.now() - started), new Promise<'still waiting'>((resolve) => setTimeout(() => resolve('still waiting'), 6_000))]);
    // Before: still waiting (the server's stop with it).
    expect(closed).not.toBe('still waiting');
    expect(closed).toBeLessThan(RELEASE_DEADLINE_MS + ABANDON_AFTER_MS + 700);
    // Not deleted: it lapses within the lease.
    expect(await direct.sql`SELECT username FROM session_leases WHERE server_id = 'closing'`).toEqual([{ username: 'dan' }]);
  }, 20_000);

  it.concurrent('undos that give up together are told in one line, not one each', async () => {
    const CLAIMS = 8;
    // Each undo asks for 1 s (60 s in a server); the partition stays, so every one gives up.
    const { proxy, registry, errors } = await proxied(CLAIMS, 1_000);
    // Every connection open, then cut off: each claim is written to one of them and held.
    proxy.hold();
    const taken = await Promise.all(
      Array.from({ length: CLAIMS }, (_, i) => withCommandDeadline(DEADLINE_MS, () => registry.tryAcquire(`user${i}`, `closing/c${i}`)())),
    );
    for (const t of taken) expect(t).toMatchObject(E.left({ kind: 'io', timedOut: true }));
    expect(errors).toEqual([]);
    /** How many undos the lines tell of. */
    const told = (): number => errors.reduce((n, line) => n + (line.startsWith("a given-up login's") ? 1 : Number(/^(\d+) given-up logins'/.exec(line)?.[1] ?? 0)), 0);
    await until(() => told() >= CLAIMS, 10_000);
    expect(told()).toBe(CLAIMS);
    // Before: one line an undo (8). They began within milliseconds of each other: one round, or two at a pause's edge.
    expect(errors.length).toBeLessThanOrEqual(2);
    expect(errors[0]).toMatch(/given-up logins' session leases \(of (user\d+, )*(user\d+|and \d+ more)\) were not undone \(they lapse within 15000 ms\): |^a given-up login's session lease of user\d+ was not undone/);
  }, 20_000);
});
