import type dgram from 'node:dgram';
import dns from 'node:dns';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { EndpointEvent } from '../src/core/events.js';
import { connect, listen } from '../src/index.js';
import { BatchSocket } from '../src/node/batch-socket.js';
import type { DatagramSocket } from '../src/node/datagram-socket.js';
import { DgramSocket } from '../src/node/dgram-socket.js';
import { UDP_BATCH_ADDON_FILE, loadUdpBatch } from '../src/node/udp-batch.js';
import { UdpEndpoint } from '../src/node/udp-endpoint.js';
import { createUdpSocket } from '../src/node/udp-socket.js';

const batchAddon = loadUdpBatch();
// CI requires the addon on Linux (RUDP_REQUIRE_NATIVE=1); a machine without a C compiler builds none.
const batchExpected = process.platform === 'linux' && (process.env.RUDP_REQUIRE_NATIVE === '1' || existsSync(new URL(`../dist/${UDP_BATCH_ADDON_FILE}`, import.meta.url)));

/** Both socket implementations the adapter can drive (the batched one where it is built). */
const KINDS: readonly (readonly [string, () => DatagramSocket, boolean])[] = [
  ['node:dgram', () => new DgramSocket(4), false],
  ...(batchAddon !== undefined ? [['batched', () => new BatchSocket(batchAddon, 4), true] as const] : []),
];

it('loads the batched UDP addon where it was built', () => {
  expect(batchAddon !== undefined).toBe(batchExpected);
});

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

async function boundSocket(): Promise<dgram.Socket> {
  const socket = createUdpSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return socket;
}

describe('createUdpSocket', () => {
  it('binds asynchronously like any dgram socket, then sends to IP literals without a DNS lookup', async () => {
    const lookups = vi.spyOn(dns, 'lookup');
    try {
      const rx = await boundSocket();
      cleanup.push(() => new Promise((r) => rx.close(() => r())));
      const tx = createUdpSocket('udp4');
      cleanup.push(() => new Promise((r) => tx.close(() => r())));
      let listening = false;
      tx.bind(0, '127.0.0.1', () => {
        listening = true;
      });
      expect(listening).toBe(false); // 'listening' still comes after bind() returns
      await once(tx, 'listening');
      lookups.mockClear();
      const got = once(rx, 'message');
      tx.send(new Uint8Array([1, 2, 3]), rx.address().port, '127.0.0.1');
      expect(lookups).not.toHaveBeenCalled();
      const [msg] = (await got) as [Buffer];
      expect([...msg]).toEqual([1, 2, 3]);
      const viaName = once(rx, 'message');
      tx.send(new Uint8Array([4]), rx.address().port, 'localhost');
      expect(lookups).toHaveBeenCalledTimes(1); // names still resolve through dns.lookup
      const [named] = (await viaName) as [Buffer];
      expect([...named]).toEqual([4]);
    } finally {
      lookups.mockRestore();
    }
  });

  it('answers repeated literals of either family at once, and still resolves names (or fails with ENOTFOUND) through dns.lookup', async () => {
    const lookups = vi.spyOn(dns, 'lookup');
    try {
      const rx6 = createUdpSocket('udp6');
      rx6.bind(0, '::1');
      await once(rx6, 'listening');
      cleanup.push(() => new Promise((r) => rx6.close(() => r())));
      const tx6 = createUdpSocket('udp6');
      tx6.bind(0, '::1');
      await once(tx6, 'listening');
      cleanup.push(() => new Promise((r) => tx6.close(() => r())));
      const rx = await boundSocket();
      cleanup.push(() => new Promise((r) => rx.close(() => r())));
      const tx = await boundSocket();
      cleanup.push(() => new Promise((r) => tx.close(() => r())));
      lookups.mockClear();
      for (let i = 0; i < 3; i++) {
        const got6 = once(rx6, 'message');
        tx6.send(new Uint8Array([i]), rx6.address().port, '::1');
        const got4 = once(rx, 'message');
        tx.send(new Uint8Array([i]), rx.address().port, '127.0.0.1');
        expect(lookups).not.toHaveBeenCalled();
        const [m6] = (await got6) as [Buffer];
        const [m4] = (await got4) as [Buffer];
        expect([...m6, ...m4]).toEqual([i, i]);
      }
      // A name after the remembered literal still goes to the resolver.
      const viaName = once(rx, 'message');
      tx.send(new Uint8Array([9]), rx.address().port, 'localhost');
      expect(lookups).toHaveBeenCalledTimes(1);
      const [named] = (await viaName) as [Buffer];
      expect([...named]).toEqual([9]);
      const err = await new Promise<Error | null>((resolve) => tx.send(new Uint8Array([1]), rx.address().port, 'no-such-host.invalid', (e) => resolve(e)));
      expect((err as NodeJS.ErrnoException | null)?.code).toBe('ENOTFOUND');
      expect(lookups).toHaveBeenCalledTimes(2);
    } finally {
      lookups.mockRestore();
    }
  });
});

