import net from 'node:net';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { nodeCryptoProvider as crypto } from 'rudpx';
import { afterEach, describe, expect, it } from 'vitest';
import { readHeaderLines } from '../src/read-header.js';
import { SecureTransferChannel, TransferChannelError } from '../src/secure-transfer-channel.js';
import type { TransferKeys } from '../src/transfer-keys.js';

const keys: TransferKeys = { clientToServer: crypto.randomBytes(32), serverToClient: crypto.randomBytes(32) };

/** A loopback TCP pair: `serve` gets the server's socket; resolves with the client's. */
const closers: (() => void)[] = [];
afterEach(() => closers.splice(0).forEach((c) => c()));
const loopback = async (serve: (s: net.Socket) => void): Promise<net.Socket> => {
  const server = net.createServer({ allowHalfOpen: true }, serve);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => server.close());
  const client = net.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1' });
  client.on('error', () => undefined);
  closers.push(() => client.destroy());
  await new Promise((resolve) => client.once('connect', resolve));
  return client;
};

/** Everything `channel` reads until it ends or breaks: the text and the error code, if any. */
const drain = (channel: SecureTransferChannel): Promise<{ text: string; code: string | undefined }> =>
  new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let code: string | undefined;
    channel.on('data', (c: Buffer) => chunks.push(c));
    channel.on('error', (e) => (code = e instanceof TransferChannelError ? e.code : e.message));
    channel.on('close', () => resolve({ text: Buffer.concat(chunks).toString('utf8'), code }));
  });

describe('SecureTransferChannel over TCP', () => {
  it('carries both directions; header lines can be read from it; the wire is sealed', async () => {
    const wire: Buffer[] = [];
    const client = await loopback((s) => {
      s.on('data', (c: Buffer) => wire.push(c));
      const ch = new SecureTransferChannel(s, keys, 'server');
      ch.on('error', () => undefined);
      void readHeaderLines(ch, 1, 100).then((lines) => ch.end(`got ${lines?.[0] ?? '?'}\n`));
    });
    const ch = new SecureTransferChannel(client, keys, 'client');
    const answer = drain(ch);
    ch.end('hello-plaintext\n');
    expect(await answer).toEqual({ text: 'got hello-plaintext\n', code: undefined });
    expect(Buffer.concat(wire).includes(Buffer.from('hello'))).toBe(false);
  });

  it('an altered byte breaks the channel with ERR_TRANSFER_AUTH', async () => {
    const client = await loopback((s) => {
      const ch = new SecureTransferChannel(s, keys, 'server');
      ch.on('error', () => undefined);
      // Flip a body byte of each sealed record on its way out.
      const write = s.write.bind(s);
      s.write = ((chunk: Uint8Array, cb?: () => void) => {
        const b = Buffer.from(chunk);
        if (b.length > 10) b[8] = (b[8] ?? 0) ^ 1;
        return write(b, cb);
      }) as typeof s.write;
      ch.end('a reply long enough to be altered\n');
    });
    const ch = new SecureTransferChannel(client, keys, 'client');
    expect((await drain(ch)).code).toBe('ERR_TRANSFER_AUTH');
  });

  it('a connection that ends before the final record is ERR_TRANSFER_TRUNCATED, not a short stream', async () => {
    const client = await loopback((s) => {
      const ch = new SecureTransferChannel(s, keys, 'server');
      ch.on('error', () => undefined);
      ch.write('partial', () => s.end());
    });
    const got = await drain(new SecureTransferChannel(client, keys, 'client'));
    expect(got).toEqual({ text: 'partial', code: 'ERR_TRANSFER_TRUNCATED' });
  });

  it("a server's clear ERR line (no keys yet) is ERR_TRANSFER_REFUSED with its reason, never data", async () => {
    const client = await loopback((s) => s.end('ERR invalid or expired token\n'));
    const ch = new SecureTransferChannel(client, keys, 'client');
    const errors: Error[] = [];
    ch.on('error', (e) => errors.push(e));
    const got = await drain(ch);
    expect(got).toEqual({ text: '', code: 'ERR_TRANSFER_REFUSED' });
    expect(errors[0]?.message).toBe('invalid or expired token');
  });

  it('a peer that refuses and closes mid-upload fails the sender promptly instead of leaving it waiting', async () => {
    const client = await loopback((s) => {
      const ch = new SecureTransferChannel(s, keys, 'server');
      ch.on('error', () => undefined);
      // Read one chunk, then refuse and close without reading the rest.
      ch.once('data', () => {
        ch.pause();
        ch.end('ERR stop\n');
        setTimeout(() => s.destroy(), 20);
      });
    });
    const ch = new SecureTransferChannel(client, keys, 'client');
    const answer = drain(ch);
    const big = Buffer.alloc(64 * 1024 * 1024, 7);
    const sent = pipeline(Readable.from([big.subarray(0, 1024), big]), ch).then(
      () => 'finished',
      () => 'failed',
    );
    expect(await sent).toBe('failed');
    expect((await answer).text).toBe('ERR stop\n');
  });
});
