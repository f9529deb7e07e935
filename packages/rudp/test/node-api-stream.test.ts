import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, listen, MESSAGE_CREDIT, type RudpConnection, type RudpServer } from '../src/index.js';
import { startUdpForwarder } from './helpers/udp-forwarder.js';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

/** `total` random bytes in chunks of odd sizes, and their sha256. */
function randomSource(total: number): { chunks: Buffer[]; sha256: string } {
  const chunks: Buffer[] = [];
  const hash = createHash('sha256');
  for (let n = 0; n < total; ) {
    const size = Math.min(total - n, 1 + ((n * 7919) % 300_000));
    const c = randomBytes(size);
    chunks.push(c);
    hash.update(c);
    n += size;
  }
  return { chunks, sha256: hash.digest('hex') };
}

/** A Writable that hashes what it gets. */
function hashSink(): { sink: Writable; digest(): string; bytes(): number } {
  const hash = createHash('sha256');
  let bytes = 0;
  const sink = new Writable({
    // A slow consumer now and then: the reading side must hold the transport back, not drop or pile up.
    write(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      if (bytes % 7 === 0) setTimeout(cb, 1);
      else cb();
    },
  });
  return { sink, digest: () => hash.digest('hex'), bytes: () => bytes };
}

/** The digest and length of what the first connection to `server` streams, once it ends. */
function receiveHashed(server: RudpServer): Promise<{ digest: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    server.on('connection', (c) => {
      const sink = hashSink();
      pipeline(c.stream(), sink.sink).then(() => resolve({ digest: sink.digest(), bytes: sink.bytes() }), reject);
    });
  });
}

async function echoStreamServer(): Promise<RudpServer> {
  const server = await listen({ port: 0 });
  open.push(server);
  server.on('connection', (c) => {
    const s = c.stream();
    // Each end ends on its own: the echo ends its side once the client ended its own.
    pipeline(s, new PassThrough(), s).catch(() => undefined);
  });
  return server;
}

