import { deriveTransferKeys, sessionExporter, type Reply, type RequestCommand, type TransferDirection } from 'forum-protocol';
import { setTimeout as delay } from 'node:timers/promises';
import type { RudpConnection } from 'rudpx';
import type { ClientArgs } from './args.js';
import type { ClientState } from './client-state.js';
import { err, out, outLines } from './client-output.js';
import { OVERWRITE_FLAG } from './command-help.js';
import { downloadPlaceProblem } from './download-place.js';
import { createProgress } from './progress.js';
import { downloadFile, uploadFile, type TransferResult } from './transfer.js';
import { checkTransferReply, type TransferData } from './transfer-direction.js';
import { openUploadSource } from './upload-source.js';
import { transferFailureLine, uploadUnknownLine } from './transfer-refusal.js';
import { afterEarlierTryReason, earlierTryLine, givenUpReason, transferRetryNotice, transferRetryPauses, tryLaterRefusal } from './transfer-retry.js';


/** A UPD or DWN the server granted: what was typed, and the server's reply. */
export interface GrantedTransfer {
  /** The typed command: it alone decides the direction. */
  readonly cmd: RequestCommand;
  /** The reply's transfer data (port, token, completion line). */
  readonly data: TransferData;
  /** The local file, as typed. */
  readonly localName: string;
  /** `DWN title file --overwrite`: the local file may be replaced. */
  readonly overwrite: boolean;
  /** The thread, as typed (for the hint to use `--overwrite`). */
  readonly title: string;
}

/** What a new UPD or DWN came to: the reply; `'unsent'` (said why) or `undefined` (fatal, the client is exiting). */
export type AskAgain = () => Promise<Reply | 'unsent' | undefined>;

/**
 * Moves the file of a granted UPD or DWN over TCP, with a progress bar at a terminal and Ctrl-C to cancel
 * it, then prints how it ended (the server's completion line, `… cancelled`, or why it failed). A fatal
 * event that came meanwhile runs once the transfer has cleaned up (`state.deferredExit`). One the transfer port
 * refused before it began for want of room is asked for again (`askAgain`, the same command) after a pause, a few
 * times, each said on stderr (transfer-retry.ts); Ctrl-C during a pause cancels it as it cancels a transfer.
 */
export const runTransfer = async (granted: GrantedTransfer, args: ClientArgs, conn: RudpConnection, state: ClientState, askAgain: AskAgain): Promise<void> => {
  const pauses = transferRetryPauses(process.env);
  const cancel = new AbortController();
  state.cancelTransfer = cancel;
  let data = granted.data;
  // Some try had handed over its upload's last byte when its refusal in clear came (it may be stored, if forged).
  let handedOver = false;
  try {
    for (let tries = 0; ; tries++) {
      const moved = await moveFile({ ...granted, data }, args, conn, state, cancel, handedOver);
      if (moved === undefined) return;
      const { what, direction, result } = moved;
      const refusal = tryLaterRefusal(result);
      const lastByteSent = refusal !== undefined && !result.ok && !result.cancelled && result.maybeStored === true;
      if (lastByteSent) handedOver = true;
      const wait = pauses[tries];
      // Not refused for want of room, past the last pause, or a fatal event came meanwhile (it ends the session
      // now, once the line is out): said, no try again.
      if (refusal === undefined || wait === undefined || state.deferredExit !== undefined) {
        if (refusal !== undefined && wait === undefined) {
          const reason = givenUpReason(direction, refusal, pauses, !handedOver);
          out(handedOver ? uploadUnknownLine(granted.localName, data.thread, reason) : transferFailureLine(direction, granted.localName, data.thread, reason));
        } else outcome(what, direction, granted.localName, data, result, handedOver);
        state.deferredExit?.();
        return;
      }
      err(transferRetryNotice(what, refusal, wait, granted.cmd, lastByteSent));
      // A fatal event in the pause or the new request (the server gone) waits for this transfer's line, as during a
      // try: it ended the session with only the notice above, and after a try handed over whole nothing said the
      // upload may be stored.
      const pause = new AbortController();
      state.transferPause = pause;
      state.transferring = true;
      await delay(wait, undefined, { signal: AbortSignal.any([cancel.signal, pause.signal]) }).catch(() => undefined);
      state.transferPause = undefined;
      const reply = deferredExitOf(state) !== undefined || cancel.signal.aborted ? undefined : await askAgain();
      state.transferring = false;
      const fatal = deferredExitOf(state);
      if (fatal !== undefined) {
        outcome(what, direction, granted.localName, data, result, handedOver);
        return fatal();
      }
      if (cancel.signal.aborted) return void out(cancelledLine(what, granted.localName, data.thread, handedOver));
      if (reply === undefined) return;
      if (reply === 'unsent') return void outcome(what, direction, granted.localName, data, result, handedOver);
      outLines(reply.lines);
      if (reply.data.kind !== 'transfer') {
        // Refused this time by the server itself (authenticated): `File already exists in Thread T`, say.
        if (handedOver) out(earlierTryLine(granted.localName, data.thread));
        return;
      }
      data = reply.data;
    }
  } finally {
    state.cancelTransfer = undefined;
  }
};

