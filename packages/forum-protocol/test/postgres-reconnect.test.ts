/**
 * A database that is gone for a moment (a restart: every connection reset, new ones refused) and back:
 * the store's pool reconnects within a second of its return. postgres.js counts every connection's
 * failure against one counter of its pool and waits `3^n / 100` s (up to 20 s) before a connection
 * that failed connects again: a restart of half a second, ten connections failing at once, left
 * requests waiting 16–19 s for a connection after the database was back (attack round 18).
 */
import * as E from 'fp-ts/lib/Either.js';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { openPostgresStore } from '../src/postgres.js';
import { MAX_RECONNECT_DELAY_S, reconnectDelaySeconds } from '../src/postgres-store/postgres-reconnect.js';
import { loopbackProxy } from './loopback-proxy.js';
import { usePostgres } from './postgres-harness.js';

const pg = usePostgres();

describe('the store after the database was gone for a moment', () => {
  it('reconnects its ten connections within a second of the database coming back', async () => {
    let down = false;
    const clients = new Set<Socket>();
    const proxy = await loopbackProxy(pg.url(), (client, upstream) => {
      // Down: a connection is reset as it comes (the driver reads ECONNRESET, as from a database restarting).
      if (down) return void client.resetAndDestroy();
      clients.add(client);
      client.on('close', () => clients.delete(client));
      client.pipe(upstream).pipe(client);
    });
    pg.onClose(() => proxy.close());
    const opened = await openPostgresStore(proxy.url, { schema: `t${process.pid}_reconnect`, maxConnections: 10 })();
    if (E.isLeft(opened)) throw new Error(opened.left.message);
    const store = opened.right;
    pg.onClose(() => store.close());
    const ten = (): Promise<readonly boolean[]> => Promise.all(Array.from({ length: 10 }, async () => E.isRight(await store.listThreads()())));
    expect(await ten()).toEqual(Array.from({ length: 10 }, () => true));

    // Gone for 600 ms: every connection reset, and each request meanwhile fails (its connection's attempt is reset).
    down = true;
    for (const c of clients) c.resetAndDestroy();
    const failed: boolean[] = [];
    for (const end = performance.now() + 600; performance.now() < end; ) failed.push(...(await ten()));
    expect(failed.every((ok) => !ok)).toBe(true);

    down = false;
    const back = performance.now();
    const took = await Promise.all(Array.from({ length: 10 }, async () => ((await store.listThreads()())._tag === 'Right' ? performance.now() - back : Number.NaN)));
    process.stderr.write(`postgres-reconnect: ${failed.length} requests failed while down; the ten after it answered in ${took.map((ms) => ms.toFixed(0)).join(', ')} ms\n`);
    // Before: most waited for their connection's backoff, up to 20 s.
    expect(took.every((ms) => ms < MAX_RECONNECT_DELAY_S * 1000 + 1000)).toBe(true);
  }, 60_000);

  it('waits longer after each failure, at most a second', () => {
    const delays = [0, 1, 2, 3, 4, 10, 100].map((n) => reconnectDelaySeconds(n));
    expect(delays.every((d) => d >= 0 && d <= MAX_RECONNECT_DELAY_S)).toBe(true);
    expect(reconnectDelaySeconds(100)).toBeGreaterThanOrEqual(MAX_RECONNECT_DELAY_S / 2);
    expect(reconnectDelaySeconds(0)).toBeLessThan(0.02);
  });
});
