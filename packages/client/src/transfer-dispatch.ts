import { deriveTransferKeys, sessionExporter, type RequestCommand } from 'forum-protocol';
import type { RudpConnection } from 'rudpx';
import type { ClientArgs } from './args.js';
import type { ClientState } from './client-state.js';
import { out } from './client-output.js';
import { OVERWRITE_FLAG } from './command-help.js';
import { downloadPlaceProblem } from './download-place.js';
import { createProgress } from './progress.js';
import { downloadFile, uploadFile, type TransferResult } from './transfer.js';
import { checkTransferReply, type TransferData } from './transfer-direction.js';
import { openUploadSource } from './upload-source.js';
import { transferFailureLine, uploadUnknownLine } from './transfer-refusal.js';


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

/**
 * Moves the file of a granted UPD or DWN over TCP, with a progress bar at a terminal and Ctrl-C to cancel
 * it, then prints how it ended (the server's completion line, `… cancelled`, or why it failed). A fatal
 * event that came meanwhile runs once the transfer has cleaned up (`state.deferredExit`).
 */
export const runTransfer = async (granted: GrantedTransfer, args: ClientArgs, conn: RudpConnection, state: ClientState): Promise<void> => {
  const { cmd, data, localName, overwrite, title } = granted;
  // The direction is the typed command's; a reply that says otherwise is refused before any TCP.
  const check = checkTransferReply(cmd, data);
  if (!check.ok) {
    out(check.message);
    return;
  }
  // Checked once the server granted the download, so its answers (no such thread, no such file)
  // come first as the spec has them. The unused token simply expires.
  if (check.direction === 'download') {
    const problem = await downloadPlaceProblem(localName, overwrite);
    if (problem !== undefined) {
      out(problem.kind === 'exists' ? `File ${localName} already exists here; to replace it: DWN ${title} ${localName} ${OVERWRITE_FLAG}` : problem.text);
      return;
    }
  }
  // SIGTERM or a script's Ctrl-C came while the grant was on its way (no transfer to cancel yet): it had
  // only ended the input, and the transfer granted after it then ran whole, a 2 GiB download included.
  if (state.terminated || state.interruptedScript()) {
    out(`${check.direction === 'upload' ? 'Upload' : 'Download'} of ${localName} cancelled`);
    return;
  }
  state.transferring = true;
  const cancel = new AbortController();
  state.cancelTransfer = cancel;
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
  state.cancelTransfer = undefined;
  state.transferring = false;
  const what = `${check.direction === 'upload' ? 'Upload' : 'Download'} of ${localName}`;
  if (result.ok) out(data.completionLine);
  else if (result.cancelled) out(`${what} cancelled`);
  else if (result.maybeStored === true) out(uploadUnknownLine(localName, data.thread, result.reason));
  else out(transferFailureLine(check.direction, localName, data.thread, result.reason));
  state.deferredExit?.();
};
