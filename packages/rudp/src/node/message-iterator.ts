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

/** An async iterator over `conn`'s messages (see `RudpConnection[Symbol.asyncIterator]`). */
export function iterateMessages(conn: RudpConnection): AsyncIterator<Buffer> {
  const hold = Symbol('iterator');
  const queue: Buffer[] = [];
  let queuedBytes = 0;
  /** `undefined` while open; `null` after a clean end; the error of a failed one (thrown once). */
  let end: RudpError | null | undefined = conn.closed ? (conn.closeError ?? null) : undefined;
  let waiter: { resolve(r: IteratorResult<Buffer>): void; reject(e: Error): void } | undefined;

  const onMessage = (m: Buffer): void => {
    if (waiter) {
      const w = waiter;
      waiter = undefined;
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
    if (waiter) settle(waiter);
  };
  const detach = (): void => {
    conn.off('message', onMessage);
    conn.off('close', onClose);
    conn.setHold(hold, false);
  };
  const settle = (w: NonNullable<typeof waiter>): void => {
    waiter = undefined;
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
        waiter = { resolve, reject };
        if (end !== undefined) settle(waiter);
      });
    },
    return(): Promise<IteratorResult<Buffer>> {
      if (end === undefined) {
        end = null;
        detach();
      }
      queue.length = 0;
      return Promise.resolve({ value: undefined, done: true });
    },
  };
}
