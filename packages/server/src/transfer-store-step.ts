/**
 * The store steps of a transfer before its body (redeeming its token, taking its user's place among uploads,
 * starting the upload, opening the download), each held to a deadline as a command is.
 */
import { commandErrorText, ioErrorText, withCommandDeadline, type CommandError } from 'forum-protocol';
import type { TransferServerDeps } from './transfer-server-deps.js';

/**
 * `step` (one store call of a transfer) under {@link TransferServerDeps.storeDeadlineMs}: past it no statement
 * more starts, the one running is cancelled, and one a silent database leaves unanswered is given up half a
 * second later (forum-protocol's postgres-abandon.ts). Without it, at a database whose connections stay open and
 * never answer, the step waited for as long as TCP did, holding the connection, its user's place among uploads
 * and the user's turn for the next one. Without a deadline (the data directory), `step` as it is.
 */
export const storeStep = <A>(deps: TransferServerDeps, step: () => Promise<A>): Promise<A> =>
  deps.storeDeadlineMs === undefined ? step() : withCommandDeadline(deps.storeDeadlineMs, step);

/**
 * The line a transfer refused by its store reads: for a database's failure, one naming `what` (the upload, the
 * transfer) as a chunk's does ("… did not answer in time, so the upload was cancelled: please try again"), else
 * the command's line (a thread gone, a file that exists).
 */
export const storeRefusalText = (e: CommandError, what: string): string => (e.kind === 'io' ? ioErrorText(e, what) : commandErrorText(e));
