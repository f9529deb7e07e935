/**
 * Acknowledged messages reported as runs: one `acked` event per run of
 * consecutive message ids an ACK or MESSAGE_ACK frame completes, not one per
 * message (a bulk ACK completes thousands of small messages).
 *
 * The run being gathered is one for all connections: a frame is handled to
 * the end before another starts, and each handler reports its run before it
 * returns, so a connection carries no field for it. A run left by a handler
 * that threw is still reported for its own connection (the packet's handler
 * reports it on the way out).
 */
import type { Connection } from '../connection.js';
import type { ConnectionHost } from '../connection/host.js';

/** Messages of `connection` acknowledged and not reported yet: ids `from` … `from + count − 1`, told to `host`. */
const run: { connection: Connection | undefined; host: Pick<ConnectionHost, 'emit'> | undefined; from: number; count: number } = {
  connection: undefined,
  host: undefined,
  from: 0,
  count: 0,
};

/** Message `id` of `connection` is acknowledged whole: it joins the run being gathered, or reports that one and starts the next. */
export function noteMessageAcked(connection: Connection, host: Pick<ConnectionHost, 'emit'>, id: number): void {
  if (run.connection === connection && id === run.from + run.count) {
    run.count++;
    return;
  }
  reportAckedRun();
  run.connection = connection;
  run.host = host;
  run.from = id;
  run.count = 1;
}

/** One `acked` event for the run gathered since the last (called once a frame's acknowledgements are all in). */
export function reportAckedRun(): void {
  const c = run.connection;
  const host = run.host;
  if (c === undefined || host === undefined) return;
  // Let go of the connection before the event: the shared run must not keep it (or its endpoint) alive.
  run.connection = undefined;
  run.host = undefined;
  host.emit({ type: 'acked', connection: c, messageId: run.from, count: run.count });
}
