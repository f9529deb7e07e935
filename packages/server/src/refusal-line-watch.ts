import { type KernelTcpTable, TCP_FIN_WAIT2 } from './kernel-tcp-table.js';
import type { LineWatch } from './refusal-graces.js';

/**
 * How often the kernel's table is read while a refusal's grace is watched, ms: a grace is first told of half of
 * this after it began, and a grace unknown cannot be ended early, so between one read and the next a flood of
 * refusals has about 1.5 of these to fill the 64 with graces not yet known delivered (at 500, as uploads read it,
 * 128 a second could; at 200 it takes some 210 a second). No read at all while every grace ends sooner (an
 * honest client closes at the line within a round trip), nor while the pool has room or a stock of graces known
 * safe (`RefusalGraces.wantsWatch`).
 */
export const GRACE_TABLE_EVERY_MS = 200;

/**
 * A {@link LineWatch} reading `table`: a refused connection's line is safe to close on once its row is in
 * FIN-WAIT-2 (the server's FIN, after the line, acknowledged: the line is in the peer's kernel) with nothing
 * queued either way: Linux answers a close with unread bytes by a reset, which the peer's system may let destroy
 * the line not yet read; with none, the close sends nothing (the FIN went already). A row missing, or another
 * state (the line still in flight, the peer's FIN come), is not safe.
 */
export const lineWatchOf =
  (table: KernelTcpTable): LineWatch =>
  (socket, onRead) =>
    table.watch(socket, (row) => onRead(row !== undefined && row.state === TCP_FIN_WAIT2 && row.sendQueue === 0 && row.receiveQueue === 0));
