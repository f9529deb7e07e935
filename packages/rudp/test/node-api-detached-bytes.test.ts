/**
 * Bytes the application takes back: `send`/`write` do not copy, so a buffer transferred (detached) while its
 * message is still queued leaves the connection nothing to send. That must end the one connection (its
 * pending sends rejected, the peer told), not throw out of every flush as an uncaught `TypeError` (attack
 * round 31: a process without an `uncaughtException` handler died; with one, it threw at every poll). A view
 * already detached when given is refused at the call. Runs twice, as every node-api test file (vitest.config.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { closeOpened, pair, rejection, take, until } from './helpers/node-loopback.js';
import type { CloseReason } from '../src/index.js';

afterEach(closeOpened);

/** Detaches `buffer` as a transfer to a worker does. */
const transfer = (buffer: ArrayBuffer): void => void structuredClone(buffer, { transfer: [buffer] });

/** A resizable `ArrayBuffer` (ES2024: the TypeScript lib here predates it). */
type Resizable = ArrayBuffer & { resize(byteLength: number): void };
const resizable = (length: number, maxByteLength: number): Resizable =>
  new (ArrayBuffer as unknown as new (length: number, options: { maxByteLength: number }) => Resizable)(length, { maxByteLength });

/** Collects what escapes to the process while `run` and its aftermath (50 ms of flushes and timers) go. */
async function escaping(run: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const onError = (e: unknown): void => void seen.push(e);
  process.on('uncaughtException', onError);
  try {
    await run();
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    process.off('uncaughtException', onError);
  }
  return seen;
}

