/**
 * Unacknowledged replies of one client host are bounded in sum (SECURITY.md,
 * Memory per connection and in all; attack round 8, 5b: N logged-in accounts
 * of one host behind proxies that drop what the server sends held N × 5–10 MiB).
 * Real sockets on loopback, the server in this process so that its per-host
 * count (`replyBytesHeld`) can be read: ten silent connections of 127.0.0.1
 * each ask for a 2 MiB thread; the host's unacknowledged replies never pass
 * its budget, the rest of its requests wait, and a client of another host
 * (127.0.0.2) is served at once meanwhile; a neighbour at the same address
 * logs in and posts, and its read of the thread waits until the silent
 * connections are gone.
 */
import { encodeRequest } from 'forum-protocol';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from './forum-processes.js';
import { silentLogin, startReplyBudgetScene, until } from './silent-client.js';
import { rawClient, rawLogin } from './raw-client.js';

const MIB = 1024 * 1024;
/** The smallest budget the server takes (one largest reply, 8 MiB, must fit) and then some. */
const BUDGET = 16 * MIB;
const SILENT = 10;


describe('the reply budget of a client host (real sockets)', () => {
  const scope = cleanupAfterEach();

  it(`${SILENT} silent logged-in connections of one host asking for a 2 MiB thread hold at most its budget; another host is served at once`, async () => {
    const users = Array.from({ length: SILENT }, (_, i) => `m${i}`);
    const log: string[] = [];
    // The thread 'big' is 2 MiB: ten replies of it (20.6 MiB) pass the budget, four fit.
    const { server, proxies, silent } = await startReplyBudgetScene(scope, 'reply-budget', ['bob', ...users], {
      replyBudgetBytes: BUDGET,
      // The silent replies never count as stale here: the neighbour's read waits for the connections to go, not
      // for them to be closed for it (e2e-server-reply-budget.test.ts), whatever the machine's pace.
      replyStaleAfterMs: 600_000,
      log: (line) => log.push(line),
    });
    // Sampled every millisecond or so while the silent connections are served: the most the host held.
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, server.replyBytesHeld('127.0.0.1'))), 1);
    scope.stops.push(() => clearInterval(sampler));

    for (const user of users) {
      // From now on the server's datagrams to it are dropped: nothing it sends is acknowledged.
      const { proxy, conn } = await silentLogin(server.udpPort, user);
      proxies.push(proxy);
      silent.push(conn);
    }
    for (const conn of silent) conn.send(encodeRequest({ id: 'r', username: '', cmd: 'RDT', args: ['big'] })).catch(() => undefined);

    const waits = (): number => log.filter((l) => l.includes('is over its reply budget')).length;
    // Before the budget the ten replies were all sent: 20.6 MiB held by one host.
    await until(() => waits() > 0 || peak > BUDGET, 20_000, 'a silent connection to wait for its host');
    expect(peak).toBeLessThanOrEqual(BUDGET);
    expect(waits()).toBeGreaterThan(0);
    // Replies of the thread were sent to some of them: what is held is theirs, not a reservation that never ran.
    expect(server.replyBytesHeld('127.0.0.1')).toBeGreaterThan(2 * 2 * MIB);

    // A neighbour at the same address logs in and posts (small replies reserve little), but its read of the
    // thread waits for room in the host's budget.
    const neighbour = await rawClient(server.udpPort, { localAddress: '127.0.0.1', handshakeTimeoutMs: 30_000 });
    scope.closers.push(() => neighbour.close());
    expect((await rawLogin(neighbour, 'alice', 'pw')).lines).toEqual(['Welcome to the forum']);
    expect((await neighbour.request('n1', 'MSG', ['big', 'hello'])).lines).toEqual(['Message posted to big thread']);
    let neighbourRead = false;
    const neighbourRdt = neighbour.request('n2', 'RDT', ['big']).then((r) => {
      neighbourRead = true;
      return r;
    });
    // Awaited below; a failure before that must not surface as an unhandled rejection.
    neighbourRdt.catch(() => undefined);

    // A client of another host is not held back by 127.0.0.1's budget.
    const other = await rawClient(server.udpPort, { localAddress: '127.0.0.2', handshakeTimeoutMs: 30_000 });
    scope.closers.push(() => other.close());
    expect((await rawLogin(other, 'bob', 'pw')).lines).toEqual(['Welcome to the forum']);
    const t0 = performance.now();
    const read = await other.request('rb', 'RDT', ['big']);
    const ms = performance.now() - t0;
    expect(read.lines).toHaveLength(513);
    expect(ms).toBeLessThan(5_000);
    // Its reply is released once acknowledged.
    await until(() => server.replyBytesHeld('127.0.0.2') === 0, 10_000, "127.0.0.2's acknowledgement");
    expect(peak).toBeLessThanOrEqual(BUDGET);
    expect(neighbourRead).toBe(false);

    // The silent connections go (the server's transport drops them, or hears their CLOSE): everything they
    // held is released, what waited no longer holds the host back, and the neighbour gets in.
    silent.forEach((c) => c.destroy());
    expect((await neighbourRdt).lines).toHaveLength(513);
    await until(() => server.replyBytesHeld('127.0.0.1') === 0, 20_000, "127.0.0.1's replies released");
    expect(peak).toBeLessThanOrEqual(BUDGET);
  }, 30_000);
});
