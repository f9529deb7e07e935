import type net from 'node:net';
import type { SecureTransferChannel } from 'forum-protocol';

/** How long a refused upload's remaining bytes are read and discarded, so the client sees the ERR line rather than a reset. */
export const DRAIN_AFTER_REFUSAL_MS = 10_000;

/** Refuses over `socket` (in clear: no keys yet) or over the sealed channel. */
export const refuse = (socket: net.Socket | SecureTransferChannel, reason: string): void => {
  socket.end(`ERR ${reason}\n`);
};

/** Refuses an upload whose body may still be arriving: answer, then read and drop what comes for a while. */
export const refuseUpload = (socket: SecureTransferChannel, reason: string): void => {
  refuse(socket, reason);
  socket.resume();
  setTimeout(() => socket.destroy(), DRAIN_AFTER_REFUSAL_MS).unref();
};

