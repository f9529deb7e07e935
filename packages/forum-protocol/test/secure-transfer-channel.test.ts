import { once } from 'node:events';
import net from 'node:net';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { nodeCryptoProvider as crypto } from 'rudpx';
import { afterEach, describe, expect, it } from 'vitest';
import { readHeaderLines } from '../src/transfer/read-header.js';
import { RecordSealer } from '../src/transfer/record-framing.js';
import { FINAL_RECORD_SENT, SecureTransferChannel, TransferChannelError } from '../src/transfer/secure-transfer-channel.js';
import type { TransferKeys } from '../src/transfer/transfer-keys.js';

/** Waits until `ok()` holds, checking every 20 ms; false after `ms`. */
const until = async (ok: () => boolean, ms: number): Promise<boolean> => {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
};

const keys: TransferKeys = { clientToServer: crypto.randomBytes(32), serverToClient: crypto.randomBytes(32) };

/** A loopback TCP pair: `serve` gets the server's socket; resolves with the client's. */
const closers: (() => void)[] = [];
afterEach(() => closers.splice(0).forEach((c) => c()));
const loopback = async (serve: (s: net.Socket) => void): Promise<net.Socket> => {
  // The server's socket destroyed too: half-open, one whose test never ended it outlived server.close() (which
  // only stops listening) and the file, in the shared worker.
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    closers.push(() => s.destroy());
    serve(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => server.close());
  const client = net.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1' });
  client.on('error', () => undefined);
  closers.push(() => client.destroy());
  await new Promise((resolve) => client.once('connect', resolve));
  return client;
};

/** Everything `channel` reads until it ends or breaks: the text and the error code, if any. */
const drain = (channel: SecureTransferChannel): Promise<{ text: string; code: string | undefined }> =>
  new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let code: string | undefined;
    channel.on('data', (c: Buffer) => chunks.push(c));
    channel.on('error', (e) => (code = e instanceof TransferChannelError ? e.code : e.message));
    channel.on('close', () => resolve({ text: Buffer.concat(chunks).toString('utf8'), code }));
  });

