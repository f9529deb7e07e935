/**
 * `for await (const message of conn)`: messages in order, with the transport
 * held back while the loop body is slower than the peer. Messages read ahead
 * of a loop that is left (`break`) are not lost: they go, first and in order,
 * to whatever consumes the connection next (another loop, a `'message'`
 * listener, `stream()`).
 */
import type { CloseReason } from '../core/events.js';
import { keepError, type ListenerErrors, rethrowErrors } from './listener-errors.js';
import type { RudpError } from './rudp-error.js';
import type { RudpConnection } from './rudp-connection.js';

/** Messages queued ahead of the loop before the transport is held (the rest wait in the receive window). */
const MAX_QUEUED_MESSAGES = 64;
const MAX_QUEUED_BYTES = 1024 * 1024;

/** Messages a left loop had read ahead, waiting for the connection's next consumer. */
interface Leftovers {
  readonly messages: readonly Buffer[];
  readonly channels: readonly number[];
  /** Keeps newer messages in the transport until these are handed over. */
  readonly hold: symbol;
  /** Hands them to a `'message'` listener being added (a `'newListener'` listener). */
  readonly onNewListener: (event: string | symbol) => void;
}

const leftoversOf = new WeakMap<RudpConnection, Leftovers>();

/** Takes what a left loop read ahead on `conn`, if anything: the caller now delivers it and must release `hold`. */
function takeLeftovers(conn: RudpConnection): Leftovers | undefined {
  const left = leftoversOf.get(conn);
  if (left === undefined) return undefined;
  leftoversOf.delete(conn);
  conn.off('newListener', left.onNewListener);
  return left;
}

/**
 * Keeps `messages` (read ahead of a loop that was left) for the next consumer
 * of `conn`, with the transport held meanwhile so none overtakes them. A new
 * loop takes them at once; a `'message'` listener (or `stream()`) gets them
 * emitted on the microtask after it is added, before anything newer.
 */
function keepLeftovers(conn: RudpConnection, messages: Buffer[], channels: number[]): void {
  // Two loops left with messages of their own (they ran at once): one list, the older first, and one hold.
  const earlier = takeLeftovers(conn);
  if (earlier !== undefined) {
    messages.unshift(...earlier.messages);
    channels.unshift(...earlier.channels);
  }
  const hold = Symbol('left by a loop');
  const onNewListener = (event: string | symbol): void => {
    // After the listener is added (this runs before): handed over first, before anything newer. A close
    // reported before this microtask hands them over itself (`handOverLeftovers`), before its own messages.
    if (event === 'message') queueMicrotask(() => handOverLeftovers(conn));
  };
  leftoversOf.set(conn, { messages, channels, hold, onNewListener });
  conn.setHold(hold, true);
  if (earlier !== undefined) conn.setHold(earlier.hold, false);
  conn.on('newListener', onNewListener);
}

/**
 * Emits what a left loop read ahead on `conn` to its `'message'` listeners,
 * in order, and lets newer messages come; kept for later if no listener is
 * there (one added and removed again at once). A listener that throws gets
 * the rest all the same, and the hold goes: what it threw is rethrown after
 * (listener-errors.ts), as for every batch of listeners.
 */
export function handOverLeftovers(conn: RudpConnection): void {
  if (conn.listenerCount('message') === 0) return;
  const left = takeLeftovers(conn);
  if (left === undefined) return;
  let errors: ListenerErrors;
  for (let i = 0; i < left.messages.length; i++) {
    try {
      conn.onMessage(left.messages[i] as Buffer, left.channels[i] as number);
    } catch (error) {
      errors = keepError(errors, error);
    }
  }
  conn.setHold(left.hold, false);
  rethrowErrors(errors);
}

/**
 * Listens again for the `'message'` listener that gets what a left loop read
 * ahead on `conn`, after `removeAllListeners` took that `'newListener'`
 * listener away: else the messages and the hold that keeps newer ones
 * behind them would stay until the close, and the connection with them.
 */
