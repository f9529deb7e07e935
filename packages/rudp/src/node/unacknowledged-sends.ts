/**
 * A connection's messages sent and not yet acknowledged: what `send`'s
 * promises wait for, and what `bufferedAmount`, `writableLength` and
 * `'drain'` measure. The state is the connection's own fields (a server
 * holds thousands of connections: an object of its own for this would be
 * heap in each); these functions keep it.
 *
 * Pending sends by message id sit in slot `id - pendingBase`. Ids are
 * consecutive and acknowledged roughly in order, so an array with its
 * settled front trimmed beats a Map's insert and delete per message. A
 * `write()` holds just its byte count.
 */
import type { RudpConnection } from './rudp-connection.js';
import { type RudpError, abortError, sendEndError } from './rudp-error.js';
import { whenAborted } from './shared-abort.js';

/** One unacknowledged send: its promise's settling functions held directly (no object of their own per message). */
export interface PendingSend {
  readonly bytes: number;
  /** Cleared once the promise settled early (aborted): the bytes still count until acknowledged. */
  resolve: (() => void) | undefined;
  reject: ((e: Error) => void) | undefined;
  /** Stops waiting on the send's `signal`, while it waits (most sends have none). */
  unwatch: (() => void) | undefined;
}

/** Keeps `p` (a send's entry, or a write's byte count) and counts it in `bufferedAmount` and `writableLength` until message `id` of `c` is acknowledged. */
export function holdUnacknowledged(c: RudpConnection, id: number, p: PendingSend | number): void {
  c.buffered += typeof p === 'number' ? p : p.bytes;
  c.unacknowledged++;
  if (c.writableLength >= c.writableHighWaterMark) c.needDrain = true;
  if (c.pending.length === 0) c.pendingBase = id;
  const i = id - c.pendingBase;
  // Ids the core gave to sends made around this wrapper leave holes.
  while (c.pending.length < i) c.pending.push(undefined);
  c.pending[i] = p;
}

/** Messages `id` … `id + count − 1` of `c` were acknowledged: their sends resolve, and `'drain'` follows if the writer may go on. */
export function settleAcknowledged(c: RudpConnection, id: number, count: number): void {
  for (let k = 0; k < count; k++) settle(c, id + k);
  while (c.pendingHead < c.pending.length && c.pending[c.pendingHead] === undefined) c.pendingHead++;
  if (c.pendingHead === c.pending.length) {
    // All settled: start over at the next id.
    c.pendingBase += c.pending.length;
    c.pending = [];
    c.pendingHead = 0;
  } else if (c.pendingHead > 1024 && c.pendingHead * 2 > c.pending.length) {
    c.pending.splice(0, c.pendingHead);
    c.pendingBase += c.pendingHead;
    c.pendingHead = 0;
  }
  // Half the mark, not the mark: a writer woken at the mark would be stopped again by its next message.
  if (c.needDrain && c.writableLength <= c.writableHighWaterMark / 2) {
    c.needDrain = false;
    c.emit('drain');
  }
}

/**
 * The connection ended: every send still waiting rejects with `error`, marked `sent: false` for a message
 * with an id from `unsentFrom` on (none of its bytes left), `sent: true` for the others (some did), and nothing
 * counts as buffered any more. The two errors are made only if some send gets them.
 */
export function rejectUnacknowledged(c: RudpConnection, error: RudpError, unsentFrom: number): void {
  const pending = c.pending;
  const base = c.pendingBase;
  c.pending = [];
  c.pendingHead = 0;
  let sentError: RudpError | undefined;
  let unsentError: RudpError | undefined;
  for (let i = 0; i < pending.length; i++) {
    const p = pending[i];
    if (p === undefined || typeof p === 'number') continue;
    unwatchAbort(p);
    const reject = p.reject;
    if (reject === undefined) continue;
    reject(base + i < unsentFrom ? (sentError ??= sendEndError(error, true)) : (unsentError ??= sendEndError(error, false)));
  }
  c.buffered = 0;
  c.unacknowledged = 0;
  c.needDrain = false;
}

/**
 * Rejects `entry` with an `AbortError` when `signal` aborts. Through
 * shared-abort.ts: sends that share a signal (one per session or request,
 * as applications make them, often across connections) share one listener
 * on it, where a listener each set off Node's leak warning
 * (`MaxListenersExceededWarning`) from the eleventh send in flight.
 */
export function watchAbort(signal: AbortSignal, entry: PendingSend): void {
  entry.unwatch = whenAborted(signal, () => {
    const rejectNow = entry.reject;
    // Settled, but still held: its bytes count until the peer acknowledges them.
    entry.resolve = undefined;
    entry.reject = undefined;
    entry.unwatch = undefined;
    rejectNow?.(abortError(signal));
  });
}

/** Message `id` of `c` is acknowledged: its bytes leave `bufferedAmount` (its credit `writableLength`), and its `send` resolves. */
function settle(c: RudpConnection, id: number): void {
  const i = id - c.pendingBase;
  const p = c.pending[i];
  if (p === undefined) return;
  c.pending[i] = undefined;
  c.unacknowledged--;
  if (typeof p === 'number') {
    c.buffered -= p;
  } else {
    c.buffered -= p.bytes;
    unwatchAbort(p);
    p.resolve?.();
  }
}

/** `entry` no longer waits on its signal (acknowledged, or the connection ended); the last one off a signal removes its listener. */
function unwatchAbort(entry: PendingSend): void {
  const unwatch = entry.unwatch;
  entry.unwatch = undefined;
  unwatch?.();
}
