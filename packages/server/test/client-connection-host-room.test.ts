/**
 * A request waiting for its host's reply budget (held-replies.ts, `hostRoom`) wakes at every release of
 * its host's bytes and waits again. Each wait raced the connection's close, a promise settled only when the
 * connection ends: every wait left a reaction on it (some 300 bytes) for the connection's life, so a host kept
 * near its budget grew a long-lived connection's memory by every release it saw. Its grace, and that of a request
 * waiting for its own connection's backlog, were timed by the wall clock, which NTP may step. Driven with a fake
 * connection: the requests either never run (they wait) or are malformed, so no store is needed.
 */
import { EventEmitter } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { decodeServerMessage, EncodedLinesCache, encodeRequest, hostLevelsOf, type ServerMessage } from 'forum-protocol';
import type { RudpConnection } from 'rudpx';
import { afterEach, expect, it, vi } from 'vitest';
import { serveConnection, type ServerContext } from '../src/client-connection.js';
import { EVICTED_REASON, ReplyBudget, STALE_AFTER_MS } from '../src/reply-budget.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapAfterGc = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The little of a connection a request that waits for room touches. */
class FakeConnection extends EventEmitter {
  constructor(
    readonly remoteAddress = '127.0.0.1',
    readonly remotePort = 40_000,
  ) {
    super();
  }
  /** Bytes the transport holds unacknowledged, as the test sets them. */
  writableLength = 0;
  readonly bufferedAmount = 0;
  closed = false;
  /** Acknowledges the oldest send still held, when {@link holdSends} is on. */
  readonly acks: (() => void)[] = [];
  holdSends = false;
  /** What the server sent, decoded. */
  readonly sent: ServerMessage[] = [];
  send(bytes: Uint8Array): Promise<void> {
    const m = decodeServerMessage(bytes);
    if (m._tag === 'Right') this.sent.push(m.right);
    if (!this.holdSends) return Promise.resolve();
    return new Promise((resolve) => this.acks.push(resolve));
  }
  /** Why it was destroyed. */
  reason: string | undefined;
  destroy(reason?: string): void {
    if (this.closed) return;
    this.closed = true;
    this.reason = reason;
    this.emit('close', { kind: 'local' });
  }
  close(): Promise<void> {
    this.destroy();
    return Promise.resolve();
  }
}

afterEach(() => vi.restoreAllMocks());

const MIB = 1024 * 1024;
const LEVELS = hostLevelsOf('127.0.0.1:40000');

/** Only what a connection whose request waits (for its host's room or its own backlog) reaches; the rest is never called. Lines logged go to `log`. */
const contextOf = (budget: ReplyBudget, log: string[]): ServerContext => {
  const ignore = (): void => undefined;
  return {
    connectionKeyPrefix: 's',
    liveSessions: new Map(),
    activity: { busy: () => false, lastFinished: () => undefined, forget: ignore },
    idleTimeoutMs: 600_000,
    pacer: undefined,
    queueBudget: { charge: () => 'charged', release: ignore, forget: ignore, bytesOf: () => 0 },
    replyBudget: budget,
    linesCache: new EncodedLinesCache(0),
    loginRoom: { touch: ignore, leave: ignore, refundTouches: ignore },
    log: (line: string) => log.push(line),
    logFromHost: (_address: string, _kind: string, line: string) => log.push(line),
  } as unknown as ServerContext;
};

/** A connection of 127.0.0.1 served with a budget of 1 MiB that another connection of the host fills: its request waits. */
const waitingConnection = async (): Promise<{ readonly budget: ReplyBudget; readonly full: { release(): void }; readonly conn: FakeConnection; readonly log: string[] }> => {
  const budget = new ReplyBudget(MIB);
  const full = budget.charge(LEVELS, MIB);
  const log: string[] = [];
  const ctx = contextOf(budget, log);
  const conn = new FakeConnection();
  serveConnection(conn as unknown as RudpConnection, ctx);
  conn.emit('message', Buffer.from(encodeRequest({ id: '1', username: '', cmd: 'username', args: ['alice'] })));
  await turn();
  expect(log.filter((l) => l.includes('is over its reply budget'))).toHaveLength(1);
  return { budget, full, conn, log };
};

