import { afterEach, describe, expect, it } from 'vitest';
import { connect, listen, nodeCryptoProvider, packetCipherLibrary, type RudpConnection, type RudpServer } from '../src/index.js';
import dgram from 'node:dgram';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});

async function echoServer(): Promise<RudpServer> {
  const server = await listen({ port: 0 });
  open.push(server);
  server.on('connection', (c) => c.on('message', (m) => void c.send(m).catch(() => {})));
  return server;
}

function collect(conn: RudpConnection, count: number): Promise<Uint8Array[]> {
  const got: Uint8Array[] = [];
  return new Promise((resolve) => {
    conn.on('message', (m) => {
      got.push(m);
      if (got.length === count) resolve(got);
    });
  });
}

describe('rudp over real node:dgram on 127.0.0.1', () => {
  it('echoes 1,000 messages in order', async () => {
    const server = await echoServer();
    const conn = await connect({ port: server.address().port });
    const done = collect(conn, 1000);
    const sent = Array.from({ length: 1000 }, (_, i) => `message ${i} ${'x'.repeat(i % 300)}`);
    await Promise.all(sent.map((m) => conn.send(m)));
    const got = await done;
    expect(got.map((b) => new TextDecoder().decode(b))).toEqual(sent);
    await conn.close();
  });

  it(`a client sealing with node:crypto and a server sealing with ${packetCipherLibrary} talk both ways (one cipher, two libraries)`, async () => {
    const server = await echoServer();
    const conn = await connect({ port: server.address().port, crypto: nodeCryptoProvider });
    const done = collect(conn, 50);
    const sent = Array.from({ length: 50 }, (_, i) => `interop ${i} ${'y'.repeat(i * 40)}`);
    await Promise.all(sent.map((m) => conn.send(m)));
    expect((await done).map((b) => new TextDecoder().decode(b))).toEqual(sent);
    await conn.close();
  });

  it("a server's publicKey is the key its clients pin: the given identity, or the fresh one made for it", async () => {
    const identity = nodeCryptoProvider.generateKeyPair();
    const given = await listen({ port: 0, identity });
    open.push(given);
    expect(given.publicKey).toEqual(identity.publicKey);
    const fresh = await echoServer();
    expect(fresh.publicKey).toBeInstanceOf(Uint8Array);
    expect(fresh.publicKey?.length).toBe(32);
    const conn = await connect({ port: fresh.address().port, serverKey: fresh.publicKey });
    expect(conn.serverKey).toEqual(fresh.publicKey);
    await conn.close();
    const plain = await listen({ port: 0, plaintext: true });
    open.push(plain);
    expect(plain.publicKey).toBeUndefined();
  });

  it('carries a 16 MiB message both ways intact', async () => {
    const server = await echoServer();
    const conn = await connect({ port: server.address().port });
    const big = new Uint8Array(16 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) & 0xff;
    big[big.length - 1] = 42;
    const done = collect(conn, 1);
    await conn.send(big);
    const [back] = await done;
    expect(back?.length).toBe(big.length);
    expect(Buffer.compare(Buffer.from(back as Uint8Array), Buffer.from(big))).toBe(0);
    await conn.close();
  });

  /** Sends 64 × 16 KiB to an echo server on `host` and checks what comes back; returns the client's datagram size. */
  async function bulkOver(host: string): Promise<number> {
    const server = await listen({ port: 0, host });
    open.push(server);
    server.on('connection', (c) => c.on('message', (m) => void c.send(m).catch(() => {})));
    const conn = await connect({ port: server.address().port, host });
    const sent = Array.from({ length: 64 }, (_, i) => new Uint8Array(16 * 1024).fill(i));
    const done = collect(conn, sent.length);
    await Promise.all(sent.map((m) => conn.send(m)));
    const back = await done;
    // Compared as bytes: toEqual walks a Uint8Array element by element (10-20 s for this MiB, loaded).
    expect(back.map((m, i) => m.length === 16 * 1024 && Buffer.from(m.buffer, m.byteOffset, m.length).equals(sent[i] as Uint8Array))).toEqual(sent.map(() => true));
    const s = conn.stats();
    expect(s.mtuProbesAcked).toBeGreaterThanOrEqual(1);
    await conn.close();
    return s.datagramSize;
  }

  it('path MTU discovery raises the datagram size to 1472 on IPv4 loopback (a 1500-byte MTU less IPv4 + UDP headers), and the data arrives intact', async () => {
    expect(await bulkOver('127.0.0.1')).toBe(1472);
  });

  it('on an IPv6 socket the search stops at 1452 (IPv6 headers are 20 bytes longer), though loopback would carry more', async () => {
    expect(await bulkOver('::1')).toBe(1452);
  });

  it('rejects connect with a clear error when nothing answers', async () => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    const port = sock.address().port; // a bound socket that never answers
    const t0 = performance.now();
    await expect(connect({ port, handshakeTimeoutMs: 600 })).rejects.toThrow(/cannot connect to 127\.0\.0\.1:\d+: no answer/);
    expect(performance.now() - t0).toBeLessThan(5000);
    await new Promise<void>((r) => sock.close(() => r()));
  });

  it('rejects pending sends and reports close when the server goes away', async () => {
    const server = await listen({ port: 0 });
    const conn = await connect({ port: server.address().port, idleTimeoutMs: 1500, keepAliveMs: 300 });
    const closed = new Promise((r) => conn.once('close', r));
    await server.close(); // tells the client
    await closed;
    await expect(conn.send('late')).rejects.toThrow(/connection closed/);
  });

  it("the server's live connections drop each one that closes, before its 'close' listeners run", async () => {
    const server = await echoServer();
    const serverSide: RudpConnection[] = [];
    const sawItGone: boolean[] = [];
    server.on('connection', (c) => {
      serverSide.push(c);
      c.once('close', () => sawItGone.push(!server.connections.has(c)));
    });
    // One at a time, each client's server side met before the next connects: serverSide[i] is clients[i]'s. Side by
    // side, the server could meet them in another order (a loaded machine), and the closes awaited below were not
    // those of the clients closed: the test waited for good for a close that never came.
    const clients: RudpConnection[] = [];
    for (let i = 0; i < 3; i++) {
      const met = new Promise((r) => server.once('connection', r));
      clients.push(await connect({ port: server.address().port }));
      await met;
    }
    await Promise.all(clients.map((c) => c.send('hi')));
    expect(server.connections.size).toBe(3);
    expect(new Set(server.connections)).toEqual(new Set(serverSide));
    // Closing two: the server hears of each (the peer's CLOSE) and forgets it; the third stays.
    const gone = Promise.all(serverSide.slice(0, 2).map((c) => new Promise((r) => c.once('close', r))));
    await Promise.all(clients.slice(0, 2).map((c) => c.close()));
    await gone;
    expect(sawItGone).toEqual([true, true]);
    expect([...server.connections]).toEqual([serverSide[2]]);
    clients[2]?.destroy();
  });
});
