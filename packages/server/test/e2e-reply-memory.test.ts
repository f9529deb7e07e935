/**
 * What the server's replies take in memory stays what its reply budget counts (SECURITY.md, Memory per
 * connection and in all). Real sockets on loopback, the server in this process so that its memory can be read
 * after a full collection: eight client hosts of three logged-in connections each, behind proxies that drop what
 * the server sends, ask for a 2 MiB thread against a server budget of 24 MiB; a client of another host then reads
 * the thread, and stale holders are closed for it. At each close the live ArrayBuffers are read: the budget has
 * uncounted the closed connection's reply by then, and the transport must have let it go too (beside them, the
 * thread's encoded lines the server caches, counted on their own: `linesCachedBytes`). Before, a closed
 * connection kept its unacknowledged replies for its whole drain (26 of them, 101 MiB, in
 * `attack/many-hosts-backlog.ts 32 10 3.9 30 4`).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { encodeRequest } from 'forum-protocol';
import { describe, expect, it } from 'vitest';
import type { ForumServer } from '../src/forum-server.js';
import { cleanupAfterEach } from './forum-processes.js';
import { silentLogin, startReplyBudgetScene, until } from './silent-client.js';
import { rawClient, rawLogin } from './raw-client.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
/** Bytes of ArrayBuffers alive after a full collection. */
const liveArrayBuffers = (): number => {
  gc();
  gc();
  return process.memoryUsage().arrayBuffers;
};

const MIB = 1024 * 1024;
const HOSTS = Array.from({ length: 8 }, (_, i) => `127.0.0.${21 + i}`);
const PER_HOST = 3;
const TOTAL = 24 * MIB;
/** ArrayBuffers besides the replies that may come and go meanwhile: datagram slabs, received messages, the clients' and proxies' buffers. */
const SLACK = 1.5 * MIB;


describe("the memory of the server's replies (real sockets, several client hosts)", () => {
  const scope = cleanupAfterEach();

  it('a connection closed for a waiter lets go of its reply at once: live ArrayBuffers stay within what the budget counts', async () => {
    const users = HOSTS.flatMap((_, h) => Array.from({ length: PER_HOST }, (_, i) => `q${h}x${i}`));
    // Each close of a stale holder: the live ArrayBuffers and the replies the budget counts (not the reservations of
    // requests running, which have no bytes yet), read once the close has run.
    const samples: { readonly live: number; readonly held: number; readonly honest: number }[] = [];
    let base = 0;
    // What the honest client of this process has received of its own read since `base`: its reply may be on its
    // way (held in its reassembly) while later stale holders are closed, 2 MiB more live at most (one sample in a
    // full suite run at load 18 was 0.46 MiB over the slack). Read off its connection, so it excuses nothing else.
    let honestReceived = (): number => 0;
    const log: string[] = [];
    // Read by the log below, which runs only once the scene is up.
    let server!: ForumServer;
    const scene = await startReplyBudgetScene(scope, 'server-reply-memory', users, {
      replyBudgetBytes: 16 * MIB,
      maxReplyBytes: TOTAL,
      replyStaleAfterMs: 1_000,
      log: (line) => {
        log.push(line);
        // Logged just before the connection is destroyed, in the same synchronous step: read after it, in a
        // microtask, before the transport has sent anything more (its CLOSE, another connection's packets). Read
        // there, the reply was still reachable now and then (3 runs in 15 with both cores busy: 2 MiB over)
        // while the destroyed connection had built the transport's last data packet, whose chunks outlived it
        // until any connection built another (1c764ed); a turn of the loop later (654da3f) hid that.
        if (line.startsWith('Client is not acknowledging replies while others wait')) {
          queueMicrotask(() => samples.push({ live: liveArrayBuffers() - base, held: server.replyBytesSentInAll() + server.linesCachedBytes(), honest: honestReceived() }));
        }
      },
    });
    server = scene.server;
    const { proxies, silent } = scene;
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
    const honest = await rawClient(server.udpPort, { localAddress: '127.0.0.60', handshakeTimeoutMs: 30_000 });
    scope.closers.push(() => honest.close());
    expect((await rawLogin(honest, 'alice', 'pw')).lines).toEqual(['Welcome to the forum']);
    base = liveArrayBuffers();
    const honestBase = honest.conn.stats().bytesReceived;
    honestReceived = () => honest.conn.stats().bytesReceived - honestBase;
    for (const conn of silent) conn.send(encodeRequest({ id: 'r', username: '', cmd: 'RDT', args: ['big'] })).catch(() => undefined);
    await until(() => server.replyBytesHeldInAll() > TOTAL / 2, 20_000, 'replies to be held');
    // Held, not yet closed: the replies are what the budget counts, and the thread's encoded lines the server
    // keeps to copy into the next reply of it (2 MiB, bounded on their own: `linesCacheBytes`).
    const held = { live: liveArrayBuffers() - base, held: server.replyBytesSentInAll() + server.linesCachedBytes() };
    expect(server.linesCachedBytes()).toBeLessThanOrEqual(3 * MIB);
    expect(held.live).toBeLessThanOrEqual(held.held + SLACK);

    // The honest read waits for room; the silent holders become stale and are closed for it.
    const read = await honest.request('n2', 'RDT', ['big']);
    expect(read.lines).toHaveLength(512);
    await until(() => server.replyBytesHeld('127.0.0.60') === 0, 10_000, "the honest client's acknowledgement");
    expect(samples.length).toBeGreaterThan(0);
    // The first close makes room for the honest read, so its sample comes before any of that reply: one sample at
    // least that the allowance excuses nothing in (a closed connection's reply kept alive: 0.48 MiB over, there
    // alone; the later samples, the reply received, allowed 2 MiB more).
    expect(samples.some((s) => s.honest < 64 * 1024)).toBe(true);
    // Before: each closed connection's 2 MiB reply stayed alive while it drained, uncounted.
    for (const s of samples) expect(s.live).toBeLessThanOrEqual(s.held + s.honest + SLACK);
    expect(server.replyBytesHeldInAll()).toBeLessThanOrEqual(TOTAL);
  }, 30_000);
});
