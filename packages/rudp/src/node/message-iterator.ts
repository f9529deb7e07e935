/**
 * `for await (const message of conn)`: messages in order, with the transport
 * held back while the loop body is slower than the peer.
 */
import type { CloseReason } from '../core/events.js';
import type { RudpError } from './rudp-error.js';
import type { RudpConnection } from './rudp-connection.js';

/** Messages queued ahead of the loop before the transport is held (the rest wait in the receive window). */
const MAX_QUEUED_MESSAGES = 64;
const MAX_QUEUED_BYTES = 1024 * 1024;

/** One pending call of `next()`. */
interface Waiter {
  resolve(r: IteratorResult<Buffer>): void;
  reject(e: Error): void;
}

/** An async iterator over `conn`'s messages (see `RudpConnection[Symbol.asyncIterator]`). */
export function iterateMessages(conn: RudpConnection): AsyncIterator<Buffer> {
  const hold = Symbol('iterator');
  const queue: Buffer[] = [];
  let queuedBytes = 0;
  /** `undefined` while open; `null` after a clean end; the error of a failed one (thrown once). */
  let end: RudpError | null | undefined = conn.closed ? (conn.closeError ?? null) : undefined;
  /**
   * Calls of `next()` waiting for a message, oldest first: a caller may ask
   * again before the last answer came (`Promise.all`, a `race` with a
   * timeout), and each must get its own message, as from an async generator.
   */
  const waiters: Waiter[] = [];

  const onMessage = (m: Buffer): void => {
    const w = waiters.shift();
    if (w !== undefined) {
      w.resolve({ value: m, done: false });
      return;
    }
    queue.push(m);
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
    conn.on('message', onMessage);
    conn.on('close', onClose);
  }
  return {
    next(): Promise<IteratorResult<Buffer>> {
      const m = queue.shift();
      if (m !== undefined) {
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
      if (end === undefined) {
        end = null;
        detach();
      }
      queue.length = 0;
      // Calls still waiting end with the iteration, as an async generator's queued calls do.
      for (const w of waiters.splice(0)) w.resolve({ value: undefined, done: true });
      return Promise.resolve({ value: undefined, done: true });
    },
  };
}
