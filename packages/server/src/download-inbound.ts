import type net from 'node:net';

/**
 * The most a download's client may send after its token line, bytes. An honest client (forum-client's
 * `downloadFile`) sends nothing on a download's connection: it reads, then closes it (a FIN, or a reset when it
 * cancels). 4 KiB leaves room for a final record (19 bytes) or an abort record with a short reason, and no more:
 * the server reads what a download's client sends (to see its close) and opens each record, and records sent
 * at line rate cost it a read and an AES-GCM open each for as long as the download lasts.
 */
export const MAX_DOWNLOAD_INBOUND_BYTES = 4096;

/**
 * Counts what `socket` reads from now on; once it is over `max` bytes, calls `onOver` (with the count) once.
 * Put before the socket's other 'data' listeners, so the chunk that goes over is judged before a channel opens it.
 */
export const boundInbound = (socket: net.Socket, max: number, onOver: (received: number) => void): void => {
  let received = 0;
  const count = (chunk: Buffer): void => {
    received += chunk.length;
    if (received <= max) return;
    socket.off('data', count);
    onOver(received);
  };
  socket.prependListener('data', count);
};
