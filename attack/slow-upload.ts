/** A sealed upload sent slowly, for the round-8 attack scripts. */
import net from 'node:net';
import { deriveTransferKeys, SecureTransferChannel, sessionExporter, type Reply } from '../packages/forum-protocol/dist/index.js';
import type { Session } from './forum-raw.js';

/** An upload sent in `pieces` writes `gapMs` apart; `cut` decides, before each piece, whether to reset instead. Resolves with the server's answer. */
export const slowUpload = (s: Session, reply: Reply, size: number, pieces: number, gapMs: number, cut: (i: number) => boolean): Promise<string> =>
  new Promise((resolve) => {
    if (reply.data.kind !== 'transfer') return resolve(`no grant: ${reply.lines.join('|')}`);
    const { port, token } = reply.data;
    const socket = net.connect({ host: '127.0.0.1', port });
    let answer = '';
    let failure = '';
    socket.on('error', () => undefined);
    socket.write(`${token}\n`);
    const ch = new SecureTransferChannel(socket, deriveTransferKeys(sessionExporter(s.conn), token), 'client');
    ch.on('error', (e) => (failure ||= e.message));
    ch.on('data', (b: Buffer) => (answer += b.toString()));
    const done = (): void => resolve(answer !== '' ? answer.trim() : `<${failure}>`);
    ch.on('close', done);
    // The channel closes only once both its sides end; a socket gone first ends it all the same.
    socket.on('close', () => setImmediate(done));
    ch.write(`${size}\n`);
    const piece = Buffer.alloc(Math.ceil(size / pieces), 7);
    let i = 0;
    const next = (): void => {
      if (socket.destroyed) return;
      if (cut(i)) return void socket.resetAndDestroy();
      if (i === pieces - 1) return void ch.end(piece.subarray(0, size - piece.length * i));
      ch.write(piece);
      i++;
      setTimeout(next, gapMs);
    };
    next();
  });

