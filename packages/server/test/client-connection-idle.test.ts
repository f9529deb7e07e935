/**
 * A session's idle timeout is a duration: timed by the monotonic clock, so a wall clock stepped by NTP
 * neither ends it early (ahead) nor keeps it long (back). Before, `lastActive` and the last transfer's end
 * were wall times. Driven with a fake connection, fake timers and `performance.now`, and `Date.now` stepped.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { accountPolicy, createMemoryStore, createSessionRegistry, createTransferTokens, decodeServerMessage, EncodedLinesCache, encodeRequest, type Request } from 'forum-protocol';
import type { RudpConnection } from 'rudpx';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { serveConnection, type ServerContext } from '../src/client-connection.js';
import { LoginRoom } from '../src/login-room.js';
import { QueueBudget } from '../src/queue-budget.js';
import { ReplyBudget } from '../src/reply-budget.js';
import { TransferActivity } from '../src/transfer-activity.js';

/** The little of a connection a session touches; what it is sent is kept, decoded. */
class FakeConnection extends EventEmitter {
  readonly remoteAddress = '127.0.0.1';
  readonly remotePort = 40_000;
  readonly writableLength = 0;
  readonly bufferedAmount = 0;
  closed = false;
  readonly sent: unknown[] = [];
  send(bytes: Uint8Array): Promise<void> {
    const m = decodeServerMessage(bytes);
    this.sent.push(m._tag === 'Right' ? m.right : m.left);
    return Promise.resolve();
  }
  raiseReceiveWindow(): void {}
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('close', { kind: 'local' });
  }
  close(): Promise<void> {
    this.destroy();
    return Promise.resolve();
  }
}

const IDLE_MS = 60_000;

beforeEach(() => {
  // Timers and the monotonic clock are the test's; the wall clock is real until a test steps it.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** A session on a fresh memory store; `request` sends one and lets it run. */
const session = (): { conn: FakeConnection; activity: TransferActivity; log: string[]; request(r: Omit<Request, 'id' | 'username'> & { username?: string }): Promise<void> } => {
  const log: string[] = [];
  const activity = new TransferActivity();
  const ctx: ServerContext = {
    store: createMemoryStore(),
    registry: createSessionRegistry(),
    connectionKeyPrefix: 's',
    liveSessions: new Map(),
    accounts: accountPolicy({ rateLimit: false, accountCreationLimit: false }),
    tokens: createTransferTokens({ randomBytes: (n) => randomBytes(n) }),
    activity,
    transferPort: 0,
    idleTimeoutMs: IDLE_MS,
    pacer: undefined,
    queueBudget: new QueueBudget({ perHost: 1 << 20, perConnection: 1 << 20, perConnectionBeforeLogin: 1 << 20 }),
    replyBudget: new ReplyBudget(32 << 20),
    linesCache: new EncodedLinesCache(0),
    loginRoom: new LoginRoom<RudpConnection>(100, 100),
    log: (line) => log.push(line),
    logFromHost: (_address, _kind, line) => log.push(line),
  };
  const conn = new FakeConnection();
  serveConnection(conn as unknown as RudpConnection, ctx);
  let id = 0;
  return {
    conn,
    activity,
    log,
    request: async (r) => {
      conn.emit('message', Buffer.from(encodeRequest({ id: String(++id), username: r.username ?? '', cmd: r.cmd, args: r.args })));
      await vi.advanceTimersByTimeAsync(0);
    },
  };
};

/** Logs in as `alice` (a new account). */
const login = async (s: ReturnType<typeof session>): Promise<void> => {
  await s.request({ cmd: 'username', args: ['alice'] });
  await s.request({ cmd: 'newPassword', args: ['pw'] });
  expect(s.log).toContain('alice successfully logged in');
};

it('a request 10 s before the timeout, then the wall clock stepped an hour ahead: the session lasts its full idle time from that request', async () => {
  const s = session();
  await vi.advanceTimersByTimeAsync(50_000);
  await login(s);
  vi.spyOn(Date, 'now').mockReturnValue(Date.now() + 3_600_000);
  await vi.advanceTimersByTimeAsync(10_000);
  // Before: the request's wall time read as an hour old, and the session timed out here, 10 s after it.
  expect(s.conn.closed).toBe(false);
  await vi.advanceTimersByTimeAsync(IDLE_MS - 10_000 - 100);
  expect(s.conn.closed).toBe(false);
  await vi.advanceTimersByTimeAsync(200);
  expect(s.conn.closed).toBe(true);
  expect(s.log).toContain('alice timed out');
  expect(s.conn.sent.at(-1)).toMatchObject({ type: 'notice', kind: 'idleTimeout' });
});

it('the wall clock stepped an hour back: the session still ends after its idle time', async () => {
  const s = session();
  await login(s);
  vi.spyOn(Date, 'now').mockReturnValue(Date.now() - 3_600_000);
  await vi.advanceTimersByTimeAsync(IDLE_MS - 100);
  expect(s.conn.closed).toBe(false);
  // Before: the request's wall time read as an hour ahead, and the session stayed an hour more.
  await vi.advanceTimersByTimeAsync(200);
  expect(s.conn.closed).toBe(true);
  expect(s.log).toContain('alice timed out');
});

it("a transfer's end counts as activity by the same clock: the wall clock stepped ahead after it does not end the session", async () => {
  const s = session();
  await login(s);
  s.activity.start('alice');
  await vi.advanceTimersByTimeAsync(IDLE_MS + 10_000);
  // Busy: a long transfer keeps the session.
  expect(s.conn.closed).toBe(false);
  s.activity.finish('alice');
  vi.spyOn(Date, 'now').mockReturnValue(Date.now() + 3_600_000);
  await vi.advanceTimersByTimeAsync(IDLE_MS - 100);
  // Before: the transfer's end was a wall time (transfer-server.ts), compared with the stepped clock: timed out at once.
  expect(s.conn.closed).toBe(false);
  await vi.advanceTimersByTimeAsync(IDLE_MS);
  expect(s.conn.closed).toBe(true);
});