async function boundDatagramSocket(open: () => DatagramSocket): Promise<DatagramSocket> {
  const socket = open();
  await socket.bind(0, '127.0.0.1');
  return socket;
}

describe.each(KINDS)('UdpEndpoint driving a %s socket', (_, open, batching) => {
  it('handles a burst of datagrams with one poll per event-loop turn, not one per datagram', async () => {
    const io = new UdpEndpoint(await boundDatagramSocket(open), true, {});
    cleanup.push(() => io.shutdown());
    let polls = 0;
    const pollTransmit = io.endpoint.pollTransmit.bind(io.endpoint);
    io.endpoint.pollTransmit = (now) => {
      const t = pollTransmit(now);
      if (t === undefined) polls++; // one drained poll per pump
      return t;
    };
    const tx = await boundSocket();
    cleanup.push(() => new Promise((r) => tx.close(() => r())));
    const burst = 50;
    // Sent within one tick, so all are queued before the receiver's loop turn reads them.
    for (let i = 0; i < burst; i++) tx.send(new Uint8Array(100).fill(i), io.socket.address().port, '127.0.0.1');
    while (io.stats().datagramsReceived < burst) await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(io.stats().droppedTotal).toBe(burst); // junk, checked and dropped
    expect(polls).toBeGreaterThan(0);
    expect(polls).toBeLessThan(burst / 4);
  });

  it("delivers every event past a listener that throws, then sends and re-arms its timer, and rethrows the listener's error", async () => {
    const io = new UdpEndpoint(await boundDatagramSocket(open), false, {});
    cleanup.push(() => io.shutdown());
    const rx = await boundSocket();
    cleanup.push(() => new Promise((r) => rx.close(() => r())));
    // A real connection (its INITIAL waits to be sent, its handshake timer to be armed); two events for it.
    const conn = io.endpoint.connect(io.now(), `127.0.0.1:${rx.address().port}`);
    const events: EndpointEvent[] = [
      { type: 'connected', connection: conn },
      { type: 'connected', connection: conn },
    ];
    io.endpoint.pollEvent = () => events.shift();
    const seen: string[] = [];
    io.onEvent = (e) => {
      seen.push(e.type);
      if (seen.length === 1) throw new Error('listener bug');
    };
    const sent = vi.spyOn(io.socket, 'send');
    const timeouts = vi.spyOn(io.endpoint, 'pollTimeout');
    expect(() => io.pump()).toThrow('listener bug');
    expect(seen).toEqual(['connected', 'connected']);
    expect(sent).toHaveBeenCalled();
    expect(timeouts).toHaveBeenCalled();
  });

  // node:dgram drops such a datagram without a word when sent without a callback (as the adapter sends).
  it.runIf(batching)("reports a datagram its socket could not send in the endpoint's stats", async () => {
    const io = new UdpEndpoint(await boundDatagramSocket(open), true, {});
    cleanup.push(() => io.shutdown());
    // Over IPv4's largest UDP payload.
    io.socket.send(`127.0.0.1:${io.socket.address().port}`, new Uint8Array(65_600));
    io.socket.flush();
    expect(io.stats()).toMatchObject({ datagramsNotSent: 1, socketErrors: 0 });
  });

  it('falls back to its timer rather than spin when a deadline stays due', async () => {
    const io = new UdpEndpoint(await boundDatagramSocket(open), true, {});
    cleanup.push(() => io.shutdown());
    // A core that always answers "due now" and never sends: the driver must not busy-loop on it.
    io.endpoint.pollTimeout = () => performance.now();
    let wakeUps = 0;
    io.endpoint.handleTimeout = () => {
      wakeUps++;
    };
    const from = performance.now();
    io.pump();
    await new Promise((r) => setTimeout(r, 100));
    // A busy loop wakes tens of thousands of times in 100 ms; the 1 ms timer about a hundred, fewer when timers run
    // late (a loaded machine: 6 of them in one run), and the wait may last longer: a rate over the time that passed.
    expect(wakeUps).toBeLessThan(50 * (performance.now() - from));
    // It does wake, on its timer.
    await expect.poll(() => wakeUps, { timeout: 10_000 }).toBeGreaterThan(10);
  });

  it('waits for a sub-millisecond deadline with its timer, not by spinning, while datagrams flow', async () => {
    const io = new UdpEndpoint(await boundDatagramSocket(open), true, {});
    cleanup.push(() => io.shutdown());
    const sink = await boundSocket();
    cleanup.push(() => new Promise((r) => sink.close(() => r())));
    // A paced sender at a sub-millisecond gap: its next deadline is always 0.5 ms away, and every
    // wake-up sends a datagram (so the spin guard, which wants a millisecond without one, never trips).
    io.endpoint.pollTimeout = () => performance.now() + 0.5;
    let wakeUps = 0;
    io.endpoint.handleTimeout = () => {
      wakeUps++;
    };
    let owed = false;
    io.endpoint.pollTransmit = () => {
      if (!owed) return undefined;
      owed = false;
      return { to: `127.0.0.1:${sink.address().port}`, data: new Uint8Array(10) };
    };
    const handleTimeout = io.endpoint.handleTimeout;
    io.endpoint.handleTimeout = (now) => {
      handleTimeout(now);
      owed = true;
    };
    const from = performance.now();
    io.pump();
    await new Promise((r) => setTimeout(r, 100));
    // Spinning wakes thousands of times in 100 ms (tens of thousands on an idle machine); a 1 ms timer about a hundred,
    // fewer when timers run late (a loaded machine: 7 in one run), and the wait may last longer: a rate over the time that passed.
    expect(wakeUps).toBeLessThan(4 * (performance.now() - from));
    // It does wake, on its timer.
    await expect.poll(() => wakeUps, { timeout: 10_000 }).toBeGreaterThan(10);
  });

  it("frees a closed server's port at once (it can listen there again), and answers address() after close as node:dgram does", async () => {
    const server = await listen({ port: 0, socketBatching: batching });
    const { port } = server.address();
    await server.close();
    expect(() => server.address()).toThrow(expect.objectContaining({ code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' }));
    // The batched socket used to close its descriptor a loop turn later: EADDRINUSE here.
    const again = await listen({ port, socketBatching: batching });
    cleanup.push(() => again.close());
    expect(again.address().port).toBe(port);
  });

  it('listens on an IPv6 literal with a zone, as node:dgram does', async () => {
    // The addon parses no zone: such a host goes to node:dgram (it used to fail with EINVAL).
    const server = await listen({ port: 0, host: '::1%lo', socketBatching: batching });
    cleanup.push(() => server.close());
    expect(server.address()).toMatchObject({ address: '::1', family: 'IPv6' });
  });

  it.each([true, false])('moves 2,000 one-kilobyte messages in order through one connection (segmentOffload: %s)', async (segmentOffload) => {
    const server = await listen({ port: 0, socketBatching: batching, segmentOffload });
    cleanup.push(() => server.close());
    expect(server.stats().datagramsReceived).toBe(0);
    const got: number[] = [];
    const done = new Promise<void>((resolve) =>
      server.on('connection', (c) =>
        c.on('message', (m) => {
          got.push(((m[0] as number) << 8) | (m[1] as number));
          if (got.length === 2000) resolve();
        }),
      ),
    );
    const conn = await connect({ port: server.address().port, socketBatching: batching, segmentOffload });
    cleanup.push(() => conn.close());
    const sends: Promise<void>[] = [];
    for (let i = 0; i < 2000; i++) {
      const m = new Uint8Array(1024).fill(i & 0xff);
      m[0] = i >> 8;
      m[1] = i & 0xff;
      sends.push(conn.send(m));
    }
    await Promise.all(sends);
    await done;
    expect(got).toEqual(Array.from({ length: 2000 }, (_, i) => i));
  });
});
