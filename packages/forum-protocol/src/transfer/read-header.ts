import type { Readable } from 'node:stream';

/**
 * Reads `count` newline-terminated lines from the start of a socket (or a
 * {@link SecureTransferChannel}) and
 * leaves every byte after them unread (pushed back with `unshift`), so the
 * body can be streamed afterwards. Resolves `undefined` if the peer sends
 * more than `maxBytes` without finishing the lines, or the socket ends first.
 */
export const readHeaderLines = (socket: Readable, count: number, maxBytes: number): Promise<readonly string[] | undefined> =>
  new Promise((resolve) => {
    let buffered: Buffer = Buffer.alloc(0);
    let consumed = 0;
    const lines: string[] = [];
    const finish = (result: readonly string[] | undefined): void => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      while (lines.length < count) {
        const nl = buffered.indexOf(0x0a);
        if (nl < 0 || consumed + nl + 1 > maxBytes) break;
        lines.push(buffered.subarray(0, nl).toString('utf8'));
        consumed += nl + 1;
        buffered = buffered.subarray(nl + 1);
      }
      if (lines.length === count) {
        socket.pause();
        if (buffered.length > 0) socket.unshift(buffered);
        finish(lines);
      } else if (consumed + buffered.length > maxBytes) {
        finish(undefined);
      }
    };
    const onEnd = (): void => finish(undefined);
    socket.on('data', onData);
    // A previous call paused the socket; a 'data' listener alone does not restart it.
    socket.resume();
    socket.once('end', onEnd);
    socket.once('close', onEnd);
  });
