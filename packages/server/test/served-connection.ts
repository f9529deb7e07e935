/**
 * Test helpers: a fake rudpx connection served by the real session code (client-connection.ts's
 * `serveConnection`), over a memory store, with no socket and no clock of its own. Every connection served
 * through {@link serve} ends with its test: its session's idle timer (idleTimeoutMs) would otherwise run the
 * idle-timeout code during a later file of the worker (the shared-modules threads run many files in one).
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import {
  accountPolicy,
  createMemoryStore,
  createSessionRegistry,
  createTransferTokens,
  decodeServerMessage,
  EncodedLinesCache,
  encodeRequest,
  type Reply,
  type RequestCommand,
  type Thread,
} from 'forum-protocol';
import type { CloseReason, RudpConnection } from 'rudpx';
import { expect, onTestFinished } from 'vitest';
import { serveConnection, type ServerContext } from '../src/client-connection.js';
import { LoginRoom } from '../src/login-room.js';
import { QueueBudget } from '../src/queue-budget.js';
import { ReplyBudget } from '../src/reply-budget.js';
import { TransferActivity } from '../src/transfer-activity.js';

/** The events a session listens for, as rudpx emits them: a `'close'` always carries its reason. */
interface FakeConnectionEvents {
  message: [Buffer];
  close: [CloseReason];
}

/** A close by the peer, as rudpx reports one. */
export const PEER_CLOSED: CloseReason = { kind: 'peer', code: 0, message: 'closed by peer' };

/** The little of a connection a session touches; each reply goes to the request that waits for its id. */
export class FakeConnection extends EventEmitter<FakeConnectionEvents> {
  readonly remoteAddress: string;
  readonly remotePort = 40_000;
  readonly writableLength = 0;
  readonly bufferedAmount = 0;
  closed = false;
  /** Whether a `'close'` was emitted (by a test or by {@link FakeConnection.end}). */
  ended = false;
  /** Every buffer sent, as sent. */
  readonly sent: Uint8Array[] = [];
  private readonly waiters = new Map<string, (r: Reply) => void>();
  constructor(
    address: string,
    /** Every reply of every connection that shares it, as `address id`, in the order sent. */
    private readonly answered: string[] = [],
  ) {
    super();
    this.remoteAddress = address;
    // First of the listeners: set before the session's own handler runs.
    this.once('close', () => void (this.ended = true));
  }
  /** Closed by the peer, as rudpx reports it, unless a `'close'` came already: the session's close path clears its timers. */
  end(reason: CloseReason = PEER_CLOSED): void {
    if (this.ended) return;
    this.closed = true;
    this.emit('close', reason);
  }
  send(bytes: Uint8Array): Promise<void> {
    this.sent.push(bytes);
    const m = decodeServerMessage(bytes);
    if (m._tag === 'Right' && m.right.type === 'reply') {
      this.answered.push(`${this.remoteAddress} ${m.right.id}`);
      this.waiters.get(m.right.id)?.(m.right);
    }
    return Promise.resolve();
  }
  raiseReceiveWindow(): void {}
  /** A stand-in for the rudp session's exporter (its bytes depend on the context: the token), so a UPD or DWN is granted. */
  exportKeyingMaterial(_label: string, context: Uint8Array, length: number): Uint8Array {
    return Uint8Array.from({ length }, (_, i) => (context[i % context.length] ?? 0) ^ i);
  }
  /** Times the server closed it; the close handshake never ends here (no 'close' follows), as with a peer that does not answer it. */
  closeCalls = 0;
  close(): Promise<void> {
    this.closeCalls++;
    return Promise.resolve();
  }
  /** Sends a request; resolves with its reply. */
  request(cmd: RequestCommand, args: readonly string[], id: string): Promise<Reply> {
    const p = new Promise<Reply>((resolve) => this.waiters.set(id, resolve));
    this.emit('message', Buffer.from(encodeRequest({ id, username: '', cmd, args })));
    return p;
  }
}

const TEXT = 'lorem ipsum '.repeat(334).slice(0, 4000);
/** Nearly a full thread: 980 messages of 4,000 characters, 3.9 MiB of JSON. */
export const bigThread: Thread = { title: 'big', creator: 'alice', entries: Array.from({ length: 980 }, (_, i) => ({ kind: 'message', author: 'alice', text: `${TEXT}${i}` })) };

/** A server's whole context over a memory store of `threads`, no pacing, generous budgets; `overrides` replace any part. */
export const memoryContext = (threads: readonly Thread[], overrides: Partial<ServerContext> = {}): ServerContext => ({
  store: createMemoryStore({ threads: [...threads] }),
  registry: createSessionRegistry(),
  connectionKeyPrefix: 's',
  liveSessions: new Map(),
  accounts: accountPolicy({ rateLimit: false, accountCreationLimit: false }),
  tokens: createTransferTokens({ randomBytes: (n) => randomBytes(n) }),
  activity: new TransferActivity(),
  transferPort: 0,
  idleTimeoutMs: 60_000,
  pacer: undefined,
  queueBudget: new QueueBudget({ perHost: 1 << 20, perConnection: 1 << 20, perConnectionBeforeLogin: 1 << 20 }),
  replyBudget: new ReplyBudget(64 << 20),
  linesCache: new EncodedLinesCache(32 << 20),
  loginRoom: new LoginRoom<RudpConnection>(100, 100),
  log: () => undefined,
  logFromHost: () => undefined,
  ...overrides,
});

/**
 * Serves `conn` with `ctx` until the running test finishes, then ends it (a peer's close) and lets the session's
 * close path run: no idle timer or request of it outlives the test. Call it inside a test.
 */
export const serve = (conn: FakeConnection, ctx: ServerContext): void => {
  serveConnection(conn as unknown as RudpConnection, ctx);
  onTestFinished(async () => {
    conn.end();
    // The session's clean-up runs after its request chain settles (a microtask or two when nothing is pending).
    await new Promise((resolve) => setImmediate(resolve));
  });
};

/** A fake connection from `address` served with `ctx`, logged in as `user` (a new account); its replies are logged in `answered`. */
export const loggedIn = async (ctx: ServerContext, user: string, address: string, answered?: string[]): Promise<FakeConnection> => {
  const conn = new FakeConnection(address, answered);
  serve(conn, ctx);
  await conn.request('username', [user], 'u');
  expect((await conn.request('newPassword', ['pw'], 'p')).status).toBe('ok');
  return conn;
};
