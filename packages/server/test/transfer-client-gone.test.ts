/**
 * A transfer whose client is gone before the server has looked its token up
 * (a database round trip with PostgreSQL): the server must let go of it, not
 * wait for events of a connection that has already closed (attack round 5).
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { deriveTransferKeys, type ForumStore, type StoreError, type TransferGrant, type TransferTokens } from 'forum-protocol';
import { DiskQuota } from '../src/disk-quota.js';
import { TransferActivity } from '../src/transfer-activity.js';
import { startTransferServer } from '../src/transfer-server.js';

const TOKEN = 'ab'.repeat(32);
const keys = deriveTransferKeys({ exportKeyingMaterial: (_label, _context, length) => new Uint8Array(length) }, TOKEN);

/** TCP sockets of this process (client and server sides alike). */
const tcpSockets = (): number => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;

/** Waits until `ok()` holds, checking every 10 ms; false after `ms`. */
const until = async (ok: () => boolean, ms: number): Promise<boolean> => {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
};

describe('transfer server: a client gone while its token is looked up', () => {
  it('an upload ends (its user no longer counted as transferring, its slot free): the server does not wait for a close that has passed', async () => {
    const direction = 'upload';
    let lookup: () => void = () => undefined;
    const lookingUp = new Promise<void>((resolve) => (lookup = resolve));
    let answer: () => void = () => undefined;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    const grant: TransferGrant = { direction, thread: 't', incarnation: '1', filename: 'f', username: 'u', expiresAt: Date.now() + 60_000, keys };
    const tokens: TransferTokens = {
      issue: () => async () => ({ _tag: 'Left', left: { kind: 'io', message: 'not in this test' } satisfies StoreError }),
      // A slow lookup (a database's), answered once the client has gone.
      redeem: () => async () => {
        lookup();
        await answered;
        return { _tag: 'Right', right: { _tag: 'Some', value: grant } };
      },
      revokeSession: () => async () => undefined,
    };
    const activity = new TransferActivity();
    // Nothing of the store is reached: the connection is gone before a byte of the transfer.
    const store = {} as unknown as ForumStore;
    const server = await startTransferServer({ store, tokens, activity, log: () => undefined, maxUploadBytes: 1e9, quota: new DiskQuota('.', undefined), overloaded: () => undefined }, 0, '127.0.0.1');
    try {
      const before = tcpSockets();
      const socket = net.connect({ port: server.port, host: '127.0.0.1' });
      socket.on('error', () => undefined);
      socket.write(`${TOKEN}\n`);
      await lookingUp;
      socket.resetAndDestroy();
      // Both ends closed (the server's side has seen the reset) before the lookup answers.
      expect(await until(() => socket.closed && tcpSockets() <= before, 5_000)).toBe(true);
      answer();
      // What the server does with the answer runs in microtasks, all before this timer.
      await new Promise((resolve) => setTimeout(resolve, 0));
      // The upload waited for its size line on a connection already closed, for good (the header deadline
      // destroys a socket that is already destroyed, and nothing else ends it): its user stayed "transferring".
      expect(await until(() => !activity.busy('u'), 3_000)).toBe(true);
    } finally {
      await server.close();
    }
  });
});