/** The fatal event's exit waiting for the transfer, read afresh (it may have come during an `await`). */
const deferredExitOf = (state: ClientState): (() => void) | undefined => state.deferredExit;

/**
 * Prints how a transfer ended: the server's completion line, `… cancelled`, or why it failed. `handedOver`: an
 * earlier try of this upload was refused in clear after its last byte was sent, so it may be stored (a refusal
 * forged in place of the server's `OK`) whatever became of the later ones: a failure or a cancel is then said
 * to leave the outcome unknown, not to have stored nothing.
 */
const outcome = (what: string, direction: TransferDirection, localName: string, data: TransferData, result: TransferResult, handedOver: boolean): void => {
  if (result.ok) out(data.completionLine);
  else if (result.cancelled) out(cancelledLine(what, localName, data.thread, handedOver));
  else if (result.maybeStored === true) out(uploadUnknownLine(localName, data.thread, result.reason));
  else if (handedOver) out(uploadUnknownLine(localName, data.thread, afterEarlierTryReason(result.reason)));
  else out(transferFailureLine(direction, localName, data.thread, result.reason));
};

/**
 * The line of a transfer cancelled (Ctrl-C, SIGTERM), during a try or a pause between tries: `… cancelled`, or
 * with `handedOver` (see {@link outcome}) the line of an upload whose outcome is unknown. It read `Upload of F
 * cancelled` after a forged refusal of a try that was stored, and the file was in the thread.
 */
const cancelledLine = (what: string, localName: string, thread: string, handedOver: boolean): string =>
  handedOver ? uploadUnknownLine(localName, thread, afterEarlierTryReason('cancelled')) : `${what} cancelled`;

/**
 * Moves the file of one grant: how it ended, or `undefined` when no transfer ran and the line saying why was
 * printed (a reply that disagrees with the command, a local file in the way, a signal that came first).
 */
const moveFile = async (
  granted: GrantedTransfer,
  args: ClientArgs,
  conn: RudpConnection,
  state: ClientState,
  cancel: AbortController,
  handedOver: boolean,
): Promise<{ readonly what: string; readonly direction: TransferDirection; readonly result: TransferResult } | undefined> => {
  const { cmd, data, localName, overwrite, title } = granted;
  // The direction is the typed command's; a reply that says otherwise is refused before any TCP.
  const check = checkTransferReply(cmd, data);
  if (!check.ok) {
    out(check.message);
    return undefined;
  }
  const what = `${check.direction === 'upload' ? 'Upload' : 'Download'} of ${localName}`;
  // Checked once the server granted the download, so its answers (no such thread, no such file)
  // come first as the spec has them. The unused token simply expires.
  if (check.direction === 'download') {
    const problem = await downloadPlaceProblem(localName, overwrite);
    if (problem !== undefined) {
      out(problem.kind === 'exists' ? `File ${localName} already exists here; to replace it: DWN ${title} ${localName} ${OVERWRITE_FLAG}` : problem.text);
      return undefined;
    }
  }
  // SIGTERM or a script's Ctrl-C came while the grant was on its way (no transfer to cancel yet): it had
  // only ended the input, and the transfer granted after it then ran whole, a 2 GiB download included.
  if (state.terminated || state.interruptedScript() || cancel.signal.aborted) {
    out(cancelledLine(what, localName, data.thread, handedOver));
    return undefined;
  }
  state.transferring = true;
  let result: TransferResult;
  try {
    const keys = deriveTransferKeys(sessionExporter(conn), data.token);
    if (check.direction === 'upload') {
      // Opened again, as the file may have changed since the UPD's check: measured and read through one handle.
      const source = await openUploadSource(localName);
      if ('problem' in source) {
        result = { ok: false, cancelled: false, reason: source.problem };
      } else {
        const progress = createProgress(`Uploading ${localName}`, source.size);
        // Stopped however the upload ends: a bar left running would redraw over the lines that follow.
        try {
          result = await uploadFile(args.host, data.port, data.token, keys, source.handle, source.size, progress, { signal: cancel.signal, pace: args.pace });
        } finally {
          progress.stop();
          await source.handle.close().catch(() => undefined);
        }
      }
    } else {
      const progress = (size: number) => createProgress(`Downloading ${localName}`, size);
      result = await downloadFile(args.host, data.port, data.token, keys, process.cwd(), localName, progress, { overwrite, signal: cancel.signal, pace: args.pace });
    }
  } catch (e) {
    result = { ok: false, cancelled: false, reason: e instanceof Error ? e.message : String(e) };
  }
  state.transferring = false;
  return { what, direction: check.direction, result };
};
