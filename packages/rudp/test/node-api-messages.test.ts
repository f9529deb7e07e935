import { spawnSync } from 'node:child_process';
import { getEventListeners, once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, datagramIoLibrary, listen, MESSAGE_CREDIT, type RudpConnection, type RudpServer } from '../src/index.js';
import { loadUdpBatch } from '../src/node/udp-batch.js';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

// This file runs twice (vitest.config.ts): on the default sockets, and with RUDP_SOCKET_BATCHING=0 on node:dgram's.
it('runs on the sockets its project asks for', () => {
  const batched = process.env['RUDP_SOCKET_BATCHING'] !== '0' && loadUdpBatch() !== undefined;
  expect(datagramIoLibrary).toBe(batched ? 'batched' : 'node:dgram');
});

/** A server whose connections are handed to `onConnection`, and a client connected to it. */
async function pair(onConnection: (c: RudpConnection) => void = () => undefined, serverOptions: { receiveWindow?: number } = {}): Promise<{ server: RudpServer; client: RudpConnection }> {
  const server = await listen({ port: 0, ...serverOptions });
  open.push(server);
  server.on('connection', onConnection);
  const client = await connect({ port: server.address().port });
  open.push(client);
  return { server, client };
}

/** The next `n` messages of `conn`. */
function take(conn: RudpConnection, n: number): Promise<Buffer[]> {
  const got: Buffer[] = [];
  return new Promise((resolve) => {
    const on = (m: Buffer): void => {
      got.push(m);
      if (got.length === n) {
        conn.off('message', on);
        resolve(got);
      }
    };
    conn.on('message', on);
  });
}

