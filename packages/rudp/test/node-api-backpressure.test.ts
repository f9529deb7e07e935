/**
 * The Node API's backpressure: `bufferedAmount`, `writableLength`, the
 * high-water mark and 'drain', for send() and write() (the promise-less
 * send). Runs twice, as every node-api test file (vitest.config.ts).
 */
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, listen, MESSAGE_CREDIT, type RudpConnection } from '../src/index.js';
import { closeOpened, opened, pair, until } from './helpers/node-loopback.js';

afterEach(closeOpened);

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
    opened.push(server);
    const client = await connect({ port: server.address().port, highWaterMark: 1000 });
    opened.push(client);
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
    opened.push(server);
    const highWaterMark = 16 * 1024;
    const client = await connect({ port: server.address().port, highWaterMark });
    opened.push(client);
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
    opened.push(server);
    server.on('connection', (c) =>
      c.on('message', () => {
        if (++received === total) allIn();
      }),
    );
    const highWaterMark = 64 * 1024;
    const client = await connect({ port: server.address().port, highWaterMark });
    opened.push(client);
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
