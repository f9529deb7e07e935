/**
 * An upload whose sender stops mid-body, or leaves while the store's write is pending: what the server
 * lets go of, and when. Real loopback sockets, the stall limit scaled down from 30 s to 1 s, a store
 * whose writes complete when the test says (a disk that is slow to take them).
 */
import net from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { deriveTransferKeys, SecureTransferChannel, uploadSlotsOf, type ForumStore, type TransferGrant, type TransferTokens, type UploadWriter } from 'forum-protocol';
import { DiskQuota } from '../src/disk-quota.js';
import { TransferActivity } from '../src/transfer-activity.js';
import { startTransferServer, type TransferServer } from '../src/transfer-server.js';
import { cleanup, tempDir } from './forum-processes.js';
import { until } from './until.js';

const STALL_MS = 1000;
const TOKEN = 'cd'.repeat(32);
const keys = deriveTransferKeys({ exportKeyingMaterial: (_label, _context, length) => new Uint8Array(length) }, TOKEN);

const uploadTokens: TransferTokens = {
  issue: () => async () => ({ _tag: 'Left', left: { kind: 'io', message: 'not in this test' } }),
  redeem: () => async () => {
    const grant: TransferGrant = { direction: 'upload', thread: 't', incarnation: '1', filename: 'f', username: 'u', expiresAt: Date.now() + 60_000, keys };
    return { _tag: 'Right', right: { _tag: 'Some', value: grant } };
  },
  revokeUser: () => async () => undefined,
};

/** A store whose upload writes complete at once, or, once `hold()` is called, only when `release()` is. */
const slowStore = () => {
  let held: (() => void) | undefined;
  let holding = false;
  let written = 0;
  let aborted = false;
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      written += chunk.length;
      if (!holding) return callback();
      held = callback;
    },
  });
  const writer: UploadWriter = {
    stream,
    commit: async () => ({ _tag: 'Right', right: undefined }),
    abort: async () => {
      aborted = true;
      stream.destroy();
    },
    stopped: new Promise(() => undefined),
  };
  const store = { beginUpload: () => async () => ({ _tag: 'Right', right: writer }) } as unknown as ForumStore;
  return {
    store,
    hold: () => void (holding = true),
    /** The pending write completes (and any later one at once). */
    release: () => {
      holding = false;
      const h = held;
      held = undefined;
      h?.();
    },
    pending: () => held !== undefined,
    written: () => written,
    aborted: () => aborted,
  };
};

describe('transfer server: an upload whose sender stops or leaves', () => {
  const dirs: string[] = [];
  const sockets: net.Socket[] = [];
  let server: TransferServer | undefined;

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await server?.close();
    server = undefined;
    await cleanup(...dirs.splice(0));
  });

  /** The server over `store`; its upload slots (1 per user) and activity, to see what is held. */
  const start = async (store: ForumStore, closeSettleMs?: number) => {
    const dir = await tempDir('upload-stall');
    dirs.push(dir);
    const activity = new TransferActivity();
    let running = 0;
    const uploadSlots = uploadSlotsOf(1, () => {
      running++;
      return () => void running--;
    });
    const deps = { store, tokens: uploadTokens, activity, log: () => undefined, maxUploadBytes: 1 << 30, quota: new DiskQuota(dir, undefined), overloaded: () => undefined, uploadSlots };
    server = await startTransferServer(deps, 0, '127.0.0.1', { stallTimeoutMs: STALL_MS, ...(closeSettleMs === undefined ? {} : { closeSettleMs }) });
    return { port: server.port, activity, running: () => running };
  };

  /** A sender that has sent its size line (`size`) and `bytes` of the body. */
  const send = (port: number, size: number, bytes: number): { readonly socket: net.Socket; readonly channel: SecureTransferChannel } => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.on('error', () => undefined);
    socket.write(`${TOKEN}\n`);
    sockets.push(socket);
    const channel = new SecureTransferChannel(socket, keys, 'client');
    channel.on('error', () => undefined);
    channel.write(`${size}\n`);
    if (bytes > 0) channel.write(Buffer.alloc(bytes, 1));
    return { socket, channel };
  };

  it('a sender silent mid-body is cut at the stall limit: its upload aborted, its slot and activity given back', async () => {
    const s = slowStore();
    const { port, activity, running } = await start(s.store);
    const { socket } = send(port, 1 << 20, 100_000);
    expect(await until(() => s.written() === 100_000, 5_000)).toBe(true);
    const stalled = Date.now();
    expect(await until(() => socket.closed, 4 * STALL_MS)).toBe(true);
    expect(Date.now() - stalled).toBeGreaterThanOrEqual(STALL_MS - 100);
    expect(await until(() => s.aborted() && running() === 0 && !activity.busy('u'), 2_000)).toBe(true);
  });

  it('a sender gone while a store write is pending: everything is held until the write completes, and let go then', async () => {
    const s = slowStore();
    const { port, activity, running } = await start(s.store);
    s.hold();
    const { socket } = send(port, 1 << 20, 256 * 1024);
    expect(await until(() => s.pending(), 5_000)).toBe(true);
    socket.destroy();
    // The server's loop waits for the store, not the socket: a disk's write completes in its own time.
    await new Promise((resolve) => setTimeout(resolve, 3 * STALL_MS));
    expect(running()).toBe(1);
    expect(s.aborted()).toBe(false);
    s.release();
    expect(await until(() => s.aborted() && running() === 0 && !activity.busy('u'), 2_000)).toBe(true);
  });

  it("close() is not held beyond its settle limit by an upload whose store write never completes, and the upload lets go when it does", async () => {
    const s = slowStore();
    const { port, activity, running } = await start(s.store, 500);
    s.hold();
    send(port, 1 << 20, 256 * 1024);
    expect(await until(() => s.pending(), 5_000)).toBe(true);
    const closing = Date.now();
    await server?.close();
    server = undefined;
    const took = Date.now() - closing;
    expect(took).toBeGreaterThanOrEqual(450);
    expect(took).toBeLessThan(1500);
    expect(running()).toBe(1);
    s.release();
    expect(await until(() => s.aborted() && running() === 0 && !activity.busy('u'), 2_000)).toBe(true);
  });
});