describe('send(): what it accepts', () => {
  it('sends every ArrayBufferView by its bytes, ArrayBuffers and strings; each arrives as a Buffer', async () => {
    let server!: RudpConnection;
    const { client } = await pair((c) => (server = c));
    const u16 = new Uint16Array([0x0102, 0xfffe]);
    const f64 = new Float64Array([1.5, -2, 3.25]);
    const dv = new DataView(new Uint8Array([9, 8, 7, 6, 5]).buffer, 1, 3);
    const ab = new Uint8Array([1, 2, 3]).buffer;
    const inputs: readonly [unknown, Buffer][] = [
      ['héllo', Buffer.from('héllo', 'utf8')],
      [u16, Buffer.from(u16.buffer)],
      [f64.subarray(1), Buffer.from(f64.buffer, 8, 16)],
      [dv, Buffer.from([8, 7, 6])],
      [ab, Buffer.from([1, 2, 3])],
      [new BigInt64Array([-1n]), Buffer.alloc(8, 0xff)],
      [Buffer.from('buf'), Buffer.from('buf')],
      [new Uint8Array(5000).fill(121), Buffer.alloc(5000, 121)],
      ['', Buffer.alloc(0)],
    ];
    const got = take(server, inputs.length);
    await Promise.all(inputs.map(([data]) => client.send(data as string)));
    const messages = await got;
    messages.forEach((m, i) => {
      expect(Buffer.isBuffer(m)).toBe(true);
      expect(m.equals(inputs[i]?.[1] as Buffer)).toBe(true);
    });
    // The 5,000-byte message (several packets, reassembled) is a Buffer too: toString works.
    expect(messages[7]?.toString().slice(0, 3)).toBe('yyy');
  });

  it('rejects anything else at once with a TypeError (ERR_INVALID_ARG_TYPE) and the connection keeps working', async () => {
    let server!: RudpConnection;
    const { client } = await pair((c) => (server = c));
    for (const bad of [42, {}, null, undefined, [1, 2], true, () => 1]) {
      await expect(client.send(bad as string)).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    }
    await expect(client.send('x', { signal: 'nope' as unknown as AbortSignal })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    const got = take(server, 1);
    await client.send('still fine');
    expect((await got)[0]?.toString()).toBe('still fine');
    expect(client.bufferedAmount).toBe(0);
  });

  it('a message larger than the peer window rejects with a RangeError (ERR_OUT_OF_RANGE)', async () => {
    const { client } = await pair(() => undefined, { receiveWindow: 64 * 1024 });
    await expect(client.send(new Uint8Array(64 * 1024 + 1))).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  });
});

describe('send(): AbortSignal', () => {
  it('an already aborted signal rejects without sending', async () => {
    let server!: RudpConnection;
    const { client } = await pair((c) => (server = c));
    const got = take(server, 1);
    await expect(client.send('never', { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    await client.send('after');
    expect((await got)[0]?.toString()).toBe('after');
  });

  it('aborting stops the wait; the bytes count in bufferedAmount until the peer acknowledges them', async () => {
    let server!: RudpConnection;
    const { client } = await pair((c) => (server = c));
    const got = take(server, 1);
    const ac = new AbortController();
    const big = new Uint8Array(4 * 1024 * 1024);
    const p = client.send(big, { signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: 'ABORT_ERR' });
    expect(client.bufferedAmount).toBe(big.length);
    // Already queued in an ordered stream: it is still delivered.
    expect((await got)[0]?.length).toBe(big.length);
    const drained = await client.send('x');
    expect(drained).toBeUndefined();
    expect(client.bufferedAmount).toBe(0);
  });

  it("a signal that aborts after send queued the message only stops the wait: the message still arrives, and counts in bufferedAmount until acknowledged", async () => {
    let server!: RudpConnection;
    const { client } = await pair((c) => (server = c));
    await client.send('hello');
    server.pause();
    const ac = new AbortController();
    const big = new Uint8Array(64 * 1024).fill(9);
    const sent = client.send(big, { signal: ac.signal });
    ac.abort('no longer waiting');
    await expect(sent).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', cause: 'no longer waiting' });
    expect(client.bufferedAmount).toBe(big.length);
    const got = take(server, 2);
    server.resume();
    expect((await got).map((m) => m.length)).toEqual(['hello'.length, big.length]);
    while (client.bufferedAmount > 0) await new Promise((r) => setTimeout(r, 5));
  });

  it('sends in flight that share one signal hang one listener on it (no MaxListenersExceededWarning), removed once they settle; an abort rejects them all', async () => {
    let server!: RudpConnection;
    const { client } = await pair((c) => (server = c));
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      const session = new AbortController();
      const got = take(server, 50);
      const sends = Array.from({ length: 50 }, (_, i) => client.send(`m${i}`, { signal: session.signal }));
      // Before, one listener per send: 50 here, and Node's leak warning from the eleventh.
      expect(getEventListeners(session.signal, 'abort')).toHaveLength(1);
      await Promise.all(sends);
      expect(getEventListeners(session.signal, 'abort')).toHaveLength(0);
      expect((await got).map(String)).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));

      const request = new AbortController();
      const more = Array.from({ length: 20 }, () => client.send(new Uint8Array(1000), { signal: request.signal }));
      const other = client.send('not aborted');
      request.abort();
      for (const p of more) await expect(p).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
      await expect(other).resolves.toBeUndefined();
      expect(getEventListeners(request.signal, 'abort')).toHaveLength(0);
      // 'warning' is emitted on the next tick after the listener that crossed the limit.
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('backpressure', () => {
  it("bufferedAmount counts unacknowledged bytes; writableNeedDrain turns on at the high-water mark; 'drain' comes at half", async () => {
    const { client } = await pair((c) => c.on('message', () => undefined));
    expect(client.writableHighWaterMark).toBe(1024 * 1024);
    const sends: Promise<void>[] = [];
    let queued = 0;
    while (!client.writableNeedDrain) {
      sends.push(client.send(new Uint8Array(256 * 1024)));
      queued += 256 * 1024;
    }
    expect(queued).toBe(1024 * 1024);
    expect(client.bufferedAmount).toBe(queued);
    await once(client, 'drain');
    expect(client.bufferedAmount).toBeLessThanOrEqual(512 * 1024);
    expect(client.writableNeedDrain).toBe(false);
    await Promise.all(sends);
    expect(client.bufferedAmount).toBe(0);
  });

  it("a writer waiting for 'drain' when the peer ends the connection is woken (the README's write loop), and finds it closed", async () => {
    // The peer reads nothing (its window fills, nothing is acknowledged), then drops the connection. No
    // 'error' comes for a peer's close, so a writer in `await once(conn, 'drain')` used to wait forever.
    let server!: RudpConnection;
    const { client } = await pair((c) => {
      server = c;
      c.pause();
    });
    await until(() => server !== undefined);
    while (client.write(new Uint8Array(64 * 1024)));
    expect(client.writableNeedDrain).toBe(true);
    const events: string[] = [];
    client.on('drain', () => events.push(`drain (closed: ${client.closed})`));
    client.on('close', (r) => events.push(`close ${r.kind}`));
    const woken = once(client, 'drain');
    server.destroy('bye');
    await woken;
    expect(events).toEqual(['close peer', 'drain (closed: true)']);
    expect(client.writableNeedDrain).toBe(false);
    expect(client.write('more')).toBe(false);
  }, 10_000);

  it('a writer that waits for drain sends 64 MiB with bufferedAmount bounded by the mark', async () => {
    let server!: RudpConnection;
    let received = 0;
    const { client } = await pair((c) => {
      server = c;
      c.on('message', (m) => (received += m.length));
    }, {});
    let peak = 0;
    for (let i = 0; i < 256; i++) {
      void client.send(new Uint8Array(256 * 1024)).catch(() => undefined);
      peak = Math.max(peak, client.bufferedAmount);
      if (client.writableNeedDrain) await once(client, 'drain');
    }
    await client.send('end');
    expect(received).toBe(64 * 1024 * 1024 + 3);
    expect(peak).toBeLessThanOrEqual(client.writableHighWaterMark + 256 * 1024);
    expect(server.closed).toBe(false);
  });

  it('the highWaterMark option sets the mark, counted in writableLength: bytes and MESSAGE_CREDIT per message', async () => {
    const server = await listen({ port: 0 });
    open.push(server);
    const client = await connect({ port: server.address().port, highWaterMark: 1000 });
    open.push(client);
    void client.send(new Uint8Array(1000 - MESSAGE_CREDIT - 1));
    expect(client.writableLength).toBe(999);
    expect(client.writableNeedDrain).toBe(false);
    // An empty message costs the peer's window MESSAGE_CREDIT all the same: it reaches the mark.
    void client.send(new Uint8Array(0));
    expect(client.bufferedAmount).toBe(1000 - MESSAGE_CREDIT - 1);
    expect(client.writableLength).toBe(999 + MESSAGE_CREDIT);
    expect(client.writableNeedDrain).toBe(true);
  });

  it("a loop of empty writes gets backpressure: write() returns false once their credit reaches the mark, and 'drain' follows", async () => {
    // The server does not read: what it acknowledges still waits in its window, and the credit comes back only as acknowledgements.
    const server = await listen({ port: 0 });
    open.push(server);
    const highWaterMark = 16 * 1024;
    const client = await connect({ port: server.address().port, highWaterMark });
    open.push(client);
    const empty = new Uint8Array(0);
    let writes = 0;
    // Bounded only so that a missing backpressure fails instead of looping for ever.
    while (writes < 100_000) {
      writes++;
      if (!client.write(empty)) break;
    }
    expect(writes).toBe(highWaterMark / MESSAGE_CREDIT);
    expect(client.bufferedAmount).toBe(0);
    expect(client.writableLength).toBe(highWaterMark);
    expect(client.writableNeedDrain).toBe(true);
    await once(client, 'drain');
    expect(client.writableLength).toBeLessThanOrEqual(highWaterMark / 2);
    expect(client.writableNeedDrain).toBe(false);
    expect(client.write(empty)).toBe(true);
  });

  it('a writer of empty messages that waits for drain holds a bounded number of them (counted by their promises), and every one arrives', async () => {
    let received = 0;
    let allIn!: () => void;
    const total = 20_000;
    const arrived = new Promise<void>((resolve) => (allIn = resolve));
    const server = await listen({ port: 0 });
    open.push(server);
    server.on('connection', (c) =>
      c.on('message', () => {
        if (++received === total) allIn();
      }),
    );
    const highWaterMark = 64 * 1024;
    const client = await connect({ port: server.address().port, highWaterMark });
    open.push(client);
    // Messages the sender holds: sent and not yet acknowledged (a send settles when its message is acknowledged).
    let sent = 0;
    let settled = 0;
    let peakHeld = 0;
    const sends: Promise<void>[] = [];
    while (sent < total) {
      sends.push(client.send(new Uint8Array(0)).then(() => void settled++));
      sent++;
      peakHeld = Math.max(peakHeld, sent - settled);
      if (client.writableNeedDrain) await once(client, 'drain');
    }
    await Promise.all(sends);
    await arrived;
    expect(received).toBe(total);
    // Without backpressure the loop never waits and holds all 20,000 at once.
    expect(peakHeld).toBeLessThanOrEqual(highWaterMark / MESSAGE_CREDIT);
    expect(client.writableLength).toBe(0);
  });
});

describe('write(): a send without a promise', () => {
  it('queues in order with send(), counts in bufferedAmount, returns false at the high-water mark and drains', async () => {
    const messages: Buffer[] = [];
    let ended!: () => void;
    const got = new Promise<void>((resolve) => (ended = resolve));
    const { client } = await pair((c) =>
      c.on('message', (m) => {
        messages.push(m);
        if (m.toString() === 'end') ended();
      }),
    );
    expect(client.write('a')).toBe(true);
    void client.send('b');
    expect(client.write(new Uint16Array([0x6363]))).toBe(true);
    expect(client.bufferedAmount).toBe(4);
    // Up to the mark: the write that reaches it returns false, as a Writable's does.
    const big = new Uint8Array(256 * 1024);
    const results: boolean[] = [];
    while (!client.writableNeedDrain) results.push(client.write(big));
    expect(results.slice(0, -1).every((r) => r)).toBe(true);
    expect(results.at(-1)).toBe(false);
    expect(client.bufferedAmount).toBe(4 + results.length * big.length);
    await once(client, 'drain');
    expect(client.bufferedAmount).toBeLessThanOrEqual(client.writableHighWaterMark / 2);
    await client.send('end');
    expect(client.bufferedAmount).toBe(0);
    await got;
    expect(messages.slice(0, 3).map((m) => m.toString('latin1'))).toEqual(['a', 'b', 'cc']);
    expect(messages.length).toBe(3 + results.length + 1);
  });

  it('an unreliable write is not buffered; bad input throws with Node error codes; a closed connection takes nothing and returns false', async () => {
    const { client } = await pair((c) => c.on('message', () => undefined));
    expect(client.write('x', { channel: 2, reliable: false })).toBe(true);
    expect(client.bufferedAmount).toBe(0);
    expect(() => client.write(42 as unknown as string)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => client.write('x', { channel: 256 })).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }));
    // A channel given as a string is named as one (it read "got 1", as if the number 1 were refused).
    expect(() => client.write('x', { channel: '1' as unknown as number })).toThrow('got the string "1"');
    expect(() => client.write(new Uint8Array(client.maxDatagramSize(4) + 1), { channel: 4, reliable: false })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(client.bufferedAmount).toBe(0);
    // Unacknowledged writes when the connection ends: their bytes leave bufferedAmount, nothing is left pending.
    client.write(new Uint8Array(100_000));
    expect(client.bufferedAmount).toBe(100_000);
    client.destroy();
    await once(client, 'close');
    expect(client.bufferedAmount).toBe(0);
    // Closed: nothing is queued and nothing thrown ('close' told the writer), as a destroyed Writable's write returns false.
    expect(client.write('late')).toBe(false);
    expect(client.bufferedAmount).toBe(0);
  });
});

/** A new pair whose server end is paused, holding back `n` messages `m0`, `m1`, … the client sent: resumed (or closed), it gets them in one go. */
async function heldBack(n: number): Promise<{ server: RudpConnection; client: RudpConnection }> {
  let server: RudpConnection | undefined;
  const { client } = await pair((c) => {
    server = c;
    c.pause();
  });
  await Promise.all(Array.from({ length: n }, (_, i) => client.send(`m${i}`)));
  await until(() => server !== undefined);
  return { server: server as RudpConnection, client };
}

/** A `'message'` listener on `conn` that destroys it at the first message: whether it did, and the messages it got after. */
function destroyAtFirst(conn: RudpConnection): { readonly after: string[]; destroyed(): boolean } {
  const after: string[] = [];
  let destroyed = false;
  conn.on('message', (m: Buffer) => {
    if (destroyed) after.push(m.toString());
    else {
      destroyed = true;
      conn.destroy('enough');
    }
  });
  return { after, destroyed: () => destroyed };
}

describe('receiving', () => {
  it("destroy() in a 'message' listener ends the messages: none is emitted after it, of those already read or held back", async () => {
    // The endpoint has many of them queued for emission when the listener destroys the connection at the first.
    const { server } = await heldBack(300);
    const listener = destroyAtFirst(server);
    const closed = once(server, 'close');
    server.resume();
    await closed;
    await new Promise((r) => setImmediate(r));
    expect(listener.destroyed()).toBe(true);
    expect(listener.after).toEqual([]);
  });

  it('destroy() in the body of a for await loop ends the loop: what it read ahead is not yielded', async () => {
    const { server } = await heldBack(300);
    const seen: string[] = [];
    const loop = (async () => {
      for await (const m of server) {
        seen.push(m.toString());
        server.destroy('enough');
      }
    })();
    server.resume();
    await loop;
    expect(seen).toEqual(['m0']);
  });

  it("destroy() in a 'message' listener ends the hand-over at the peer's close too: none is emitted after it", async () => {
    // Held back (paused) when the client's CLOSE comes: the close hands all 300 over, and the listener
    // destroys the connection at the first. destroy() returned early (the close was already reported), so
    // the other 299 still came.
    const { server, client } = await heldBack(300);
    const listener = destroyAtFirst(server);
    const closed = once(server, 'close');
    await client.close();
    await closed;
    expect(listener.destroyed()).toBe(true);
    expect(listener.after).toEqual([]);
  });

  it("destroy() in the body of a for await loop ends it after the peer's close too: what it read ahead is not yielded", async () => {
    let server!: RudpConnection;
    const { client } = await pair((c) => (server = c));
    await until(() => server !== undefined);
    const seen: string[] = [];
    let reported!: () => void;
    const closeReported = new Promise<void>((r) => (reported = r));
    server.once('close', () => reported());
    // The body waits at the first message until the client's close was reported: the loop reads 64 ahead and
    // holds the transport, then the close hands it the rest. Destroyed then, it yielded all 300.
    const loop = (async () => {
      for await (const m of server) {
        seen.push(m.toString());
        await closeReported;
        server.destroy('enough');
      }
    })();
    await Promise.all(Array.from({ length: 300 }, (_, i) => client.send(`m${i}`)));
    await client.close();
    await loop;
    expect(seen).toEqual(['m0']);
  });

  it('messages that arrive before any listener wait for one (none lost between connect() and on())', async () => {
    const { client } = await pair((c) => void c.send('welcome'));
    // Well after the server's message arrived: with nothing consuming it, it waits in the transport.
    await client.send('ping');
    await new Promise((r) => setTimeout(r, 50));
    const [m] = (await once(client, 'message')) as [Buffer];
    expect(m.toString()).toBe('welcome');
  });

  it('for await iterates messages in order and ends when the peer closes gracefully', async () => {
    const { client } = await pair((c) => {
      void (async () => {
        for (let i = 0; i < 300; i++) void c.send(`m${i}`);
        await c.close();
      })();
    });
    const got: string[] = [];
    for await (const m of client) {
      expect(Buffer.isBuffer(m)).toBe(true);
      got.push(m.toString());
      // A slow loop body: the transport holds the rest back instead of queueing without bound.
      if (got.length % 50 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    expect(got).toEqual(Array.from({ length: 300 }, (_, i) => `m${i}`));
    expect(client.closed).toBe(true);
  });

  it('next() called again before its answer came gets the next message, as from an async generator; return() ends calls still waiting', async () => {
    let server!: RudpConnection;
    const { client } = await pair((c) => (server = c));
    const it = client[Symbol.asyncIterator]();
    const both = Promise.all([it.next(), it.next()]);
    await server.send('a');
    await server.send('b');
    // Before, the second call took the first one's place: 'a' went to it and the first never settled.
    expect((await both).map((r) => String(r.value))).toEqual(['a', 'b']);
    const waiting = it.next();
    await it.return?.();
    expect(await waiting).toEqual({ value: undefined, done: true });
    expect(client.closed).toBe(false);
  }, 10_000);

  it('breaking out of the loop leaves the connection open', async () => {
    const { client } = await pair((c) => c.on('message', (m) => void c.send(m).catch(() => undefined)));
    void client.send('one');
    for await (const m of client) {
      expect(m.toString()).toBe('one');
      break;
    }
    expect(client.closed).toBe(false);
    const got = take(client, 1);
    await client.send('two');
    expect((await got)[0]?.toString()).toBe('two');
  });

  it('messages read ahead of a loop that is left go to the next consumer, in order: another loop, a listener, stream()', async () => {
    // The loop reads up to 64 messages ahead of its body; a break used to throw them away (m1 … m9 here),
    // so a reader that handed the connection on after a first message (a header, a greeting) lost data.
    let server!: RudpConnection;
    const { client } = await pair((c) => (server = c));
    await until(() => server !== undefined);
    const sendAll = (from: number, to: number): Promise<void[]> => Promise.all(Array.from({ length: to - from }, (_, i) => server.send(`m${from + i}`)));
    await sendAll(0, 10);
    for await (const m of client) {
      expect(m.toString()).toBe('m0');
      break;
    }
    const second: string[] = [];
    for await (const m of client) {
      second.push(m.toString());
      if (second.length === 2) break;
    }
    expect(second).toEqual(['m1', 'm2']);
    // Newer messages wait behind the ones left over.
    await sendAll(10, 12);
    const got = take(client, 9);
    expect((await got).map(String)).toEqual(['m3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9', 'm10', 'm11']);
    await sendAll(12, 16);
    for await (const m of client) {
      expect(m.toString()).toBe('m12');
      break;
    }
    const streamed: string[] = [];
    const stream = client.stream();
    stream.on('data', (d: Buffer) => streamed.push(d.toString()));
    await until(() => streamed.length === 3);
    expect(streamed).toEqual(['m13', 'm14', 'm15']);
  }, 10_000);

  /** A pair whose server-side connection has read m1 … m9 ahead of a loop left after m0, and m10, m11 waiting in the transport behind them. */
  async function leftAfterFirst(): Promise<{ server: RudpServer; served: RudpConnection }> {
    let served!: RudpConnection;
    const { server, client } = await pair((c) => (served = c));
    await until(() => served !== undefined);
    await Promise.all(Array.from({ length: 10 }, (_, i) => client.send(`m${i}`)));
    for await (const m of served) {
      expect(m.toString()).toBe('m0');
      break;
    }
    // Acknowledged: in the server's transport, held behind the messages the loop read ahead.
    await Promise.all([client.send('m10'), client.send('m11')]);
    return { server, served };
  }
  const AFTER_M0 = Array.from({ length: 11 }, (_, i) => `m${i + 1}`);

  it("a 'message' listener added in the same tick the connection closes gets the read-ahead messages first, in order, before 'close'", async () => {
    const { server, served } = await leftAfterFirst();
    const seen: string[] = [];
    served.on('message', (m) => seen.push(m.toString()));
    served.on('close', () => seen.push('close'));
    // server.close() reports the close at once, before the microtask that was to hand the read-ahead messages over.
    await server.close();
    await new Promise((r) => setImmediate(r));
    // Before: m10 and m11 (from the transport) first, then 'close', then m1 … m9.
    expect(seen).toEqual([...AFTER_M0, 'close']);
  });

  it.each(["'newListener'", ''])('removeAllListeners(%s) does not leave the read-ahead messages (and the connection) stuck', async (label) => {
    const { served } = await leftAfterFirst();
    if (label === '') served.removeAllListeners();
    else served.removeAllListeners('newListener');
    // Before: the hand-over's own 'newListener' listener was gone, so its hold stayed and nothing ever came (the test timed out).
    expect((await take(served, 11)).map(String)).toEqual(AFTER_M0);
  }, 10_000);

  it("a 'message' listener added and removed in one tick does not take the read-ahead messages with it", async () => {
    const { served } = await leftAfterFirst();
    const gone = (): void => undefined;
    served.on('message', gone);
    served.off('message', gone);
    // The hand-over's microtask runs with no listener there.
    await new Promise((r) => setImmediate(r));
    // Before: handed over on the microtask to no listener at all, and lost (the next one got m10 and m11 only).
    expect((await take(served, 11)).map(String)).toEqual(AFTER_M0);
  }, 10_000);

  it("a 'message' listener that throws on the first read-ahead message still gets the rest, and the newer ones after them", () => {
    // In a child process that survives the throw with an uncaughtException handler, as an application may.
    const child = spawnSync(process.execPath, ['--import', 'tsx', join(dirname(fileURLToPath(import.meta.url)), 'fixtures/throw-in-hand-over.ts')], { encoding: 'utf8', timeout: 30_000 });
    expect(child.status, child.stderr).toBe(0);
    // Before: the throw left the hand-over half done (m2 … m9 lost) and its hold on, so m10 and m11 never came.
    expect(JSON.parse(child.stdout)).toEqual({ seen: AFTER_M0, errors: ['thrown by the listener of m1'] });
  }, 40_000);

  it('pause() holds messages back until resume()', async () => {
    let server!: RudpConnection;
    const { client } = await pair((c) => (server = c));
    const got: string[] = [];
    client.on('message', (m) => got.push(m.toString()));
    client.pause();
    expect(client.isPaused()).toBe(true);
    await server.send('held'); // acknowledged: it is in the client's transport, not delivered
    await new Promise((r) => setTimeout(r, 30));
    expect(got).toEqual([]);
    client.resume();
    await once(client, 'message');
    expect(got).toEqual(['held']);
  });
});

describe('send(): channels and delivery options', () => {
  it("passes channel, ordered and reliable to the transport; 'message' carries the channel", async () => {
    let server!: RudpConnection;
    const { client } = await pair((c) => (server = c));
    const got: [string, number][] = [];
    const all = new Promise<void>((resolve) => {
      client.on('message', (m, channel) => {
        got.push([m.toString(), channel]);
        if (got.length === 4) resolve();
      });
    });
    await until(() => server !== undefined);
    await Promise.all([
      server.send('default'),
      server.send('seven', { channel: 7 }),
      server.send('loose', { channel: 2, ordered: false }),
      // Loopback loses nothing: the datagram arrives. Its promise resolves once it is queued.
      server.send('datagram', { channel: 9, reliable: false }),
    ]);
    await all;
    expect(got.sort()).toEqual([
      ['datagram', 9],
      ['default', 0],
      ['loose', 2],
      ['seven', 7],
    ]);
  });

  it('refuses bad options and oversized datagrams with Node error codes', async () => {
    const { client } = await pair();
    await expect(client.send('x', { channel: 256 })).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    await expect(client.send('x', { ordered: 1 as unknown as boolean })).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    await expect(client.send(new Uint8Array(client.maxDatagramSize(4) + 1), { channel: 4, reliable: false })).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    await client.send('still fine');
  });
});

/** Resolves once `ok()` holds (polled; the test's own timeout bounds it). */
async function until(ok: () => boolean): Promise<void> {
  while (!ok()) await new Promise((r) => setTimeout(r, 5));
}
