/**
 * The Node API used the way an outside user gets it wrong: calls after a
 * close, closes twice, bad arguments in odd places, an emitter stripped of
 * its listeners. Each must end in a clear error with a Node code, or in the
 * documented behaviour: never a crash, a hang or a leaked socket.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RudpError, connect, type RudpConnection, type RudpServer } from '../src/index.js';
import { closeOpened, pair } from './helpers/node-loopback.js';
import { canCountSockets, eventually, socketsNow, socketsSince } from './helpers/open-sockets.js';

afterEach(closeOpened);

/** An echo server and a client connected to it. */
const echoPair = (): Promise<{ server: RudpServer; client: RudpConnection }> => pair((c) => c.on('message', (m) => void c.send(m).catch(() => undefined)));

describe('a connection stripped of its listeners (removeAllListeners)', () => {
  it.skipIf(!canCountSockets)('still closes its socket when it ends', async () => {
    const { server } = await echoPair();
    const before = socketsNow();
    for (let i = 0; i < 5; i++) {
      const conn = await connect({ port: server.address().port });
      conn.removeAllListeners();
      await conn.close();
    }
    // Before, the socket was closed by a 'close' listener of the connection's own emitter: each of these leaked one.
    expect(await eventually(() => socketsSince(before) === 0)).toBe(true);
  });

  it("still delivers messages to a 'message' listener added afterwards", async () => {
    const { client } = await echoPair();
    client.removeAllListeners();
    const echoed = new Promise<Buffer>((resolve) => client.once('message', resolve));
    await client.send('after removeAllListeners');
    // Before, the transport stayed paused: the echo waited until the connection closed.
    expect((await echoed).toString()).toBe('after removeAllListeners');
  }, 10_000);

  it("pauses the transport again when removeAllListeners('message') leaves nobody reading", async () => {
    const { client } = await echoPair();
    client.on('message', () => undefined);
    client.removeAllListeners('message');
    expect(client.core.isPaused).toBe(true);
    client.removeAllListeners();
    expect(client.core.isPaused).toBe(true);
  });
});

describe('bad delivery options', () => {
  it('send and write refuse options that are not an object with ERR_INVALID_ARG_TYPE naming "options"', async () => {
    const { client } = await echoPair();
    for (const bad of [null, 5, 'channel 1', true]) {
      await expect(client.send('x', bad as never)).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('"options"') });
      expect(() => client.write('x', bad as never)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('"options"') }));
    }
    // The connection is unharmed.
    const echoed = new Promise<Buffer>((resolve) => client.once('message', resolve));
    await client.send('still fine', undefined);
    expect((await echoed).toString()).toBe('still fine');
  });
});

describe('bad close options', () => {
  it('close refuses options that are not an object, or a signal that is no AbortSignal, with ERR_INVALID_ARG_TYPE, and closes nothing', async () => {
    const { client } = await echoPair();
    for (const bad of [null, 5, 'soon', { signal: 5 }, { signal: { aborted: true } }]) {
      await expect(client.close(bad as never)).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    }
    expect(client.closed).toBe(false);
    await expect(client.send('still open')).resolves.toBeUndefined();
  });
});

describe('destroy(reason)', () => {
  it("takes an Error as Node's socket.destroy(error) does: its message is the reason at both ends; a reason of another type is refused and closes nothing", async () => {
    let accepted!: RudpConnection;
    const { client } = await pair((c) => (accepted = c));
    await client.send('hello');
    const peerClosed = new Promise((resolve) => accepted.once('close', resolve));
    // Before: the Error object itself became the close reason's `message`, which the type says is a string.
    expect(() => client.destroy(42 as unknown as string)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }));
    expect(client.closed).toBe(false);
    const closed = new Promise((resolve) => client.once('close', resolve));
    client.destroy(new Error('disk full'));
    expect(await closed).toEqual({ kind: 'local', code: 1, message: 'disk full' });
    expect(await peerClosed).toEqual({ kind: 'peer', code: 1, message: 'disk full' });
    await expect(client.send('x')).rejects.toMatchObject({ code: 'ERR_RUDP_CLOSED', message: 'connection closed (local): disk full' });
  });

  it('a reason over 256 UTF-8 bytes is cut at a character boundary, the same at both ends', async () => {
    let accepted!: RudpConnection;
    const { client } = await pair((c) => (accepted = c));
    await client.send('hello');
    const peerClosed = new Promise((resolve) => accepted.once('close', resolve));
    const closed = new Promise((resolve) => client.once('close', resolve));
    // 301 bytes; byte 256 is the second of an 'é': the cut backs off to 255.
    client.destroy(new Error(`a${'é'.repeat(150)}`));
    const cut = `a${'é'.repeat(127)}`;
    // Before: the whole 151 characters here, and the peer got 256 bytes ending in half an 'é' (U+FFFD).
    expect(await closed).toEqual({ kind: 'local', code: 1, message: cut });
    expect(await peerClosed).toEqual({ kind: 'peer', code: 1, message: cut });
    await expect(client.send('x')).rejects.toMatchObject({ code: 'ERR_RUDP_CLOSED', message: `connection closed (local): ${cut}` });
  });
});