describe('SecureTransferChannel over TCP', () => {
  it('carries both directions; header lines can be read from it; the wire is sealed', async () => {
    const wire: Buffer[] = [];
    const client = await loopback((s) => {
      s.on('data', (c: Buffer) => wire.push(c));
      const ch = new SecureTransferChannel(s, keys, 'server');
      ch.on('error', () => undefined);
      void readHeaderLines(ch, 1, 100).then((lines) => ch.end(`got ${lines?.[0] ?? '?'}\n`));
    });
    const ch = new SecureTransferChannel(client, keys, 'client');
    const answer = drain(ch);
    ch.end('hello-plaintext\n');
    expect(await answer).toEqual({ text: 'got hello-plaintext\n', code: undefined });
    expect(Buffer.concat(wire).includes(Buffer.from('hello'))).toBe(false);
  });

  it('an altered byte breaks the channel with ERR_TRANSFER_AUTH', async () => {
    const client = await loopback((s) => {
      const ch = new SecureTransferChannel(s, keys, 'server');
      ch.on('error', () => undefined);
      // Flip a body byte of each sealed record on its way out.
      const write = s.write.bind(s);
      s.write = ((chunk: Uint8Array, cb?: () => void) => {
        const b = Buffer.from(chunk);
        if (b.length > 10) b[8] = (b[8] ?? 0) ^ 1;
        return write(b, cb);
      }) as typeof s.write;
      ch.end('a reply long enough to be altered\n');
    });
    const ch = new SecureTransferChannel(client, keys, 'client');
    expect((await drain(ch)).code).toBe('ERR_TRANSFER_AUTH');
  });

  it('a connection that ends before the final record is ERR_TRANSFER_TRUNCATED, not a short stream', async () => {
    const client = await loopback((s) => {
      const ch = new SecureTransferChannel(s, keys, 'server');
      ch.on('error', () => undefined);
      ch.write('partial', () => s.end());
    });
    const got = await drain(new SecureTransferChannel(client, keys, 'client'));
    expect(got).toEqual({ text: 'partial', code: 'ERR_TRANSFER_TRUNCATED' });
  });

  it("a server's clear ERR line (no keys yet) is ERR_TRANSFER_REFUSED with its reason, never data", async () => {
    const client = await loopback((s) => s.end('ERR invalid or expired token\n'));
    const ch = new SecureTransferChannel(client, keys, 'client');
    const errors: Error[] = [];
    ch.on('error', (e) => errors.push(e));
    const got = await drain(ch);
    expect(got).toEqual({ text: '', code: 'ERR_TRANSFER_REFUSED' });
    expect(errors[0]?.message).toBe('invalid or expired token');
  });

  it("abort() ends the stream unfinished: the peer fails ERR_TRANSFER_ABORTED with the reason, never ends it as whole; later writes and the end are dropped", async () => {
    let aborted: boolean | undefined;
    const client = await loopback((s) => {
      const ch = new SecureTransferChannel(s, keys, 'server');
      ch.on('error', () => undefined);
      ch.write('OK 100\npart of it', () => {
        aborted = ch.abort('Thread t does not exist');
        ch.write('never sent');
        ch.end();
      });
    });
    const ch = new SecureTransferChannel(client, keys, 'client');
    const errors: Error[] = [];
    ch.on('error', (e) => errors.push(e));
    let ended = false;
    ch.on('end', () => (ended = true));
    // The bytes before it may be read first or not (as TCP delivers them): they are to be thrown away either way.
    const got = await drain(ch);
    expect(got.code).toBe('ERR_TRANSFER_ABORTED');
    expect('OK 100\npart of it'.startsWith(got.text)).toBe(true);
    expect(ended).toBe(false);
    expect(errors.map((e) => e.message)).toEqual(['Thread t does not exist']);
    expect(aborted).toBe(true);
  });

  it('abort() after the final record was sealed does nothing: the peer has the stream whole', async () => {
    let aborted: boolean | undefined;
    const client = await loopback((s) => {
      const ch = new SecureTransferChannel(s, keys, 'server');
      ch.on('error', () => undefined);
      ch.end('all of it', () => (aborted = ch.abort('too late')));
    });
    const ch = new SecureTransferChannel(client, keys, 'client');
    const got = drain(ch);
    ch.end();
    expect(await got).toEqual({ text: 'all of it', code: undefined });
    expect(aborted).toBe(false);
  });

  it('says when its final record is handed to the socket: the peer may have the whole stream and close before the write completes', async () => {
    const seen: string[] = [];
    let closedByPeer!: () => void;
    const serverClosed = new Promise<void>((resolve) => (closedByPeer = resolve));
    const client = await loopback((s) => {
      // Every write is taken but reported as not yet drained (a full send buffer), and no 'drain' comes.
      const write = s.write.bind(s);
      s.write = ((chunk: Uint8Array) => (write(chunk), false)) as typeof s.write;
      const ch = new SecureTransferChannel(s, keys, 'server');
      ch.on('error', () => seen.push('error'));
      ch.on(FINAL_RECORD_SENT, () => seen.push('final record sent'));
      ch.on('finish', () => seen.push('finish'));
      s.on('close', () => closedByPeer());
      ch.end();
    });
    const ch = new SecureTransferChannel(client, keys, 'client');
    ch.resume();
    // The final record is in: the stream ends without an error, and the client closes, as a download does.
    await once(ch, 'end');
    ch.destroy();
    await serverClosed;
    // The server's write never completed: no 'finish', but the final record was reported first.
    expect(seen).toEqual(['final record sent', 'error']);
  });

  it('a socket already gone sends no final record and says nothing of one', async () => {
    let ended!: (events: string[]) => void;
    const result = new Promise<string[]>((resolve) => (ended = resolve));
    const client = await loopback((s) => {
      const seen: string[] = [];
      const ch = new SecureTransferChannel(s, keys, 'server');
      ch.on(FINAL_RECORD_SENT, () => seen.push('final record sent'));
      ch.on('error', (e) => seen.push(e instanceof TransferChannelError ? e.code : e.message));
      s.destroy();
      ch.end();
      ch.on('close', () => ended(seen));
    });
    client.resume();
    expect(await result).toEqual(['ERR_TRANSFER_TRUNCATED']);
  });

  it('a peer that refuses and closes mid-upload fails the sender promptly instead of leaving it waiting', async () => {
    const client = await loopback((s) => {
      const ch = new SecureTransferChannel(s, keys, 'server');
      ch.on('error', () => undefined);
      // Read one chunk, then refuse and close without reading the rest.
      ch.once('data', () => {
        ch.pause();
        ch.end('ERR stop\n');
        setTimeout(() => s.destroy(), 20);
      });
    });
    const ch = new SecureTransferChannel(client, keys, 'client');
    const answer = drain(ch);
    const big = Buffer.alloc(64 * 1024 * 1024, 7);
    const sent = pipeline(Readable.from([big.subarray(0, 1024), big]), ch).then(
      () => 'finished',
      () => 'failed',
    );
    expect(await sent).toBe('failed');
    expect((await answer).text).toBe('ERR stop\n');
  });

  it("socketEnd 'reset': destroyed with an error just after its socket's end, the socket still closes (libuv refuses a reset while the shutdown is under way, and Node never closed it)", async () => {
    let closed: Promise<unknown> | undefined;
    await loopback((s) => {
      s.on('error', () => undefined);
      // Node's 'close', not `closed` (set at the destroy, even when the handle never closes).
      closed = new Promise((resolve) => s.once('close', () => resolve('close')));
      const ch = new SecureTransferChannel(s, keys, 'server', crypto, { socketEnd: 'reset' });
      ch.on('error', () => undefined);
      s.end();
      ch.destroy(new Error('the peer misbehaved'));
    });
    // Bounds far past a loopback close at any load (CI's 2 s were a tenth of a busy machine's stalls): the old code never closed it.
    expect(await until(() => closed !== undefined, 20_000)).toBe(true);
    let timer: NodeJS.Timeout | undefined;
    const stillOpen = new Promise((resolve) => (timer = setTimeout(() => resolve('still open'), 20_000)));
    expect(await Promise.race([closed, stillOpen]).finally(() => clearTimeout(timer))).toBe('close');
  });
});