describe('stream(): a byte-stream Duplex for pipeline()', () => {
  it('pipes 6 MiB through an echo server and back intact (sha256), with half-close both ways', async () => {
    const server = await echoStreamServer();
    const conn: RudpConnection = await connect({ port: server.address().port });
    open.push(conn);
    const { chunks, sha256 } = randomSource(6 * 1024 * 1024);
    const duplex = conn.stream();
    expect(conn.stream()).toBe(duplex);
    const back = hashSink();
    await Promise.all([pipeline(Readable.from(chunks), duplex), pipeline(duplex, back.sink)]);
    expect(back.bytes()).toBe(6 * 1024 * 1024);
    expect(back.digest()).toBe(sha256);
  });

  it('a receiver sees the sender end: pipeline to a file-like sink completes with every byte', async () => {
    const server = await listen({ port: 0 });
    open.push(server);
    const received = receiveHashed(server);
    const conn = await connect({ port: server.address().port });
    const { chunks, sha256 } = randomSource(3 * 1024 * 1024 + 17);
    await pipeline(Readable.from(chunks), conn.stream());
    await conn.close();
    expect(await received).toEqual({ digest: sha256, bytes: 3 * 1024 * 1024 + 17 });
  });

  it('small writes made before the stream takes the last one leave together: 1 MiB of 64-byte writes arrive intact in a few hundred messages, not 16,384', async () => {
    const server = await listen({ port: 0 });
    open.push(server);
    let messages = 0;
    const received = new Promise<{ digest: string; bytes: number }>((resolve, reject) => {
      server.on('connection', (c) => {
        c.on('message', () => messages++);
        const sink = hashSink();
        pipeline(c.stream(), sink.sink).then(() => resolve({ digest: sink.digest(), bytes: sink.bytes() }), reject);
      });
    });
    // A small high-water mark: the writer is held back often too, and its writes queue in the stream meanwhile.
    const conn = await connect({ port: server.address().port, highWaterMark: 64 * 1024 });
    const writes = 16_384;
    const hash = createHash('sha256');
    const chunks = Array.from({ length: writes }, (_, i) => {
      const c = Buffer.alloc(64, i & 0xff);
      c.writeUInt32BE(i);
      hash.update(c);
      return c;
    });
    await pipeline(Readable.from(chunks), conn.stream());
    await conn.close();
    expect(await received).toEqual({ digest: hash.digest('hex'), bytes: writes * 64 });
    // One message a write would be 16,385 (the end marker included).
    expect(messages).toBeLessThan(writes / 32);
  });

  it('a write larger than the peer\'s window takes goes in pieces that fit it (a 4 KiB window, 300 KB written at once)', async () => {
    // Before, pieces were 256 KiB whatever the window: the write threw out of _write.
    const server = await listen({ port: 0, receiveWindow: 4096 });
    open.push(server);
    const received = receiveHashed(server);
    const conn = await connect({ port: server.address().port, receiveWindow: 4096 });
    expect(conn.maxMessageSize()).toBe(4096 - MESSAGE_CREDIT);
    const data = Buffer.alloc(300_000);
    for (let i = 0; i < data.length; i += 4) data.writeUInt32BE(i, i);
    await pipeline(Readable.from([data]), conn.stream());
    await conn.close();
    expect(await received).toEqual({ digest: createHash('sha256').update(data).digest('hex'), bytes: data.length });
  });

  it('one-byte writes, each awaited, are held back by what their messages cost the peer, not by their bytes', async () => {
    const server = await listen({ port: 0 });
    open.push(server);
    const received = receiveHashed(server);
    const highWaterMark = 16 * 1024;
    const conn = await connect({ port: server.address().port, highWaterMark });
    const stream = conn.stream();
    // Each write is called back (on the next tick) before the next is made, so each is a message of its own: 1 byte, 257 of credit.
    const write = (b: Buffer): Promise<void> => new Promise((resolve, reject) => stream.write(b, (e) => (e ? reject(e) : resolve())));
    const hash = createHash('sha256');
    let writes = 0;
    // Bounded only so that a missing backpressure fails instead of looping for ever (in bytes alone it would take 16,384 writes).
    while (writes < 20_000) {
      const b = Buffer.of(writes & 0xff);
      hash.update(b);
      // The stream is idle (the last write was called back), so it hands this one to the connection at once.
      const written = write(b);
      writes++;
      if (conn.writableNeedDrain) {
        // This write is called back only once the connection drained.
        await written;
        break;
      }
      await written;
    }
    expect(writes).toBe(Math.ceil(highWaterMark / (1 + MESSAGE_CREDIT)));
    expect(conn.writableNeedDrain).toBe(false);
    expect(conn.writableLength).toBeLessThanOrEqual(highWaterMark / 2);
    stream.end();
    await once(stream, 'finish');
    await conn.close();
    expect(await received).toEqual({ digest: hash.digest('hex'), bytes: writes });
  });

  it("a connection that closes before the peer ended its stream fails the reader's pipeline", async () => {
    const server = await listen({ port: 0 });
    open.push(server);
    const outcome = new Promise<unknown>((resolve) => {
      server.on('connection', (c) => {
        pipeline(c.stream(), hashSink().sink).then(
          () => resolve('completed'),
          (e: unknown) => resolve(e),
        );
      });
    });
    const conn = await connect({ port: server.address().port });
    await conn.send('some bytes, and no end');
    conn.destroy();
    expect(await outcome).toMatchObject({ code: 'ECONNRESET' });
  });

  it('a write while close() drains calls back with ERR_RUDP_CLOSED and sends nothing, instead of reporting bytes it dropped', async () => {
    // Attack round 13: the callback came without an error and the bytes never left (the connection's write took
    // nothing and said only false), as a pipeline into the stream went on "writing" after a shutdown's close().
    const server = await listen({ port: 0 });
    open.push(server);
    let received = 0;
    server.on('connection', (c) => c.on('message', (m) => (received += m.length)));
    const conn = await connect({ port: server.address().port });
    await conn.send('before');
    const closing = conn.close();
    const stream = conn.stream();
    stream.on('error', () => {});
    const written = await new Promise<unknown>((resolve) => stream.write(Buffer.alloc(1000, 1), (e) => resolve(e ?? 'no error')));
    expect(written).toMatchObject({ code: 'ERR_RUDP_CLOSED' });
    await closing;
    expect(received).toBe('before'.length);
  });

  it('a reply ended with end() finishes cleanly when the client reads it to the end and closes at once', async () => {
    // Request/response over half-close: the server answers once the request ended. The client's CLOSE
    // used to leave without the ACK of the reply's end marker, so the server's stream failed with
    // ECONNRESET (an 'error' event: a crash without a listener) though the client had read every byte.
    const server = await listen({ port: 0 });
    open.push(server);
    const served = new Promise<unknown>((resolve) => {
      server.on('connection', (c) => {
        const s = c.stream();
        let bytes = 0;
        s.on('data', (d: Buffer) => (bytes += d.length));
        s.on('end', () => s.end(`got ${bytes} bytes`));
        s.on('error', resolve);
        s.on('finish', () => resolve('finished'));
      });
    });
    const conn = await connect({ port: server.address().port });
    const s = conn.stream();
    s.end(Buffer.alloc(10_000));
    const reply: Buffer[] = [];
    for await (const chunk of s) reply.push(chunk as Buffer);
    await conn.close();
    expect(Buffer.concat(reply).toString()).toBe('got 10000 bytes');
    expect(await served).toBe('finished');
  });
});

