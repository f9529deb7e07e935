import { commandErrorText, type TransferDirection } from 'forum-protocol';

/**
 * The line forum-client prints for a transfer that failed with `reason` (the
 * server's `ERR` line, or what went wrong locally). A refusal because the
 * thread is gone (removed before or while the bytes moved) is printed as the
 * server words it, the spec's `Thread T does not exist`: the line a UPD or
 * DWN naming a missing thread gets, which scripts grep for. Any other failure
 * says which transfer failed and why: `Upload of F failed: reason`.
 */
export const transferFailureLine = (direction: TransferDirection, localName: string, thread: string, reason: string): string => {
  const threadGone = commandErrorText({ kind: 'noThread', title: thread });
  if (reason === threadGone) return threadGone;
  return `${direction === 'upload' ? 'Upload' : 'Download'} of ${localName} failed: ${reason}`;
};

/**
 * The line for an upload whose outcome is unknown (`maybeStored`: every byte handed over, no authenticated answer,
 * `reason` says why). Not `… failed`: the server commits what it read whole, so the file may be on the forum, and a
 * user told it failed sends it again into `File already exists`. RDT shows the upload line if it landed.
 */
export const uploadUnknownLine = (localName: string, thread: string, reason: string): string =>
  `Upload of ${localName}: ${reason}; it may or may not have been stored (RDT ${thread} shows it if it was)`;
