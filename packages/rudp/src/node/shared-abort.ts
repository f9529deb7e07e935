/**
 * One `'abort'` listener per `AbortSignal`, however many callers wait on it.
 * Node warns of a leak (`MaxListenersExceededWarning`) from a signal's
 * eleventh listener, and an application that ends every connection with one
 * signal (`for (const c of server.connections) c.close({ signal })`) would
 * add a listener per connection.
 */
import { keepError, type ListenerErrors, rethrowErrors } from './listener-errors.js';

/** The callbacks waiting on one signal, and the one listener they share. */
interface Waiters {
  readonly callbacks: Set<() => void>;
  readonly listener: () => void;
}

const bySignal = new Map<AbortSignal, Waiters>();

/**
 * Calls `callback` once when `signal` aborts (`signal` must not be aborted
 * yet). Returns the function that stops waiting: the last caller off a
 * signal removes its listener, so nothing keeps the signal or the caller.
 */
export function whenAborted(signal: AbortSignal, callback: () => void): () => void {
  let waiters = bySignal.get(signal);
  if (waiters === undefined) {
    const callbacks = new Set<() => void>();
    const listener = (): void => {
      bySignal.delete(signal);
      // Every callback runs even past one that throws (a connection's 'close' listener, say); what was thrown follows.
      let errors: ListenerErrors;
      for (const cb of callbacks) {
        try {
          cb();
        } catch (e) {
          errors = keepError(errors, e);
        }
      }
      callbacks.clear();
      rethrowErrors(errors);
    };
    waiters = { callbacks, listener };
    bySignal.set(signal, waiters);
    signal.addEventListener('abort', listener, { once: true });
  }
  // A wrapper of its own: the same function may wait twice, and each unwatch removes one.
  const entry = (): void => callback();
  const { callbacks, listener } = waiters;
  callbacks.add(entry);
  return () => {
    if (!callbacks.delete(entry) || callbacks.size > 0 || bySignal.get(signal)?.callbacks !== callbacks) return;
    bySignal.delete(signal);
    signal.removeEventListener('abort', listener);
  };
}