describe('writes to stream() once the connection ended', () => {
  /** A client connection, its server's side (which reads nothing) and the client's stream, read and watched for errors. */
  async function streamPair(options: { readonly idleTimeoutMs?: number; readonly via?: 'forwarder'; readonly noStream?: true } = {}): Promise<{
    conn: RudpConnection;
    peer: RudpConnection;
    stream: ReturnType<RudpConnection['stream']> | undefined;
    errors: string[];
    silence(): void;
  }> {
    const server = await listen({ port: 0, ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs, keepAliveMs: 0 } : {}) });
    open.push(server);
    const relay = options.via === 'forwarder' ? await startUdpForwarder(server.address().port) : undefined;
    if (relay !== undefined) open.push(relay);
    const accepted = new Promise<RudpConnection>((resolve) => server.once('connection', resolve));
    const conn = await connect({ port: relay?.port ?? server.address().port, ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs, keepAliveMs: 0 } : {}) });
    open.push({ close: () => conn.close({ signal: AbortSignal.timeout(100) }) });
    const peer = await accepted;
    const errors: string[] = [];
    const stream = options.noStream ? undefined : conn.stream();
    stream?.on('error', (e: NodeJS.ErrnoException) => errors.push(String(e.code)));
    stream?.resume();
    return { conn, peer, stream, errors, silence: () => relay?.silence() };
  }
  /** The code a write's callback gets ('ok' for none). */
  const written = (s: ReturnType<RudpConnection['stream']> | undefined): Promise<string> =>
    new Promise((resolve) => s?.write(Buffer.alloc(10, 1), (e) => resolve(e ? String((e as NodeJS.ErrnoException).code) : 'ok')));
  const ended = (c: RudpConnection): Promise<void> => new Promise((resolve) => (c.closed ? resolve() : c.once('close', () => resolve())));

  it('closed here: the stream was closed quietly, and a write fails as on any destroyed stream (ERR_STREAM_DESTROYED); send rejects with ERR_RUDP_CLOSED', async () => {
    const p = await streamPair();
    await p.conn.close();
    expect(await written(p.stream)).toBe('ERR_STREAM_DESTROYED');
    expect(p.errors).toEqual([]);
    await expect(p.conn.send('x')).rejects.toMatchObject({ code: 'ERR_RUDP_CLOSED' });
  });

  it('closed by the peer before it ended its stream: the stream failed with ECONNRESET, and a write fails with ERR_STREAM_DESTROYED; send rejects with ECONNRESET', async () => {
    const p = await streamPair();
    await p.peer.close();
    await ended(p.conn);
    expect(p.errors).toEqual(['ECONNRESET']);
    expect(await written(p.stream)).toBe('ERR_STREAM_DESTROYED');
    await expect(p.conn.send('x')).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  it('ended by the idle timeout: the stream failed with ETIMEDOUT, and a write fails with ERR_STREAM_DESTROYED; send rejects with ETIMEDOUT', async () => {
    const p = await streamPair({ idleTimeoutMs: 300, via: 'forwarder' });
    p.silence();
    await ended(p.conn);
    expect(p.errors).toEqual(['ETIMEDOUT']);
    expect(await written(p.stream)).toBe('ERR_STREAM_DESTROYED');
    await expect(p.conn.send('x')).rejects.toMatchObject({ code: 'ETIMEDOUT' });
  });

  it('closed by the peer after it ended its stream: the writable side was ended with it, and a write fails with ERR_STREAM_WRITE_AFTER_END', async () => {
    const p = await streamPair();
    const readEnd = once(p.stream as ReturnType<RudpConnection['stream']>, 'end');
    p.peer.stream().end();
    await readEnd;
    await p.peer.close();
    await ended(p.conn);
    expect(p.errors).toEqual([]);
    expect(await written(p.stream)).toBe('ERR_STREAM_WRITE_AFTER_END');
  });

  it("a stream first made after the end fails its first write with the end's error, as send rejects: ERR_RUDP_CLOSED, ECONNRESET, ETIMEDOUT", async () => {
    const firstWrite = (c: RudpConnection): Promise<string> => {
      const s = c.stream();
      s.on('error', () => {});
      return written(s);
    };
    const here = await streamPair({ noStream: true });
    await here.conn.close();
    expect(await firstWrite(here.conn)).toBe('ERR_RUDP_CLOSED');
    const byPeer = await streamPair({ noStream: true });
    await byPeer.peer.close();
    await ended(byPeer.conn);
    expect(await firstWrite(byPeer.conn)).toBe('ECONNRESET');
    const timedOut = await streamPair({ idleTimeoutMs: 300, via: 'forwarder', noStream: true });
    timedOut.silence();
    await ended(timedOut.conn);
    expect(await firstWrite(timedOut.conn)).toBe('ETIMEDOUT');
  });

  it("a write after the stream's own end() fails with ERR_STREAM_WRITE_AFTER_END, and as any error of the stream it destroys the connection (the peer is told)", async () => {
    const p = await streamPair();
    p.stream?.end();
    await once(p.stream as ReturnType<RudpConnection['stream']>, 'finish');
    expect(await written(p.stream)).toBe('ERR_STREAM_WRITE_AFTER_END');
    await ended(p.peer);
    expect(p.peer.closed).toBe(true);
    await expect(p.conn.send('x')).rejects.toMatchObject({ code: 'ERR_RUDP_CLOSED' });
  });
});