describe('a message whose buffer is transferred before it is sent', () => {
  it('ends its connection (sends rejected, the peer told), nothing escapes', async () => {
    const { server, client } = await pair((c) => c.on('message', () => undefined));
    const serverSide = await until(() => server.connections.size === 1).then(() => [...server.connections][0]);
    const peerClosed = new Promise<CloseReason>((r) => serverSide?.once('close', r));
    const closed = new Promise<CloseReason>((r) => client.once('close', r));
    const big = new ArrayBuffer(200_000);
    const small = new ArrayBuffer(100);
    let pending: Promise<unknown> = Promise.resolve();
    const escaped = await escaping(async () => {
      // Queued in this tick, sent at its end: the transfer comes first.
      expect(client.write(new Uint8Array(small))).toBe(true);
      pending = rejection(client.send(new Uint8Array(big)));
      transfer(small);
      transfer(big);
      await closed;
    });
    expect(escaped).toEqual([]);
    const reason = await closed;
    expect(reason).toMatchObject({ kind: 'local', code: 1 });
    expect(reason.message).toMatch(/detached/);
    expect(await pending).toMatchObject({ code: 'ERR_RUDP_CLOSED', sent: false });
    expect(await peerClosed).toMatchObject({ kind: 'peer', code: 1 });
    expect(client.closed).toBe(true);
  });

  it("a message written into the packet the detached one's bytes were to join never left either: its send says sent: false", async () => {
    const got: number[] = [];
    const { client } = await pair((c) => c.on('message', (m: Buffer) => void got.push(m.length)));
    const closed = new Promise<CloseReason>((r) => client.once('close', r));
    const big = new ArrayBuffer(200_000);
    let before: Promise<unknown> = Promise.resolve();
    let detached: Promise<unknown> = Promise.resolve();
    const escaped = await escaping(async () => {
      // Both queued in this tick: the intact one is written first, into the packet the detached one then breaks.
      before = rejection(client.send(new Uint8Array(100)));
      detached = rejection(client.send(new Uint8Array(big)));
      transfer(big);
      await closed;
    });
    expect(escaped).toEqual([]);
    expect((await closed).message).toMatch(/detached/);
    expect(await before).toMatchObject({ code: 'ERR_RUDP_CLOSED', sent: false });
    expect(await detached).toMatchObject({ code: 'ERR_RUDP_CLOSED', sent: false });
    expect(got).toEqual([]);
  });

  it('an unreliable message too', async () => {
    const { client } = await pair((c) => c.on('message', () => undefined));
    const closed = new Promise<CloseReason>((r) => client.once('close', r));
    const bytes = new ArrayBuffer(64);
    const escaped = await escaping(async () => {
      client.write(new Uint8Array(bytes), { reliable: false });
      transfer(bytes);
      await closed;
    });
    expect(escaped).toEqual([]);
    expect((await closed).message).toMatch(/detached/);
  });

  it('a view a resizable ArrayBuffer shrank out of bounds (resize()) ends it too: it reads as empty and throws at every use, as a detached one', async () => {
    const { client } = await pair((c) => c.on('message', () => undefined));
    const closed = new Promise<CloseReason>((r) => client.once('close', r));
    const rab = resizable(100_000, 200_000);
    let pending: Promise<unknown> = Promise.resolve();
    const escaped = await escaping(async () => {
      pending = rejection(client.send(new Uint8Array(rab, 0, 100_000)));
      rab.resize(10);
      await closed;
    });
    expect(escaped).toEqual([]);
    expect((await closed).message).toMatch(/detached/);
    expect(await pending).toMatchObject({ code: 'ERR_RUDP_CLOSED', sent: false });
    // Already out of bounds: refused at the call.
    const { client: other } = await pair((c) => c.on('message', () => undefined));
    const small = resizable(8, 16);
    const view = new Uint8Array(small, 0, 8);
    small.resize(4);
    expect(() => other.write(view)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });

  it('a length-tracking view (new Uint8Array(resizable)) resized after its message began to leave ends the connection, shrunk or grown: never sent at another length', async () => {
    for (const to of [500_000, 1_500_000]) {
      const got: number[] = [];
      const { client } = await pair((c) => c.on('message', (m: Buffer) => void got.push(m.length)));
      const closed = new Promise<CloseReason>((r) => client.once('close', r));
      const rab = resizable(1_000_000, 2_000_000);
      const view = new Uint8Array(rab);
      let pending: Promise<unknown> = Promise.resolve();
      const escaped = await escaping(async () => {
        pending = rejection(client.send(view));
        // Its first packets leave at the end of this tick; a million bytes take more than the first window.
        await new Promise((r) => setTimeout(r, 5));
        expect(client.bufferedAmount).toBe(1_000_000);
        rab.resize(to);
        expect(view.length).toBe(to);
        await closed;
      });
      expect(escaped).toEqual([]);
      expect((await closed).message).toMatch(/detached/);
      expect(await pending).toMatchObject({ code: 'ERR_RUDP_CLOSED' });
      expect(got).toEqual([]);
    }
  });

  it("a length-tracking view grown before it left past what the peer's window takes ends the connection: it could never leave, and held up every message after it for good", async () => {
    const got: number[] = [];
    const { client } = await pair((c) => c.on('message', (m: Buffer) => void got.push(m.length)), { receiveWindow: 1_048_576 });
    const max = client.maxMessageSize();
    const closed = new Promise<CloseReason>((r) => client.once('close', r));
    const rab = resizable(1000, 2 * max);
    const view = new Uint8Array(rab);
    let pending: Promise<unknown> = Promise.resolve();
    let after: Promise<unknown> = Promise.resolve();
    const escaped = await escaping(async () => {
      pending = rejection(client.send(view));
      after = rejection(client.send('after it'));
      // In the same tick, before anything left: send() checked 1000 bytes.
      rab.resize(max + 1);
      const late = new Promise<'late'>((r) => setTimeout(() => r('late'), 2000).unref());
      expect(await Promise.race([closed, late])).toMatchObject({ kind: 'local', message: expect.stringMatching(/detached|resized/) });
    });
    expect(escaped).toEqual([]);
    expect(await pending).toMatchObject({ code: 'ERR_RUDP_CLOSED' });
    expect(await after).toMatchObject({ code: 'ERR_RUDP_CLOSED' });
    expect(got).toEqual([]);
  });

  it('a length-tracking view resized in the tick of its send, before its first bytes left, leaves at its new length (README: Sending)', async () => {
    for (const to of [40, 200]) {
      const { client } = await pair((c) => c.on('message', (m) => c.write(m)));
      const rab = resizable(100, 400);
      const view = new Uint8Array(rab);
      const echoed = take(client, 1);
      const sent = client.send(view);
      // Counted at the call's length until acknowledged.
      expect(client.bufferedAmount).toBe(100);
      rab.resize(to);
      view.fill(9);
      await sent;
      expect((await echoed)[0]).toEqual(Buffer.alloc(to, 9));
      expect(client.bufferedAmount).toBe(0);
    }
  });

  it('an unreliable message of a length-tracking view is taken at its length at the call: resized before it left, it ends the connection', async () => {
    const got: number[] = [];
    const { client } = await pair((c) => c.on('message', (m: Buffer) => void got.push(m.length)));
    const closed = new Promise<CloseReason>((r) => client.once('close', r));
    const rab = resizable(100, 400);
    const escaped = await escaping(async () => {
      client.write(new Uint8Array(rab), { reliable: false });
      rab.resize(200);
      await closed;
    });
    expect(escaped).toEqual([]);
    expect((await closed).message).toMatch(/detached|resized/);
    expect(got).toEqual([]);
  });

  it('a resizable ArrayBuffer given whole is sent at its length at the call, even grown before it left', async () => {
    const { client } = await pair((c) => c.on('message', (m) => c.write(m)));
    const rab = resizable(64, 128);
    new Uint8Array(rab).fill(7);
    const echoed = take(client, 1);
    const sent = client.send(rab);
    // In the same tick: nothing has left yet.
    rab.resize(128);
    await sent;
    expect((await echoed)[0]).toEqual(Buffer.alloc(64, 7));
  });

  it('a view already detached is refused at the call (TypeError ERR_INVALID_ARG_TYPE); the connection carries on', async () => {
    const { client } = await pair((c) => c.on('message', (m) => c.write(m)));
    const gone = new ArrayBuffer(16);
    const view = new Uint16Array(gone);
    const bytes = new Uint8Array(gone);
    transfer(gone);
    for (const data of [gone, view, bytes]) {
      expect(() => client.write(data)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
      expect(await client.send(data).then(() => 'resolved', (e: unknown) => e)).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    }
    // A live empty message is still a message.
    const echoed = take(client, 2);
    client.write(new Uint8Array(0));
    client.write('after');
    expect((await echoed).map((m) => m.toString())).toEqual(['', 'after']);
  });
});