it('a request waiting for its host\'s room keeps no memory per wake-up', async () => {
  const { budget, full, conn, log } = await waitingConnection();
  // Others of the host get and release a byte, again and again: each release wakes the waiter, which waits again.
  const wakes = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      budget.charge(LEVELS, 1).release();
      await turn();
    }
  };
  await wakes(1_000);
  const before = heapAfterGc();
  await wakes(20_000);
  const grown = heapAfterGc() - before;
  // Before: 20,000 reactions on the close promise, about 6 MB.
  expect(grown).toBeLessThan(1.5 * MIB);
  // Still waiting (it never fitted), and it stops when its connection goes; nothing stays charged.
  expect(budget.bytesOf('127.0.0.1')).toBe(MIB);
  conn.destroy();
  await turn();
  full.release();
  expect(budget.size).toBe(0);
  expect(log.filter((l) => l.startsWith('Internal error'))).toEqual([]);
}, 20_000);

it('the wall clock stepped forward does not end a wait early', async () => {
  const { budget, full, conn } = await waitingConnection();
  // NTP steps the wall clock an hour ahead while the request waits; then a release wakes it and it checks its grace.
  const stepped = Date.now() + 3_600_000;
  vi.spyOn(Date, 'now').mockReturnValue(stepped);
  budget.charge(LEVELS, 1).release();
  await turn();
  // Before: its grace (30 s and 16 s for the MiB held) read as long past, and the connection was destroyed.
  expect(conn.closed).toBe(false);
  conn.destroy();
  await turn();
  full.release();
  expect(budget.size).toBe(0);
});

it("the wall clock stepped forward does not end a wait for the connection's own backlog early", async () => {
  const budget = new ReplyBudget(32 * MIB);
  const log: string[] = [];
  const ctx = contextOf(budget, log);
  const conn = new FakeConnection();
  conn.holdSends = true;
  serveConnection(conn as unknown as RudpConnection, ctx);
  // Two malformed requests are answered (no store needed): two replies unacknowledged.
  conn.emit('message', Buffer.from('not a request'));
  conn.emit('message', Buffer.from('not a request either'));
  await turn();
  expect(conn.acks).toHaveLength(2);
  // The transport holds over the connection's backlog: the third request waits for acknowledgements.
  conn.writableLength = 2 * MIB;
  conn.emit('message', Buffer.from('a third'));
  await turn();
  expect(conn.acks).toHaveLength(2);
  // NTP steps the wall clock an hour ahead; then the first reply is acknowledged and the wait checks its grace.
  vi.spyOn(Date, 'now').mockReturnValue(Date.now() + 3_600_000);
  conn.acks[0]?.();
  await turn();
  // Before: its grace (30 s and 32 s for the 2 MiB held) read as long past, and the connection was destroyed.
  expect(conn.closed).toBe(false);
  // Drained: it runs.
  conn.writableLength = 0;
  conn.acks[1]?.();
  await turn();
  expect(conn.acks).toHaveLength(3);
  conn.destroy();
  await turn();
  expect(budget.size).toBe(0);
});

/** Lines of the replies `conn` was sent. */
const linesSent = (conn: FakeConnection): string[] => conn.sent.flatMap((m) => (m.type === 'reply' ? m.lines : []));

it('a request whose grace runs out while it holds nothing stale is answered "Server busy", its connection kept', async () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'performance'] });
  try {
    const budget = new ReplyBudget(MIB);
    // Filled by a charge that is no connection's reply: nobody to close for the waiter.
    const full = budget.charge(LEVELS, MIB);
    const log: string[] = [];
    const conn = new FakeConnection();
    serveConnection(conn as unknown as RudpConnection, contextOf(budget, log));
    conn.emit('message', Buffer.from(encodeRequest({ id: '7', username: '', cmd: 'username', args: ['alice'] })));
    // Its grace: 30 s and 1 s per 64 KB held (16 s for the MiB).
    await vi.advanceTimersByTimeAsync(47_000);
    // Before: destroyed ('host reply budget not acknowledged') with the holder's bytes still held.
    expect(conn.closed).toBe(false);
    expect(conn.sent).toMatchObject([{ type: 'reply', id: '7', status: 'error' }]);
    expect(linesSent(conn)).toEqual(['Server busy: too many replies waiting to be acknowledged, try again later']);
    // The next request runs once there is room.
    full.release();
    conn.emit('message', Buffer.from('not a request'));
    await vi.advanceTimersByTimeAsync(10);
    expect(linesSent(conn)).toHaveLength(2);
    conn.destroy();
  } finally {
    vi.useRealTimers();
  }
});

