import dgram from 'node:dgram';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import type { Endpoint } from '../src/core/endpoint.js';
import { type CloseReason, type LookupFunction, PROTOCOL_VIOLATION, RudpError, ServerKeyMismatchError, connect, listen, type RudpConnection, type RudpServer } from '../src/index.js';
import { MAX_RECEIVE_WINDOW } from '../src/wire/frame.js';
import { MAX_DATAGRAM, PacketType, decodeInitial, encodeRetry, parseHeader } from '../src/wire/packet.js';
import { canCountSockets, eventually, socketsNow, socketsSince } from './helpers/open-sockets.js';
import { startUdpForwarder } from './helpers/udp-forwarder.js';
import { closeOpened, opened, rejection, server, silentPort } from './helpers/node-loopback.js';
import { UNAUTHENTICATED_REFUSAL } from '../src/core/connect-attempt.js';

afterEach(closeOpened);

/** A port nothing is bound to (bound once, then released). */
async function closedPort(): Promise<number> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const port = sock.address().port;
  await new Promise<void>((r) => sock.close(() => r()));
  return port;
}

describe('connect: host names and Node-style errors', () => {
  it('sends from localAddress when given (another host to an address-hashing balancer); refuses one that is not an IP address', async () => {
    const s = await server();
    const accepted = once(s, 'connection') as Promise<[RudpConnection]>;
    const conn = await connect({ port: s.address().port, localAddress: '127.0.0.2', handshakeTimeoutMs: 20_000 });
    opened.push({ close: () => conn.close() });
    const [peer] = await accepted;
    expect(peer.remoteAddress).toBe('127.0.0.2');
    await expect(connect({ port: s.address().port, localAddress: 'lb.example' })).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  });

  it("resolves 'localhost' and connects", async () => {
    const s = await server();
    s.once('connection', (c) => c.on('message', (m) => void c.send(m).catch(() => undefined)));
    const conn = await connect({ host: 'localhost', port: s.address().port, handshakeTimeoutMs: 20_000 });
    expect(conn.remoteAddress).toBe('127.0.0.1');
    const got = once(conn, 'message');
    await conn.send('over localhost');
    const [m] = (await got) as [Buffer];
    expect(m.toString()).toBe('over localhost');
    await conn.close();
  });

  /** A resolver that answers every name with `addresses`, in that order. */
  const resolvesTo =
    (...addresses: readonly string[]): LookupFunction =>
    (_host, _options, callback) =>
      callback(
        null,
        addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
      );

  it('a name with two addresses: a refused one (::1, nothing there) falls through at once to the next', async () => {
    const s = await server('127.0.0.1');
    const conn = await connect({ host: 'dual.test', port: s.address().port, lookup: resolvesTo('::1', '127.0.0.1'), handshakeTimeoutMs: 60_000 });
    expect(conn.remoteAddress).toBe('127.0.0.1');
    await conn.close();
  });

  /**
   * A server on ::1 and a socket that never answers on 127.0.0.1, on the same port. The server's
   * port is free on ::1 only: another process may hold it on 127.0.0.1, so a taken one is skipped.
   */
  async function serverBehindSilentTwin(): Promise<RudpServer> {
    for (let tries = 0; ; tries++) {
      const s = await listen({ port: 0, host: '::1' });
      const silent = dgram.createSocket('udp4');
      const bound = await new Promise<boolean>((r) => {
        silent.once('error', () => r(false));
        silent.bind(s.address().port, '127.0.0.1', () => r(true));
      });
      if (bound) {
        opened.push(s, { close: () => new Promise<void>((r) => silent.close(() => r())) });
        return s;
      }
      silent.close();
      await s.close();
      if (tries >= 20) throw new Error('no port free on both ::1 and 127.0.0.1 in 20 tries');
    }
  }

  it('a name with two addresses: a silent first one does not hold the second back for the handshake timeout', async () => {
    const s = await serverBehindSilentTwin();
    const conn = await connect({ host: 'dual.test', port: s.address().port, lookup: resolvesTo('127.0.0.1', '::1'), handshakeTimeoutMs: 60_000 });
    expect(conn.remoteAddress).toBe('::1');
    await conn.close();
  });

  it("every address timed out: the error is the one whose attempt heard something (its reason's note), not the first to fail", async () => {
    // A silent socket on 127.0.0.1 (tried first, so it fails first) and, on ::1 at the same port, something that
    // answers every INITIAL with a RETRY whose cookie no server made, then nothing (an attacker on the path, or a
    // path that loses the cookie INITIALs). Before, the first to fail won: a bare ETIMEDOUT, its note lost.
    for (let tries = 0; ; tries++) {
      const forger = dgram.createSocket('udp6');
      await new Promise<void>((r) => forger.bind(0, '::1', r));
      const port = forger.address().port;
      const silent = dgram.createSocket('udp4');
      const bound = await new Promise<boolean>((r) => {
        silent.once('error', () => r(false));
        silent.bind(port, '127.0.0.1', () => r(true));
      });
      if (!bound) {
        silent.close();
        forger.close();
        if (tries >= 20) throw new Error('no port free on both ::1 and 127.0.0.1 in 20 tries');
        continue;
      }
      opened.push({ close: () => new Promise<void>((r) => silent.close(() => r())) }, { close: () => new Promise<void>((r) => forger.close(() => r())) });
      forger.on('message', (msg, from) => {
        const h = parseHeader(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength));
        const init = typeof h !== 'string' && h.type === PacketType.Initial ? decodeInitial(h.payload) : undefined;
        if (init !== undefined && init.token.length === 0) forger.send(encodeRetry(new Uint8Array(MAX_DATAGRAM), init.scid, new Uint8Array(32).fill(0xee)), from.port, from.address);
      });
      const e = await rejection(connect({ host: 'dual.test', port, lookup: resolvesTo('127.0.0.1', '::1'), handshakeTimeoutMs: 1_000 }));
      expect(e.code).toBe('ETIMEDOUT');
      expect(e.address).toBe('::1');
      expect(e.reason?.kind).toBe('unreachable');
      expect(e.reason?.note).toMatch(/^a RETRY came, but no ACCEPT for any of the \d+ INITIALs? that carried its cookie back/);
      return;
    }
  });

  it('every address refused: ECONNREFUSED; the lookup failing: its code', async () => {
    const port = await closedPort();
    const e = await rejection(connect({ host: 'dual.test', port, lookup: resolvesTo('::1', '127.0.0.1'), handshakeTimeoutMs: 60_000 }));
    expect(e.code).toBe('ECONNREFUSED');
    const failing: LookupFunction = (_h, _o, cb) => cb(Object.assign(new Error('getaddrinfo EAI_AGAIN dual.test'), { code: 'EAI_AGAIN' }), []);
    const e2 = await rejection(connect({ host: 'dual.test', port, lookup: failing }));
    expect(e2).toMatchObject({ code: 'EAI_AGAIN', hostname: 'dual.test', syscall: 'getaddrinfo' });
  });

  it('a lookup that never answers ends in ETIMEDOUT after handshakeTimeoutMs; one that throws or answers garbage, in a RudpError', async () => {
    const port = await closedPort();
    const silent: LookupFunction = () => undefined;
    const started = performance.now();
    const e = await rejection(connect({ host: 'hung.test', port, lookup: silent, handshakeTimeoutMs: 200 }));
    // Before, connect never settled.
    expect(e).toMatchObject({ code: 'ETIMEDOUT', hostname: 'hung.test', syscall: 'getaddrinfo' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    const throwing: LookupFunction = () => {
      throw new Error('resolver bug');
    };
    const e2 = await rejection(connect({ host: 'bug.test', port, lookup: throwing }));
    expect(e2).toBeInstanceOf(RudpError);
    expect(e2).toMatchObject({ code: 'ENOTFOUND', hostname: 'bug.test' });
    const garbage = ((_h: string, _o: unknown, cb: (err: null, a: unknown) => void) => cb(null, 'not a list')) as unknown as LookupFunction;
    expect(await rejection(connect({ host: 'junk.test', port, lookup: garbage }))).toMatchObject({ code: 'ENOTFOUND', hostname: 'junk.test' });
  });

  it('connects over IPv6 (::1)', async () => {
    const s = await server('::1');
    const conn = await connect({ host: '::1', port: s.address().port });
    expect(conn.remoteAddress).toBe('::1');
    await conn.close();
  });

  it('connects to ::1 given with a zone (::1%lo): replies, which come from ::1, are not taken for a stranger', async () => {
    const s = await server('::1');
    // The echo's promise may still wait for its acknowledgement when the server is closed.
    s.once('connection', (c) => c.on('message', (m: Buffer) => void c.send(m).catch(() => {})));
    const conn = await connect({ host: '::1%lo', port: s.address().port, handshakeTimeoutMs: 5_000 });
    expect(conn.remoteAddress).toBe('::1');
    const echoed = new Promise<Buffer>((resolve) => conn.once('message', resolve));
    await conn.send(Buffer.from('hello'));
    expect((await echoed).toString()).toBe('hello');
    await conn.close();
  });

  it('a link-local address whose zone names no interface: connect rejects (EINVAL, syscall connect), no send throws out of the pump', async () => {
    // node:dgram reports this failed connect to its callback: taken for success, the first send threw ERR_SOCKET_BAD_PORT, uncaught.
    const escaped: unknown[] = [];
    const onError = (e: unknown): void => void escaped.push(e);
    process.on('uncaughtException', onError);
    try {
      const e = await rejection(connect({ host: 'fe80::1%nonexistent0', port: 4000, handshakeTimeoutMs: 1_000 }));
      expect({ code: e.code, syscall: e.syscall }).toEqual({ code: 'EINVAL', syscall: 'connect' });
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      process.off('uncaughtException', onError);
    }
    expect(escaped).toEqual([]);
  });

  it('fails with ECONNREFUSED at once when the port is closed (no wait for the handshake timeout)', async () => {
    const port = await closedPort();
    const t0 = performance.now();
    const e = await rejection(connect({ port, handshakeTimeoutMs: 60_000 }));
    expect(e.code).toBe('ECONNREFUSED');
    expect(e.message).toMatch(/cannot connect to 127\.0\.0\.1:\d+: connection refused/);
    expect(e.port).toBe(port);
    // As net.connect's ECONNREFUSED and this library's other connect errors; before: 'recvmsg', whatever call saw it
    // (the cause, the socket's own error, said 'send' on the UDP addon).
    expect(e).toMatchObject({ syscall: 'connect', address: '127.0.0.1', cause: { code: 'ECONNREFUSED' } });
    expect(['send', 'recvmsg']).toContain((e.cause as { syscall?: unknown }).syscall);
    // A refusal is one ICMP round trip on loopback; the timeout was 60 s.
    expect(performance.now() - t0).toBeLessThan(30_000);
  });

  it('a server at maxConnectionsPerHost refuses that host with ECONNREFUSED, not a timeout, and still takes another host', async () => {
    const s = await listen({ port: 0, maxConnectionsPerHost: 2 });
    opened.push(s);
    const port = s.address().port;
    for (let i = 0; i < 2; i++) {
      const c = await connect({ port, handshakeTimeoutMs: 60_000 });
      opened.push({ close: () => c.close() });
    }
    const e = await rejection(connect({ port, handshakeTimeoutMs: 60_000 }));
    expect(e.code).toBe('ECONNREFUSED');
    expect(e.message).toBe(`cannot connect to 127.0.0.1:${port}: the server at 127.0.0.1:${port} refused the connection: it has too many connections from this address${UNAUTHENTICATED_REFUSAL}`);
    expect(e).toMatchObject({ reason: { kind: 'refused' }, syscall: 'connect', address: '127.0.0.1', port });
    // A name with another address where nothing listens (::1): the server's own reason wins over that port's refusal.
    const lookup = ((_h: string, _o: unknown, cb: (err: null, a: { address: string; family: number }[]) => void) =>
      cb(null, [{ address: '::1', family: 6 }, { address: '127.0.0.1', family: 4 }])) as unknown as LookupFunction;
    const both = await rejection(connect({ host: 'forum.test', port, lookup, handshakeTimeoutMs: 60_000 }));
    expect(both.reason?.kind).toBe('refused');
    expect(both.message.endsWith(`too many connections from this address${UNAUTHENTICATED_REFUSAL}`)).toBe(true);
    const other = await connect({ port, localAddress: '127.0.0.2', handshakeTimeoutMs: 60_000 });
    opened.push({ close: () => other.close() });
    expect(s.stats().dropped.hostFull).toBeGreaterThanOrEqual(1);
    await expect(listen({ port: 0, maxConnectionsPerHost: 0 })).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  });

  it('a server past handshakesPerHostPerSecond refuses that host with ECONNREFUSED saying why, and still takes another host', async () => {
    // A burst of 2 and a refill far slower than the test: the third handshake from 127.0.0.1 is past the rate.
    const s = await listen({ port: 0, handshakesPerHostPerSecond: 0.001, handshakeBurstPerHost: 2 });
    opened.push(s);
    const port = s.address().port;
    for (let i = 0; i < 2; i++) {
      const c = await connect({ port, handshakeTimeoutMs: 60_000 });
      c.destroy();
    }
    const e = await rejection(connect({ port, handshakeTimeoutMs: 60_000 }));
    expect(e).toMatchObject({ code: 'ECONNREFUSED', reason: { kind: 'refused' }, syscall: 'connect', address: '127.0.0.1', port });
    expect(e.message).toBe(`cannot connect to 127.0.0.1:${port}: the server at 127.0.0.1:${port} refused the connection: too many new connections from this address; try again in a few seconds${UNAUTHENTICATED_REFUSAL}`);
    const other = await connect({ port, localAddress: '127.0.0.2', handshakeTimeoutMs: 60_000 });
    opened.push({ close: () => other.close() });
    expect(s.stats().dropped.hostRate).toBeGreaterThanOrEqual(1);
    await expect(listen({ port: 0, handshakesPerHostPerSecond: -1 })).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    await expect(listen({ port: 0, handshakeBurstPerHost: 0 })).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    await expect(listen({ port: 0, handshakesPerHostPerSecond: '5' as unknown as number })).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  });

  it('an encrypting client and a plaintext server (and the other way round) refuse each other at once with ECONNREFUSED saying why, not ETIMEDOUT', async () => {
    const plain = await listen({ port: 0, plaintext: true });
    opened.push(plain);
    const sealed = await server();
    // Before: each one timed out (ETIMEDOUT after handshakeTimeoutMs), the server dropping the INITIAL in silence.
    const toPlain = await rejection(connect({ port: plain.address().port, handshakeTimeoutMs: 3_000 }));
    expect(toPlain).toMatchObject({ code: 'ECONNREFUSED', reason: { kind: 'refused' }, syscall: 'connect', address: '127.0.0.1', port: plain.address().port });
    expect(toPlain.message).toMatch(/refused the connection: the server does not encrypt/);
    const toSealed = await rejection(connect({ port: sealed.address().port, plaintext: true, handshakeTimeoutMs: 3_000 }));
    expect(toSealed).toMatchObject({ code: 'ECONNREFUSED', reason: { kind: 'refused' }, syscall: 'connect', port: sealed.address().port });
    expect(toSealed.message).toMatch(/refused the connection: the server requires encryption/);
    expect(plain.connections.size + sealed.connections.size).toBe(0);
  });

  it('listen takes maxReceiveBufferBytes (the endpoint-wide receive budget, in stats()) and refuses it out of range or of the wrong type', async () => {
    const s = await listen({ port: 0, maxReceiveBufferBytes: 1024 * 1024 });
    opened.push(s);
    expect(s.stats().receiveBuffer).toEqual({ budget: 1024 * 1024, granted: 0, waiting: 0 });
    await expect(listen({ port: 0, maxReceiveBufferBytes: -1 })).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    await expect(listen({ port: 0, maxReceiveBufferBytes: '1' as unknown as number })).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  });

  it('fails with ENOTFOUND for a name that does not resolve', async () => {
    const e = await rejection(connect({ host: 'no-such-host.invalid', port: 4000 }));
    expect(e.code).toBe('ENOTFOUND');
    expect(e.hostname).toBe('no-such-host.invalid');
    expect(e.syscall).toBe('getaddrinfo');
  });

  it('a server key mismatch names the server and the refused connection as every connect error does', async () => {
    const server = await listen({ port: 0 });
    opened.push(server);
    const { port } = server.address();
    const e = await rejection(connect({ port, serverKey: new Uint8Array(32).fill(7) }));
    expect(e).toBeInstanceOf(ServerKeyMismatchError);
    // Before: address, port, syscall and reason were all undefined on this one error.
    expect(e).toMatchObject({ code: 'ERR_RUDP_SERVER_KEY_MISMATCH', address: '127.0.0.1', port, syscall: 'connect', reason: { kind: 'refused' } });
  });

  it("fails with EPROTO at once, naming the cause, when the server's authenticated answer announces an invalid receive window (it timed out as 'no answer')", async () => {
    // A broken server: its options could not take this window, so its core is given it behind them.
    const broken = await listen({ port: 0, maxReceiveBufferBytes: 2 ** 44 });
    opened.push(broken);
    const core = (broken as unknown as { io: { endpoint: Endpoint } }).io.endpoint;
    Object.defineProperty(core, 'config', { value: { ...core.config, receiveWindow: MAX_RECEIVE_WINDOW + 1 } });
    const { port } = broken.address();
    // The server's side of the attempt, told why by the client's sealed CLOSE (its socket sends it before it closes).
    const told = (once(broken, 'connection') as Promise<[RudpConnection]>).then(([c]) => once(c, 'close') as Promise<[CloseReason]>);
    const started = performance.now();
    const e = await rejection(connect({ port, handshakeTimeoutMs: 10_000 }));
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(e).toMatchObject({ code: 'EPROTO', reason: { kind: 'refused', code: PROTOCOL_VIOLATION }, syscall: 'connect', address: '127.0.0.1', port });
    expect(e.message).toBe(`cannot connect to 127.0.0.1:${port}: protocol violation: the server at 127.0.0.1:${port} announced an invalid receive window: ${MAX_RECEIVE_WINDOW + 1} bytes (a window is 1024 bytes to 2^40)`);
    // Within a few seconds, not the server's idle timeout (30 s), which ended it when nothing was sent.
    const [reason] = await told;
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(reason).toEqual({ kind: 'peer', code: PROTOCOL_VIOLATION, message: e.reason?.message });
  });

  it('fails with ETIMEDOUT after handshakeTimeoutMs when nothing answers', async () => {
    const { port } = await silentPort();
    const e = await rejection(connect({ port, handshakeTimeoutMs: 400 }));
    expect(e.code).toBe('ETIMEDOUT');
    expect(e.message).toMatch(/cannot connect to 127\.0\.0\.1:\d+: no answer/);
    expect(e.reason?.kind).toBe('unreachable');
  });

  it('takes a port as a string of an integer (process.env.PORT), as net.connect and dgram do; refuses the strings Node refuses', async () => {
    // Node's validatePort: Number() of the string, blanks around it and 0x too, an integer in range; blank, '1.5', '-1' refused.
    const s = await listen({ port: '0' });
    opened.push(s);
    const { port } = s.address();
    expect(port).toBeGreaterThan(0);
    s.once('connection', (c) => c.on('message', (m) => void c.send(m).catch(() => undefined)));
    const conn = await connect({ port: String(port), handshakeTimeoutMs: 20_000 });
    opened.push({ close: () => conn.close() });
    expect(conn.remotePort).toBe(port);
    const echoed = once(conn, 'message') as Promise<[Buffer]>;
    await conn.send('by a string port');
    expect((await echoed)[0].toString()).toBe('by a string port');
    // Bound by a string, the port is a number (a free one from '0'; the one named, as Node reads it, from ' 0x…\n').
    const free = await closedPort();
    const named = await listen({ port: ` 0x${free.toString(16)}\n` });
    opened.push(named);
    expect(named.address().port).toBe(free);
    const minusZero = await listen({ port: '-0' });
    opened.push(minusZero);
    expect(minusZero.address().port).toBeGreaterThan(0);
    for (const bad of ['', ' ', '1.5', '-1', '65536', 'abc', '4000abc', '1_000', 'Infinity', '\uff11']) {
      await expect(listen({ port: bad }), JSON.stringify(bad)).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_SOCKET_BAD_PORT' });
      await expect(connect({ port: bad }), JSON.stringify(bad)).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_SOCKET_BAD_PORT' });
    }
    // A client cannot connect to port 0, given as a number or as a string (Node lets the string '0' through to dgram's connect).
    await expect(connect({ port: '0' })).rejects.toMatchObject({ code: 'ERR_SOCKET_BAD_PORT' });
    await expect(connect({ port: ' 0 ' })).rejects.toMatchObject({ code: 'ERR_SOCKET_BAD_PORT' });
    for (const bad of [4000n, null, true, ['4000'], { valueOf: () => 4000 }]) {
      await expect(listen({ port: bad as unknown as number })).rejects.toMatchObject({ code: 'ERR_SOCKET_BAD_PORT' });
    }
  });

  it('rejects bad arguments at once with Node codes', async () => {
    await expect(connect({ port: 0 })).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_SOCKET_BAD_PORT' });
    await expect(connect({ port: 70_000 })).rejects.toMatchObject({ code: 'ERR_SOCKET_BAD_PORT' });
    await expect(connect({ port: 1, host: '' })).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    await expect(listen({ port: -1 })).rejects.toMatchObject({ code: 'ERR_SOCKET_BAD_PORT' });
    // A refused string that looks like a number is named as a string ("received 1.5" read as if the number were refused).
    await expect(listen({ port: '1.5' })).rejects.toThrow('received the string "1.5"');
    await expect(connect({ port: 1, mtu: 2000 })).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    await expect(connect({ port: 1, handshakeTimeoutMs: Number.NaN })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await expect(connect({ port: 1, highWaterMark: 0 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await expect(listen({ port: 0, receiveWindow: 100 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await expect(listen({ port: 0, redundancy: { maxCopies: -1, maxMessageBytes: 256, lossThreshold: 0, highLossThreshold: 0 } })).rejects.toMatchObject({
      code: 'ERR_OUT_OF_RANGE',
    });
    await expect(listen({ port: 0, idleTimeoutMs: '10' as unknown as number })).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    await expect(connect({ port: 1, segmentOffload: 'no' as unknown as boolean })).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  });

  it.skipIf(!canCountSockets)('rejects bad key and crypto options at once (ERR_INVALID_ARG_TYPE) and leaves no socket bound', async () => {
    // Descriptors, not getActiveResourcesInfo(): that lists neither unref'd sockets nor the addon's.
    const before = socketsNow();
    const key16 = new Uint8Array(16);
    const bad: readonly Promise<unknown>[] = [
      listen({ port: 0, identity: { publicKey: 1, privateKey: 2 } as unknown as { publicKey: Uint8Array; privateKey: Uint8Array } }),
      listen({ port: 0, crypto: 5 as never }),
      listen({ port: 0, connectionIds: 'random' as never }),
      listen({ port: 0, plaintext: true, identity: { publicKey: new Uint8Array(32), privateKey: new Uint8Array(32) } }),
      connect({ port: 1, serverKey: key16 }),
      connect({ port: 1, crypto: 5 as never }),
      connect({ port: 1, identity: 5 as never }),
    ];
    for (const p of bad) await expect(p).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    // Before, these were found by the endpoint after bind(): the sockets stayed bound and the process never exited.
    await new Promise((r) => setImmediate(r));
    // None of its own, whatever an earlier test's sockets do meanwhile (a count of all of them failed 1 run in 4).
    expect(socketsSince(before)).toBe(0);
  });

  it('listen on a port in use fails with EADDRINUSE as a RudpError', async () => {
    const s = await server();
    const e = await rejection(listen({ port: s.address().port }));
    expect(e.code).toBe('EADDRINUSE');
    expect(e).toMatchObject({ syscall: 'bind', address: '127.0.0.1', port: s.address().port, hostname: undefined });
    // A name: the address it resolved to, and the name as hostname.
    const named = await rejection(listen({ port: s.address().port, host: 'localhost', socketBatching: false }));
    expect(named).toMatchObject({ code: 'EADDRINUSE', syscall: 'bind', address: '127.0.0.1', port: s.address().port, hostname: 'localhost' });
  });

  it("errors name a host as Node's do: an unresolved name is the hostname (no address or port), a failed bind the local address", async () => {
    // As dgram's bind and net's listen report it: getaddrinfo ENOTFOUND, hostname. Before: address 'no-such-host.invalid', port 0.
    const e = await rejection(listen({ port: 0, host: 'no-such-host.invalid' }));
    expect(e).toMatchObject({ code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname: 'no-such-host.invalid', address: undefined, port: undefined });
    const c = await rejection(connect({ port: 4000, host: 'no-such-host.invalid' }));
    expect(c).toMatchObject({ code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname: 'no-such-host.invalid', address: undefined, port: undefined });
    // A localAddress no interface has (TEST-NET-1): as net.connect reports it, bind and that address. Before: the target's address and port.
    const local = await rejection(connect({ port: 4000, localAddress: '192.0.2.1', handshakeTimeoutMs: 3_000 }));
    expect(local).toMatchObject({ code: 'EADDRNOTAVAIL', syscall: 'bind', address: '192.0.2.1', port: undefined });
    expect(local.message).toBe('cannot connect to 127.0.0.1:4000: bind EADDRNOTAVAIL 192.0.2.1');
  });

  it('an already aborted signal rejects connect with an AbortError', async () => {
    const s = await server();
    const e = await rejection(connect({ port: s.address().port, signal: AbortSignal.abort('no') }));
    expect(e).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', cause: 'no' });
    expect(s.connections.size).toBe(0);
  });

  it('a signal aborted in the tick connect() is called in (an IP address: no lookup to abort) rejects it, no connection is made', async () => {
    // Missed before: the literal's answer came a microtask later, the abort listener was added after the abort, and
    // the handshake went on (a live server: connect resolved; a silent one: ETIMEDOUT after handshakeTimeoutMs).
    const s = await server();
    const ac = new AbortController();
    const p = connect({ port: s.address().port, signal: ac.signal });
    ac.abort('changed my mind');
    expect(await rejection(p)).toMatchObject({ code: 'ABORT_ERR', cause: 'changed my mind' });
    await new Promise((r) => setTimeout(r, 50));
    expect(s.connections.size).toBe(0);
  });

  it.skipIf(!canCountSockets)('aborting during the handshake rejects at once and frees the socket', async () => {
    const { port } = await silentPort();
    const ac = new AbortController();
    // Counted before connect() is called: its socket is opened a few microtasks later (counted after the
    // call, as this test did, it was missed when the test ran alone, and the test failed).
    const before = socketsNow();
    const p = connect({ port, handshakeTimeoutMs: 60_000, signal: ac.signal });
    // Aborted once the attempt's socket is open and its handshake under way.
    expect(await eventually(() => socketsSince(before) === 1)).toBe(true);
    ac.abort();
    const e = await rejection(p);
    expect(e.code).toBe('ABORT_ERR');
    // The attempt's socket is closed (close completes asynchronously).
    expect(await eventually(() => socketsSince(before) === 0)).toBe(true);
  });

  it('aborting during the lookup rejects at once with the reason as cause, though the resolver never answers', async () => {
    const ac = new AbortController();
    const p = connect({ host: 'hung.test', port: 4000, lookup: () => undefined, handshakeTimeoutMs: 60_000, signal: ac.signal });
    const reason = new Error('user gave up');
    setTimeout(() => ac.abort(reason), 20);
    expect(await rejection(p)).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', cause: reason });
  });

  it.skipIf(!canCountSockets)('aborting while several addresses of a name are being tried closes every attempt', async () => {
    const { port } = await silentPort();
    const ac = new AbortController();
    const before = socketsNow();
    // Two silent addresses (the same one twice: another loopback address would answer with an ICMP error): the second is tried 250 ms after the first.
    const p = connect({ host: 'dual.test', port, lookup: resolvesTo('127.0.0.1', '127.0.0.1'), handshakeTimeoutMs: 60_000, signal: ac.signal });
    expect(await eventually(() => socketsSince(before) === 2, 1000)).toBe(true);
    ac.abort();
    expect(await rejection(p)).toMatchObject({ code: 'ABORT_ERR' });
    expect(await eventually(() => socketsSince(before) === 0)).toBe(true);
  });

  it("an established connection ends with ECONNRESET (an 'error' event, a rejected send, a throwing loop) when the peer's port closes", async () => {
    const s = await server();
    const relay = await startUdpForwarder(s.address().port);
    const conn: RudpConnection = await connect({ port: relay.port, idleTimeoutMs: 60_000 });
    const errors: RudpError[] = [];
    conn.on('error', (e) => errors.push(e));
    const loop = (async () => {
      for await (const _ of conn) {
        // nothing arrives
      }
    })();
    await relay.close(); // the port the client talks to is gone: the next datagram draws an ICMP error
    const send = conn.send('anyone there?');
    const e = await rejection(send);
    expect(e.code).toBe('ECONNRESET');
    // The call that reported the reset, as dgram names it: the cause's own.
    expect(['send', 'recvmsg']).toContain(e.syscall);
    expect(e.syscall).toBe((e.cause as { syscall?: unknown }).syscall);
    expect(errors.map((x) => x.code)).toEqual(['ECONNRESET']);
    await expect(loop).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(conn.closed).toBe(true);
  });

  it('a failure (ECONNRESET) is not a destroy(): messages held back when it comes are still handed over', async () => {
    // Review s29: destroy() ends the messages since a26bc49; a failure must not (the ICMP path, fail(), is its own).
    const s = await server();
    let sent!: Promise<unknown>;
    s.on('connection', (c) => (sent = Promise.all(Array.from({ length: 300 }, (_, i) => c.send(`m${i}`)))));
    const relay = await startUdpForwarder(s.address().port);
    const conn: RudpConnection = await connect({ port: relay.port, idleTimeoutMs: 60_000 });
    conn.pause();
    const got: string[] = [];
    conn.on('message', (m: Buffer) => got.push(m.toString()));
    conn.on('error', () => undefined);
    // All acknowledged: the client holds all 300, none read (paused).
    await eventually(() => sent !== undefined);
    await sent;
    expect(got).toEqual([]);
    // Not events.once: it rejects on the 'error' that comes first.
    const closed = new Promise((r) => conn.once('close', r));
    await relay.close();
    await rejection(conn.send('anyone there?'));
    await closed;
    expect(conn.closeError?.code).toBe('ECONNRESET');
    expect(got).toEqual(Array.from({ length: 300 }, (_, i) => `m${i}`));
  });
});
