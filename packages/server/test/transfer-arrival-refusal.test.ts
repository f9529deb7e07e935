/**
 * A transfer connection refused on arrival because every slot of its host holds a token says so
 * in a line (attack round 8: it was closed bare, and forum-client printed "the server closed the
 * transfer connection", with no hint that its neighbours held every slot).
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { deriveTransferKeys, type ForumStore, type TransferGrant, type TransferTokens } from 'forum-protocol';
import { DiskQuota } from '../src/disk-quota.js';
import { TransferActivity } from '../src/transfer-activity.js';
import { startTransferServer } from '../src/transfer-server.js';

const keys = deriveTransferKeys({ exportKeyingMaterial: (_label, _context, length) => new Uint8Array(length) }, 'ab'.repeat(32));
const token = (n: number): string => n.toString(16).padStart(64, '0');

/** Opens a connection, sends `line`, and resolves once it is connected (the socket, and what it receives until it closes). */
const open = (port: number, line: string, allowHalfOpen = false): Promise<{ readonly socket: net.Socket; readonly received: Promise<string> }> =>
  new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen });
    socket.on('error', () => undefined);
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    // At the server's FIN (a half-open client stays open after it) or the close, whichever comes first.
    const received = new Promise<string>((done) => {
      socket.on('end', () => done(text));
      socket.on('close', () => done(text));
    });
    socket.once('connect', () => {
      socket.write(`${line}\n`);
      resolve({ socket, received });
    });
  });

/** A transfer server whose 16 per-host slots hold upload tokens (each waiting, silent, for its size line), and the 16 sockets. */
const fullServer = async (): Promise<{ readonly server: Awaited<ReturnType<typeof startTransferServer>>; readonly held: net.Socket[] }> => {
  let redeemed = 0;
  let allRedeemed: () => void = () => undefined;
  const sixteen = new Promise<void>((resolve) => (allRedeemed = resolve));
  const tokens: TransferTokens = {
    issue: () => async () => ({ _tag: 'Left', left: { kind: 'io', message: 'not in this test' } }),
    redeem: () => async () => {
      const grant: TransferGrant = { direction: 'upload', thread: 't', incarnation: '1', filename: 'f', username: `u${redeemed}`, expiresAt: Date.now() + 60_000, keys };
      if (++redeemed === 16) allRedeemed();
      return { _tag: 'Right', right: { _tag: 'Some', value: grant } };
    },
    revokeSession: () => async () => undefined,
  };
  const store = {} as unknown as ForumStore;
  const server = await startTransferServer(
    { store, tokens, activity: new TransferActivity(), log: () => undefined, maxUploadBytes: 1e9, quota: new DiskQuota('.', undefined), overloaded: () => undefined },
    0,
    '127.0.0.1',
  );
  const held: net.Socket[] = [];
  for (let i = 0; i < 16; i++) held.push((await open(server.port, token(i + 1))).socket);
  await sixteen;
  return { server, held };
};

describe('transfer server: a connection refused on arrival', () => {
  it('at most 64 refused connections are kept for their grace at once; the others are closed at once', async () => {
    const { server, held } = await fullServer();
    const newcomers: net.Socket[] = [];
    try {
      // Half-open clients: they do not close when the refusal's FIN comes, so each refused socket stays its 2 s grace.
      const opened = await Promise.all(Array.from({ length: 80 }, (_, i) => open(server.port, token(200 + i), true)));
      newcomers.push(...opened.map((o) => o.socket));
      const received = await Promise.all(opened.map((o) => o.received));
      const told = received.filter((r) => r.startsWith('ERR too many transfers at once'));
      // Without the cap all 80 were kept and told.
      expect(told).toHaveLength(64);
      expect(received.filter((r) => r === '')).toHaveLength(16);
      expect(held.filter((s) => s.closed)).toEqual([]);
    } finally {
      for (const s of [...held, ...newcomers]) s.destroy();
      await server.close();
    }
  });

  it('when every slot of its host holds a token: a clear ERR line, not a bare close', async () => {
    const { server, held } = await fullServer();
    try {
      const newcomer = await open(server.port, token(100));
      expect(await newcomer.received).toBe('ERR too many transfers at once (from your address, or in all): try again later\n');
      // The 16 token holders were kept.
      expect(held.filter((s) => s.closed)).toEqual([]);
    } finally {
      for (const s of held) s.destroy();
      await server.close();
    }
  });
});
