/**
 * Which way a file goes is decided by the command the user typed, never by
 * the server's reply: a reply could otherwise turn a download into an upload
 * of a local file to whoever forged it.
 */
import type { Reply, RequestCommand, TransferDirection } from 'forum-protocol';

/** The transfer part of a reply. */
export type TransferData = Extract<Reply['data'], { kind: 'transfer' }>;

/** The direction a command implies: UPD uploads, DWN downloads, nothing else transfers. */
export const directionOf = (cmd: RequestCommand): TransferDirection | undefined => (cmd === 'UPD' ? 'upload' : cmd === 'DWN' ? 'download' : undefined);

const WITH_ARTICLE: Readonly<Record<TransferDirection, string>> = { upload: 'an upload', download: 'a download' };

/** The outcome of checking a reply's transfer against the command: go ahead, or the line to print instead. */
export type TransferCheck = { readonly ok: true; readonly direction: TransferDirection } | { readonly ok: false; readonly message: string };

/** Checks that a transfer reply agrees with the command it answers. */
export const checkTransferReply = (cmd: RequestCommand, data: TransferData): TransferCheck => {
  const expected = directionOf(cmd);
  if (expected === undefined) return { ok: false, message: `The server's reply to ${cmd} asked for a file transfer; nothing was transferred` };
  if (data.direction !== expected) return { ok: false, message: `The server's reply to ${cmd} asked for ${WITH_ARTICLE[data.direction]} instead of ${WITH_ARTICLE[expected]}; nothing was transferred` };
  // The token goes into the transfer connection's first line: nothing but the 64 hex digits the server issues.
  if (!/^[0-9a-f]{64}$/.test(data.token)) return { ok: false, message: `The server's reply to ${cmd} carried a malformed transfer token; nothing was transferred` };
  return { ok: true, direction: expected };
};
