/**
 * The connections of a server share one cache of encoded thread lines (forum-protocol's EncodedLinesCache,
 * `ServerContext.linesCache`): an RDT of a full thread encoded its 4 MiB of JSON on the main thread each time
 * (11–17 ms, a stall for every client however the reads were paced), now the same thread value is encoded once
 * and copied into each reply. Driven with fake connections over a memory store; the cache's counts say what was
 * encoded, not a clock.
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
import type { RudpConnection } from 'rudpx';
import { expect, it } from 'vitest';
import { serveConnection, type ServerContext } from '../src/client-connection.js';
import { LoginRoom } from '../src/login-room.js';
import { QueueBudget } from '../src/queue-budget.js';
import { ReplyBudget } from '../src/reply-budget.js';
import { TransferActivity } from '../src/transfer-activity.js';

/** The little of a connection a session touches; each reply it is sent is decoded and handed to whoever waits. */
class FakeConnection extends EventEmitter {
  readonly remoteAddress: string;
  readonly remotePort = 40_000;
  readonly writableLength = 0;
  readonly bufferedAmount = 0;
  closed = false;
  /** Every buffer sent, as sent. */
  readonly sent: Uint8Array[] = [];
  private waiter: ((r: Reply) => void) | undefined;
  constructor(address: string) {
    super();
    this.remoteAddress = address;
  }
  send(bytes: Uint8Array): Promise<void> {
    this.sent.push(bytes);
    const m = decodeServerMessage(bytes);
    if (m._tag === 'Right' && m.right.type === 'reply') this.waiter?.(m.right);
    return Promise.resolve();
  }
  raiseReceiveWindow(): void {}
  /** Sends a request and resolves with its reply. */
  request(cmd: RequestCommand, args: readonly string[], id: string): Promise<Reply> {
    const p = new Promise<Reply>((resolve) => (this.waiter = resolve));
    this.emit('message', Buffer.from(encodeRequest({ id, username: '', cmd, args })));
    return p;
  }
}

const TEXT = 'lorem ipsum '.repeat(334).slice(0, 4000);
/** Nearly a full thread: 980 messages of 4,000 characters, 3.9 MiB of JSON. */
const big: Thread = { title: 'big', creator: 'alice', entries: Array.from({ length: 980 }, (_, i) => ({ kind: 'message', author: 'alice', text: `${TEXT}${i}` })) };

const context = (linesCache: EncodedLinesCache): ServerContext => ({
  store: createMemoryStore({ threads: [big] }),
  registry: createSessionRegistry(),
  serverId: 's',
  liveSessions: new Map(),
  accounts: accountPolicy({ rateLimit: false, accountCreationLimit: false }),
  tokens: createTransferTokens({ randomBytes: (n) => randomBytes(n) }),
  activity: new TransferActivity(),
  transferPort: 0,
  idleTimeoutMs: 60_000,
  pacer: undefined,
  queueBudget: new QueueBudget({ perHost: 1 << 20, perConnection: 1 << 20, perConnectionBeforeLogin: 1 << 20 }),
  replyBudget: new ReplyBudget(32 << 20),
  linesCache,
  loginRoom: new LoginRoom<RudpConnection>(100, 100),
  log: () => undefined,
  logFromHost: () => undefined,
});

/** A connection of `user` (a new account) at `address`, logged in. */
const loggedIn = async (ctx: ServerContext, user: string, address: string): Promise<FakeConnection> => {
  const conn = new FakeConnection(address);
  serveConnection(conn as unknown as RudpConnection, ctx);
  await conn.request('username', [user], 'u');
  expect((await conn.request('newPassword', ['pw'], 'p')).status).toBe('ok');
  return conn;
};

it("the connections of a server encode an unchanged thread's lines once between them, and a change to it is read at once", async () => {
  const cache = new EncodedLinesCache(32 * 1024 * 1024);
  const ctx = context(cache);
  const alice = await loggedIn(ctx, 'alice', '127.0.0.1');
  const bob = await loggedIn(ctx, 'bob', '127.0.0.2');
  const first = await alice.request('RDT', ['big'], 'r1');
  const second = await bob.request('RDT', ['big'], 'r2');
  expect(first.lines.length).toBe(980);
  expect(second.lines).toEqual(first.lines);
  expect({ hits: cache.hits, misses: cache.misses }).toEqual({ hits: 1, misses: 1 });
  // Each reply its own buffer, of its own size: what the reply budget charges is what the connection holds.
  const [a, b] = [alice.sent.at(-1), bob.sent.at(-1)];
  expect(a?.buffer).not.toBe(b?.buffer);
  expect(b?.buffer.byteLength).toBe(b?.length);
  expect((await alice.request('MSG', ['big', 'the newest'], 'm1')).status).toBe('ok');
  expect((await bob.request('RDT', ['big'], 'r3')).lines.at(-1)).toBe('981 alice: the newest');
  expect({ hits: cache.hits, misses: cache.misses }).toEqual({ hits: 1, misses: 2 });
});