describe('stream() made after the end', () => {
  it('of a connection closed here ends quietly; of one the peer closed, fails with ECONNRESET', async () => {
    const server = await listen({ port: 0 });
    open.push(server);
    const accepted = new Promise<RudpConnection>((resolve) => server.once('connection', resolve));
    const conn = await connect({ port: server.address().port });
    const peer = await accepted;
    await conn.close();
    /** How the readable side of `c.stream()` ends: its error, or 'ended'. */
    const ending = (c: RudpConnection): Promise<unknown> =>
      new Promise((resolve) => {
        const s = c.stream();
        s.on('error', resolve);
        s.on('end', () => resolve('ended'));
        s.on('close', () => resolve('closed'));
        s.resume();
      });
    // Before, the closed-here connection's stream failed as if the peer had cut it off (ECONNRESET).
    expect(await ending(conn)).toBe('closed');
    await new Promise<void>((resolve) => (peer.closed ? resolve() : peer.once('close', () => resolve())));
    expect(await ending(peer)).toMatchObject({ code: 'ECONNRESET' });
  });
});

describe('ref() / unref()', () => {
  const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
  /** Runs an ESM snippet against the built package (asynchronously: the test worker stays responsive). */
  const run = (code: string, timeout: number): Promise<{ code: number | null; signal: string | null; out: string }> =>
    promisify(execFile)(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout }).then(
      (r) => ({ code: 0, signal: null, out: r.stdout + r.stderr }),
      (e: { code?: number; signal?: string; stdout?: string; stderr?: string }) => ({
        code: typeof e.code === 'number' ? e.code : null,
        signal: e.signal ?? null,
        out: (e.stdout ?? '') + (e.stderr ?? ''),
      }),
    );

  it.skipIf(!existsSync(dist))("an unref'd server and connection let the process exit; ref'd ones keep it alive", async () => {
    const exits = await run(
      `
      import { listen, connect } from ${JSON.stringify(dist)};
      const server = await listen({ port: 0 });
      server.on('connection', (c) => c.unref());
      const conn = await connect({ port: server.address().port });
      await conn.send('hi');
      server.unref();
      conn.unref();
      console.log('unrefd', conn.hasRef());
    `,
      20_000,
    );
    expect(exits).toEqual({ code: 0, signal: null, out: 'unrefd false\n' });
    // The same without unref() keeps the process alive: an unref'd timer fires only while something
    // else holds the event loop open (with nothing else, the process would exit without its line).
    const stays = await run(
      `import { listen } from ${JSON.stringify(dist)}; await listen({ port: 0 }); console.log('listening');
      setTimeout(() => { console.log('kept alive'); process.exit(0); }, 200).unref();`,
      20_000,
    );
    expect(stays).toEqual({ code: 0, signal: null, out: 'listening\nkept alive\n' });
  });
});
