/**
 * An upload that announces a size and sends one byte, then holds its
 * connection open: what a slow (or hostile) uploader does. The e2e tests
 * use it to hold a user's upload places and disk room.
 */
import { deriveTransferKeys, SecureTransferChannel, sessionExporter } from 'forum-protocol';
import net from 'node:net';
import type { RawClient } from './raw-client.js';

/** An upload {@link trickle} began: the server's answer once the connection closes, and how to end it. */
export interface TrickledUpload {
  /** What the server sent (a refusal line), and any channel error in angle brackets, once the connection closed. */
  readonly answer: Promise<string>;
  /** Ends the upload's connection. */
  stop(): void;
}

/** Starts an upload with `token` (granted to `client`) announcing `size` bytes and sends one: the connection stays open until `stop`. */
export const trickle = (port: number, client: RawClient, token: string, size: number): TrickledUpload => {
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.write(`${token}\n`);
  const channel = new SecureTransferChannel(socket, deriveTransferKeys(sessionExporter(client.conn), token), 'client');
  let opened = '';
  channel.on('data', (c: Buffer) => (opened += c.toString('utf8')));
  channel.on('error', (e) => (opened += `<${e.message}>`));
  const answer = new Promise<string>((resolve) => channel.on('close', () => resolve(opened)));
  // The server's final record ends the answer; our side may still be open.
  channel.on('end', () => channel.destroy());
  channel.write(`${size}\n`);
  channel.write('x');
  return { answer, stop: () => channel.destroy() };
};
