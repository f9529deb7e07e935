/**
 * The end of a `RudpConnection` as its users see it, once the core reports
 * the close: messages that arrived before it still handed over, sends still
 * waiting rejected with the close's error, `'error'` (for a failure, if
 * anyone listens) and `'close'` emitted, `close()` and `whenClosed()`
 * resolved — all of it even if a listener throws.
 */
import type { CloseReason } from '../core/events.js';
import { keepError, type ListenerErrors, rethrowErrors } from './listener-errors.js';
import type { RudpConnection } from './rudp-connection.js';
import { RudpError, closeCode } from './rudp-error.js';
import { handOverLeftovers } from './message-iterator.js';
import { asBuffer } from './udp-endpoint.js';
import { rejectUnacknowledged } from './unacknowledged-sends.js';

/**
 * `c` closed for `coreReason` (or for the failure `fail` recorded before it), reliable messages from id
 * `unsentFrom` on never having left: see the file's comment; once.
 */
export function reportClosed(c: RudpConnection, coreReason: CloseReason, unsentFrom: number): void {
  if (c.closedWith) return;
  const failure = c.failure;
  const reason = failure?.reason ?? coreReason;
  c.closedWith = reason;
  const closedError = failure?.error ?? new RudpError(closeCode(reason), `connection closed (${reason.kind}): ${reason.message}`, reason.cause !== undefined ? { reason, cause: reason.cause } : { reason });
  c.closedError = closedError;
  // Before any listener runs: one that throws must not leave the connection among the server's live ones.
  c.forgetClosed?.(c);
  // A listener that throws (an application bug the process survives with an uncaughtException
  // handler) must not leave the rest undone: sends and close() pending forever, no 'close' for
  // the others (a server's session never released). What they threw is rethrown at the end (`listener-errors.ts`).
  let errors: ListenerErrors;
  const emitting = (emit: () => void): void => {
    try {
      emit();
    } catch (error) {
      errors = keepError(errors, error);
    }
  };
  // Messages that arrived before the close but were held back by flow control are still handed
  // to whoever consumes them: a peer's graceful close must not cut off the end of what it sent.
  // Not after the application's own destroy(): it asked for no more.
  if (c.listenerCount('message') > 0 && !c.destroyedHere) {
    // What a left loop read ahead comes first, here and not after 'close': a listener added in this
    // tick has its hand-over still waiting in a microtask.
    emitting(() => handOverLeftovers(c));
    c.core.resume();
    // A listener may destroy() the connection on the way: none after that.
    for (let channel = c.core.nextMessageChannel, m = c.core.readMessage(); m !== undefined && !c.destroyedHere; channel = c.core.nextMessageChannel, m = c.core.readMessage()) {
      const data = asBuffer(m);
      emitting(() => c.emit('message', data, channel));
    }
  }
  const writersWait = c.needDrain;
  rejectUnacknowledged(c, closedError, unsentFrom);
  // A failure, not an ending asked for: a plug-in's fault ended a 'local' close too.
  const failed = (reason.kind !== 'local' && reason.kind !== 'peer') || reason.cause !== undefined;
  if (failed && c.listenerCount('error') > 0) emitting(() => c.emit('error', closedError));
  emitting(() => c.emit('close', reason));
  // writableLength fell to 0: a writer awaiting 'drain' (the README's loop) wakes and finds `closed`, instead of waiting forever.
  if (writersWait) emitting(() => c.emit('drain'));
  for (const w of c.closeWaiters.splice(0)) w();
  rethrowErrors(errors);
}