it('XIT waits for no room: with its host budget full it is answered at once, not held until "Server busy"', async () => {
  const budget = new ReplyBudget(MIB);
  const full = budget.charge(LEVELS, MIB);
  const log: string[] = [];
  const conn = new FakeConnection();
  serveConnection(conn as unknown as RudpConnection, contextOf(budget, log));
  conn.emit('message', Buffer.from(encodeRequest({ id: '9', username: '', cmd: 'XIT', args: [] })));
  await turn();
  // Before: it waited for room like any request (and 47 s later was refused, the user still logged in).
  expect(log.filter((l) => l.includes('reply budget'))).toEqual([]);
  expect(conn.sent).toMatchObject([{ type: 'reply', id: '9' }]);
  full.release();
  conn.destroy();
});

it('a request waiting for room closes the connection of its host whose reply went unacknowledged past the bound, not itself', async () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'performance'] });
  try {
    const budget = new ReplyBudget(MIB);
    const log: string[] = [];
    const ctx = contextOf(budget, log);
    // A connection of the host that never acknowledges: its malformed request's reply stays held.
    const silent = new FakeConnection('127.0.0.1', 40_001);
    silent.holdSends = true;
    serveConnection(silent as unknown as RudpConnection, ctx);
    silent.emit('message', Buffer.from('not a request'));
    await vi.advanceTimersByTimeAsync(1);
    expect(silent.acks).toHaveLength(1);
    // The rest of the host's budget is taken (by a charge no connection holds).
    const rest = budget.charge(LEVELS, MIB - budget.bytesOf('127.0.0.1'));
    const neighbour = new FakeConnection('127.0.0.1', 40_002);
    serveConnection(neighbour as unknown as RudpConnection, ctx);
    neighbour.emit('message', Buffer.from(encodeRequest({ id: '1', username: '', cmd: 'username', args: ['alice'] })));
    await vi.advanceTimersByTimeAsync(1);
    expect(log.filter((l) => l.includes('is over its reply budget'))).toHaveLength(1);
    // Within the bound (5 s and 1 ms per KiB of the reply) the holder stays.
    await vi.advanceTimersByTimeAsync(STALE_AFTER_MS - 100);
    expect(silent.closed).toBe(false);
    // Past it, the waiter's next check closes the holder, not itself (before: nobody, until the waiter's grace
    // ran out and the waiter was closed).
    await vi.advanceTimersByTimeAsync(1_200);
    expect(silent.closed).toBe(true);
    expect(silent.reason).toBe(EVICTED_REASON);
    expect(neighbour.closed).toBe(false);
    expect(log.some((l) => l.startsWith('Client is not acknowledging replies while others wait'))).toBe(true);
    // The holder's bytes went with it; the waiter still waits for the rest, which is released now.
    rest.release();
    await vi.advanceTimersByTimeAsync(1);
    expect(neighbour.sent).toHaveLength(1);
    expect(neighbour.closed).toBe(false);
    neighbour.destroy();
    await vi.advanceTimersByTimeAsync(1);
    expect(budget.size).toBe(0);
  } finally {
    vi.useRealTimers();
  }
});

it('the room a waiter makes by closing stale holders is its own at once, not at its next check', async () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'performance'] });
  try {
    const budget = new ReplyBudget(MIB);
    const log: string[] = [];
    // A connection of the host whose reply of the whole budget goes unacknowledged: stale after 5 s and 1,024 ms.
    const evicted: string[] = [];
    budget.charge(LEVELS, MIB, { holder: { levels: LEVELS, evict: (reason) => evicted.push(reason) }, at: performance.now() });
    const neighbour = new FakeConnection('127.0.0.1', 40_002);
    serveConnection(neighbour as unknown as RudpConnection, contextOf(budget, log));
    neighbour.emit('message', Buffer.from('not a request'));
    // The waiter checks every second: at 7 s the holder is stale, closed, and the waiter's request runs then.
    await vi.advanceTimersByTimeAsync(6_900);
    expect(evicted).toEqual([]);
    expect(neighbour.sent).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(200);
    expect(evicted).toEqual([EVICTED_REASON]);
    // Before (no check again after closing): the room went unused until its next check, a second later.
    expect(linesSent(neighbour)).toEqual(['Malformed request']);
    expect(budget.size).toBe(0);
    neighbour.destroy();
  } finally {
    vi.useRealTimers();
  }
});
