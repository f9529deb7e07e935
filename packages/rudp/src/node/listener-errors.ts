/**
 * What listeners threw while a batch of them ran. The adapter runs every
 * listener of a batch (a socket's datagrams, an endpoint's events, a closing
 * connection's messages and `'close'`) even past one that throws: an
 * application bug that a process survives with an `uncaughtException`
 * handler must not leave the rest undone (sends pending forever, a timer
 * never re-armed). What was thrown is rethrown once the batch is done, and
 * none of it is lost: the error itself if one listener threw, an
 * `AggregateError` of all of them, in order, if several did.
 *
 * Plain functions over an array made on the first throw, not an object per
 * batch: batches run on every datagram burst, throws almost never.
 */

/** Errors kept so far (`undefined`: none). */
export type ListenerErrors = unknown[] | undefined;

/** Keeps `error` after those already in `errors`; returns the list to keep. */
export function keepError(errors: ListenerErrors, error: unknown): unknown[] {
  if (errors === undefined) return [error];
  errors.push(error);
  return errors;
}

/** Throws what `errors` holds: nothing if empty, the error itself if one, else an `AggregateError` of all. */
export function rethrowErrors(errors: ListenerErrors): void {
  if (errors === undefined || errors.length === 0) return;
  if (errors.length === 1) throw errors[0];
  const messages = errors.map((e) => (e instanceof Error ? e.message : String(e)));
  throw new AggregateError(errors, `${errors.length} listeners threw: ${messages.join('; ')}`);
}