describe('maxDatagramSize(channel)', () => {
  it('refuses a channel send would refuse, with Node codes, instead of answering a size for it', async () => {
    const { client } = await pair();
    expect(client.maxDatagramSize()).toBe(client.maxDatagramSize(0));
    expect(client.maxDatagramSize(255)).toBeGreaterThan(0);
    // Before: 300 answered 1,170 and 'a' 1,164, sizes of channels that do not exist.
    for (const channel of [256, -1]) expect(() => client.maxDatagramSize(channel)).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }));
    for (const channel of ['a', 1.5, null]) expect(() => client.maxDatagramSize(channel as unknown as number)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

describe('send and write options', () => {
  it('refuse an option name they do not take (a misspelt channel went to channel 0 unnoticed), with Node codes, and nothing is sent', async () => {
    const { client } = await pair();
    const before = client.stats().messagesSent;
    await expect(client.send('x', { chanel: 1 } as never)).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: "rudp: unknown send option 'chanel'" });
    await expect(client.send('x', { Channel: 1 } as never)).rejects.toMatchObject({ message: "rudp: unknown send option 'Channel' (did you mean 'channel'?)" });
    // write takes no signal: nothing to wait for.
    expect(() => client.write('x', { signal: AbortSignal.timeout(1000) } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: "rudp: unknown write option 'signal'" }));
    expect(client.stats().messagesSent).toBe(before);
    // The names they do take still pass.
    await client.send('y', { channel: 1, ordered: false, reliable: true, signal: AbortSignal.timeout(5000) });
    expect(client.write('z', { channel: 2, ordered: true, reliable: true })).toBe(true);
  });
});

describe('exportKeyingMaterial', () => {
  it('gives both ends the same bytes; refuses a bad label, context or length with Node codes', async () => {
    let accepted!: RudpConnection;
    const { client } = await pair((c) => (accepted = c));
    const context = new TextEncoder().encode('user 42');
    expect(Buffer.from(client.exportKeyingMaterial('login', context, 32))).toEqual(Buffer.from(accepted.exportKeyingMaterial('login', context, 32)));
    expect(() => client.exportKeyingMaterial('login', 'user 42' as never, 32)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('"context"') }));
    expect(() => client.exportKeyingMaterial('login', undefined as never, 32)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => client.exportKeyingMaterial(7 as never, context, 32)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('"label"') }));
    for (const length of [0, -1, 1.5, 8161]) expect(() => client.exportKeyingMaterial('login', context, length)).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }));
  });
});

describe('calls after the end', () => {
  it('close() twice, and after the end, resolves every time; sends reject with ERR_RUDP_CLOSED, writes return false', async () => {
    const { client } = await echoPair();
    const first = client.close();
    const second = client.close();
    await expect(client.send('while closing')).rejects.toMatchObject({ code: 'ERR_RUDP_CLOSED' });
    expect(client.write('while closing')).toBe(false);
    await expect(Promise.all([first, second])).resolves.toEqual([undefined, undefined]);
    await expect(client.close()).resolves.toBeUndefined();
    client.destroy();
    const e = await client.send('after close').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RudpError);
    expect(e).toMatchObject({ code: 'ERR_RUDP_CLOSED' });
    expect(client.write('after close')).toBe(false);
    expect(client.hasRef()).toBe(false);
    // Iterating a closed connection ends at once.
    const seen: Buffer[] = [];
    for await (const m of client) seen.push(m);
    expect(seen).toEqual([]);
  });

  it('server.close() twice resolves both; its connections reject sends with ERR_RUDP_CLOSED, the client sees the peer close (ECONNRESET)', async () => {
    let accepted!: RudpConnection;
    const { server, client } = await pair((c) => (accepted = c));
    const closed = new Promise((resolve) => client.once('close', resolve));
    await expect(Promise.all([server.close(), server.close()])).resolves.toEqual([undefined, undefined]);
    await expect(accepted.send('x')).rejects.toMatchObject({ code: 'ERR_RUDP_CLOSED' });
    expect(await closed).toMatchObject({ kind: 'peer' });
    await expect(client.send('x')).rejects.toMatchObject({ code: 'ECONNRESET' });
  });
});
