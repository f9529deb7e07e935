/**
 * Unacknowledged replies are bounded over all hosts, not only per host (SECURITY.md, Memory per connection and in
 * all). Real sockets on loopback, the server in this process so that its counts can be read: eight client hosts
 * (127.0.0.11–18), each with three logged-in connections behind proxies that drop what the server sends, ask for a
 * 2 MiB thread. Each host stays far under its own budget (16 MiB), so before the server-wide budget their sum
 * reached 24 replies (some 50 MiB) against a server budget of 24 MiB. Now the sum stays within it; a client of another
 * host (127.0.0.50) posts at once and gets the thread once the silent holders' replies are stale: they are closed for
 * it, and it is not.
 */
import { encodeRequest } from 'forum-protocol';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from './forum-processes.js';
import { silentLogin, startReplyBudgetScene, until } from './silent-client.js';
import { rawClient, rawLogin } from './raw-client.js';

const MIB = 1024 * 1024;
const HOSTS = Array.from({ length: 8 }, (_, i) => `127.0.0.${11 + i}`);
const PER_HOST = 3;
/** The server's budget: 24 replies of the 2 MiB thread would take 50 MiB. */
const TOTAL = 24 * MIB;


describe('the server-wide reply budget (real sockets, several client hosts)', () => {
  const scope = cleanupAfterEach();

  it(`${HOSTS.length} hosts of ${PER_HOST} silent connections hold at most the server's budget; a client of another host is served, the holders are closed`, async () => {
    const users = HOSTS.flatMap((_, h) => Array.from({ length: PER_HOST }, (_, i) => `m${h}x${i}`));
    const log: string[] = [];
    const { server, proxies, silent } = await startReplyBudgetScene(scope, 'server-reply-budget', users, {
      replyBudgetBytes: 16 * MIB,
      // Older code took no such option and had no server-wide bound.
      maxReplyBytes: TOTAL,
      // 1 s and 1 ms per KiB of the reply (3 s for the thread): the default 5 s makes the test longer, not different.
      replyStaleAfterMs: 1_000,
      log: (line) => log.push(line),
    });
    // The sum over the hosts, sampled every millisecond or so (per host: the count every version of the server has).
    const inAll = (): number => [...HOSTS, '127.0.0.50'].reduce((sum, h) => sum + server.replyBytesHeld(h), 0);
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, inAll())), 1);
    scope.stops.push(() => clearInterval(sampler));

    let n = 0;
    for (const host of HOSTS) {
      for (let i = 0; i < PER_HOST; i++) {
        const user = users[n++] as string;
        // From now on the server's datagrams to it are dropped: nothing it sends is acknowledged.
        const { proxy, conn } = await silentLogin(server.udpPort, user, host);
        proxies.push(proxy);
        silent.push(conn);
      }
    }
    const t0 = performance.now();
    for (const conn of silent) conn.send(encodeRequest({ id: 'r', username: '', cmd: 'RDT', args: ['big'] })).catch(() => undefined);

    // Before the server-wide budget all 24 replies were sent at once: some 50 MiB held.
    await until(() => peak > TOTAL || log.some((l) => l.startsWith('Server reply budget is short')), 20_000, 'the server budget to fill');
    await until(() => peak > TOTAL || inAll() > TOTAL / 2, 20_000, 'replies to be held');
    expect(peak).toBeLessThanOrEqual(TOTAL);

    // A client of another host posts at once (small replies keep room of their own) and reads the thread.
    const honest = await rawClient(server.udpPort, { localAddress: '127.0.0.50', handshakeTimeoutMs: 30_000 });
    scope.closers.push(() => honest.close());
    expect((await rawLogin(honest, 'alice', 'pw')).lines).toEqual(['Welcome to the forum']);
    const m0 = performance.now();
    expect((await honest.request('n1', 'MSG', ['big', 'hello'])).lines).toEqual(['Message posted to big thread']);
    expect(performance.now() - m0).toBeLessThan(2_000);
    const read = await honest.request('n2', 'RDT', ['big']);
    expect(read.lines).toHaveLength(513);
    // The silent replies are stale 3 s after they were sent: the honest read is served then, long before the
    // transport would drop the silent connections.
    expect(performance.now() - t0).toBeLessThan(9_000);
    expect(log.some((l) => l.startsWith('Client is not acknowledging replies while others wait'))).toBe(true);
    expect(honest.conn.closed).toBe(false);
    await until(() => server.replyBytesHeld('127.0.0.50') === 0, 10_000, "the honest client's acknowledgement");
    expect(peak).toBeLessThanOrEqual(TOTAL);
    expect(server.replyBytesHeldInAll()).toBeLessThanOrEqual(TOTAL);

    // The silent connections go: everything they held is released.
    silent.forEach((c) => c.destroy());
    await until(() => inAll() === 0, 20_000, 'every reply released');
    expect(server.replyBytesHeldInAll()).toBe(0);
    expect(peak).toBeLessThanOrEqual(TOTAL);
  }, 30_000);
});
