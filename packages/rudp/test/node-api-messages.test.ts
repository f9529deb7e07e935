import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { datagramIoLibrary, type RudpConnection } from '../src/index.js';
import { loadUdpBatch } from '../src/node/udp-batch.js';
import { closeOpened, pair, take, until } from './helpers/node-loopback.js';

afterEach(closeOpened);

// This file runs twice (vitest.config.ts): on the default sockets, and with RUDP_SOCKET_BATCHING=0 on node:dgram's.
it('runs on the sockets its project asks for', () => {
  const batched = process.env['RUDP_SOCKET_BATCHING'] !== '0' && loadUdpBatch() !== undefined;
  expect(datagramIoLibrary).toBe(batched ? 'batched' : 'node:dgram');
});

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