/**
 * A timer seam for the small-read hold: a hold ends only when the test says so (`releaseAll`, and from
 * then on at once), never by the clock. Counts holds running, most at once, and those cancelled.
 */
const manualTimers = () => {
  const pending = new Set<() => void>();
  const t = { live: 0, most: 0, cancelled: 0, auto: false, started: undefined as unknown as Promise<void> };
  let onStart = (): void => undefined;
  t.started = new Promise<void>((resolve) => (onStart = resolve));
  const setTimer = (fn: () => void): (() => void) => {
    t.live++;
    t.most = Math.max(t.most, t.live);
    onStart();
    const fire = (): void => {
      if (!pending.delete(fire)) return;
      t.live--;
      fn();
    };
    pending.add(fire);
    if (t.auto) setImmediate(fire);
    return () => {
      if (pending.delete(fire)) {
        t.live--;
        t.cancelled++;
      }
    };
  };
  const releaseAll = (): void => {
    t.auto = true;
    [...pending].forEach((f) => f());
  };
  return { t, setTimer, releaseAll };
};

/** Writes `wire` to `socket` one byte per TCP segment (no Nagle), each handed to the kernel before the next. */
const dribble = async (socket: net.Socket, wire: Buffer): Promise<void> => {
  socket.setNoDelay(true);
  for (let i = 0; i < wire.length; i++) await new Promise<void>((resolve) => socket.write(wire.subarray(i, i + 1), () => setImmediate(resolve)));
};

describe('SecureTransferChannel: small reads on the server side (attack finding F4)', () => {
  it('a sender dribbling a byte per TCP segment is read in one read per hold, not one per byte; the stream arrives whole', async () => {
    const timers = manualTimers();
    let reads = 0;
    const plaintext = Buffer.alloc(2000, 0x61);
    let received!: Promise<{ text: string; code: string | undefined }>;
    const client = await loopback((s) => {
      s.on('data', () => reads++);
      const ch = new SecureTransferChannel(s, keys, 'server', crypto, { smallReadHold: { belowBytes: 512, ms: 10, setTimer: timers.setTimer } });
      // Its stream's end, not its close: the server's side of the channel is still open for writing.
      received = new Promise((resolve) => {
        const chunks: Buffer[] = [];
        ch.on('data', (c: Buffer) => chunks.push(c));
        ch.on('error', (e) => resolve({ text: '', code: e.message }));
        ch.on('end', () => resolve({ text: Buffer.concat(chunks).toString('utf8'), code: undefined }));
      });
    });
    const sealer = new RecordSealer(crypto, keys.clientToServer);
    const wire = Buffer.concat([...sealer.seal(plaintext), ...sealer.seal(new Uint8Array(0), true)]);
    await dribble(client, wire);
    // Every byte is with the server's kernel by now; while held, the server read none of them past its first read.
    const readsWhileHeld = reads;
    timers.releaseAll();
    const { text, code } = await received;
    expect({ length: text.length, code }).toEqual({ length: plaintext.length, code: undefined });
    // Before the hold: ~2,000 reads of one byte. Now the first small read holds; everything after it, one read.
    expect(readsWhileHeld).toBeGreaterThanOrEqual(1);
    expect(readsWhileHeld).toBeLessThanOrEqual(3);
    expect(reads).toBeLessThan(readsWhileHeld + 10);
    // One hold at a time: no timers piling up on the connection.
    expect(timers.t.most).toBe(1);
  });

  it("a hold is cleared when the channel is destroyed: no timer left behind, nothing resumed", async () => {
    const timers = manualTimers();
    let closed!: Promise<unknown>;
    let server!: SecureTransferChannel;
    const client = await loopback((s) => {
      server = new SecureTransferChannel(s, keys, 'server', crypto, { smallReadHold: { belowBytes: 512, ms: 10, setTimer: timers.setTimer } });
      server.on('error', () => undefined);
      closed = once(server, 'close');
    });
    const sealer = new RecordSealer(crypto, keys.clientToServer);
    void dribble(client, Buffer.concat(sealer.seal(Buffer.alloc(100, 1)))).catch(() => undefined);
    await timers.t.started;
    expect(timers.t.live).toBe(1);
    server.destroy();
    await closed;
    expect({ live: timers.t.live, cancelled: timers.t.cancelled }).toEqual({ live: 0, cancelled: 1 });
  });

});