export function rewatchLeftovers(conn: RudpConnection): void {
  const left = leftoversOf.get(conn);
  if (left === undefined || conn.listeners('newListener').includes(left.onNewListener)) return;
  conn.on('newListener', left.onNewListener);
}

/** One pending call of `next()`. */
interface Waiter {
  resolve(r: IteratorResult<Buffer>): void;
  reject(e: Error): void;
}

/** An async iterator over `conn`'s messages (see `RudpConnection[Symbol.asyncIterator]`). */
export function iterateMessages(conn: RudpConnection): AsyncIterator<Buffer> {
  const hold = Symbol('iterator');
  // What a loop left before this one read ahead comes first.
  const left = takeLeftovers(conn);
  const queue: Buffer[] = left === undefined ? [] : [...left.messages];
  const channels: number[] = left === undefined ? [] : [...left.channels];
  let queuedBytes = 0;
  for (const m of queue) queuedBytes += m.length;
  /** `undefined` while open; `null` after a clean end; the error of a failed one (thrown once). */
  let end: RudpError | null | undefined = conn.closed ? (conn.closeError ?? null) : undefined;
  /**
   * Calls of `next()` waiting for a message, oldest first: a caller may ask
   * again before the last answer came (`Promise.all`, a `race` with a
   * timeout), and each must get its own message, as from an async generator.
   */
  const waiters: Waiter[] = [];

  const onMessage = (m: Buffer, channel: number): void => {
    const w = waiters.shift();
    if (w !== undefined) {
      w.resolve({ value: m, done: false });
      return;
    }
    queue.push(m);
    channels.push(channel);
    queuedBytes += m.length;
    if (queue.length >= MAX_QUEUED_MESSAGES || queuedBytes >= MAX_QUEUED_BYTES) conn.setHold(hold, true);
  };
  const onClose = (_reason: CloseReason): void => {
    end = conn.closeError ?? null;
    detach();
    for (const w of waiters.splice(0)) settle(w);
  };
  const detach = (): void => {
    conn.off('message', onMessage);
    conn.off('close', onClose);
    conn.setHold(hold, false);
  };
  /** Answers `w` once the iteration is over: the failure once (to the oldest caller), then done. */
  const settle = (w: Waiter): void => {
    if (end) {
      const e = end;
      end = null;
      w.reject(e);
    } else {
      w.resolve({ value: undefined, done: true });
    }
  };

  if (end === undefined) {
    if (queue.length >= MAX_QUEUED_MESSAGES || queuedBytes >= MAX_QUEUED_BYTES) conn.setHold(hold, true);
    conn.on('message', onMessage);
    conn.on('close', onClose);
  }
  if (left !== undefined) conn.setHold(left.hold, false);
  return {
    next(): Promise<IteratorResult<Buffer>> {
      // Destroyed by the application (in the loop's body, say): what was read ahead is dropped, and the loop ends.
      if (conn.destroyedHere && queue.length > 0) {
        queue.length = 0;
        channels.length = 0;
        queuedBytes = 0;
      }
      const m = queue.shift();
      if (m !== undefined) {
        channels.shift();
        queuedBytes -= m.length;
        if (end === undefined && queue.length < MAX_QUEUED_MESSAGES / 2 && queuedBytes < MAX_QUEUED_BYTES / 2) conn.setHold(hold, false);
        return Promise.resolve({ value: m, done: false });
      }
      return new Promise((resolve, reject) => {
        if (end !== undefined) settle({ resolve, reject });
        else waiters.push({ resolve, reject });
      });
    },
    return(): Promise<IteratorResult<Buffer>> {
      // Kept (and the transport held) before this loop's hold goes, so no newer message slips past them.
      if (queue.length > 0) keepLeftovers(conn, queue.splice(0), channels.splice(0));
      queuedBytes = 0;
      if (end === undefined) {
        end = null;
        detach();
      }
      // Calls still waiting end with the iteration, as an async generator's queued calls do.
      for (const w of waiters.splice(0)) w.resolve({ value: undefined, done: true });
      return Promise.resolve({ value: undefined, done: true });
    },
  };
}
