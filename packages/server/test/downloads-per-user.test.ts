/**
 * A user's downloads at once (downloads-per-user.ts) are counted to their connections' close; a download its store
 * refuses sends nothing of the file and is no longer counted once refused. Real loopback sockets, the stall limit
 * at its 30 s.
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { openFileStore, SecureTransferChannel, type ForumStore } from 'forum-protocol';
import { downloadTokens, keysOf, tokenOf } from './fixed-grants.js';
import { transferScope } from './transfer-server-fixture.js';
import { withFile } from './store-with-file.js';
import { startTransferServer } from '../src/transfer-server.js';
import { DiskQuota } from '../src/disk-quota.js';
import { TransferActivity } from '../src/transfer-activity.js';
import { DownloadsPerUser } from '../src/downloads-per-user.js';
import { UploadsPerUser } from '../src/uploads-per-user.js';

const MiB = 1024 * 1024;

describe("a user's downloads at once", () => {
  const scope = transferScope();

  /**
   * Token `n`'s download read to the end (or the error), then closed; its first line. `finalFirst`: its final
   * record sent before it reads (within what a download's client may send; forum-client sends nothing).
   */
  const download = (port: number, n: number, finalFirst = false): Promise<string> =>
    new Promise((resolve) => {
      const socket = net.connect({ port, host: '127.0.0.1' }).on('error', () => undefined);
      scope.sockets.push(socket);
      socket.write(`${tokenOf(n)}\n`);
      const channel = new SecureTransferChannel(socket, keysOf(tokenOf(n)), 'client');
      if (finalFirst) channel.end();
      let text = '';
      const done = (): void => {
        channel.destroy();
        resolve(text.split('\n')[0] ?? '');
      };
      channel.on('data', (d: Buffer) => void (text += d.subarray(0, 200).toString('latin1'))).once('end', done).once('error', done);
    });

  it('a download its store refused is no longer counted, whatever its client sent (not until the stall limit 30 s on)', async () => {
    const dir = await scope.tempDir('downloads-per-user');
    const opened = await openFileStore(dir)();
    if (opened._tag === 'Left') throw new Error(opened.left.message);
    const store = await withFile(opened.right, MiB);
    const stat = await store.statUpload('t', 'big')();
    if (stat._tag === 'Left') throw new Error(stat.left.kind);
    // The first open is refused, as when RMV removes the thread between DWN's grant and the transfer.
    let opens = 0;
    const refusingOnce: ForumStore = {
      ...store,
      openDownload: (title, filename, incarnation) => async () => (opens++ === 0 ? { _tag: 'Left', left: { kind: 'noThread', title } } : store.openDownload(title, filename, incarnation)()),
    };
    const server = await startTransferServer(
      { store: refusingOnce, tokens: downloadTokens(stat.right.incarnation), activity: new TransferActivity(), log: (line) => void scope.log.push(line), maxUploadBytes: MiB, quota: new DiskQuota(dir, undefined), overloaded: () => undefined },
      0,
      '127.0.0.1',
      { downloadsPerUser: 1 },
    );
    scope.closers.push(() => server.close());
    expect(await download(server.port, 1, true)).toBe('ERR Thread t does not exist');
    // Its client had sent its final record, then closed: the same user's next download is served. Before, the
    // refused download stayed counted to its connection's close, which went unseen (the client's record left unread
    // in the paused socket) until the stall limit reset it 30 s on: refused, `too many downloads at once`.
    expect(await download(server.port, 2)).toBe(`OK ${MiB}`);
  }, 20_000);

  it("counts apart from the user's uploads (one PerUserCount each): a place freed in one is not the other's", () => {
    const downloads = new DownloadsPerUser(1);
    const uploads = new UploadsPerUser(1);
    const down = downloads.start('u');
    expect(uploads.start('u')).toBeDefined();
    expect(downloads.start('u')).toBeUndefined();
    down?.();
    down?.();
    expect(downloads.start('u')).toBeDefined();
    expect(downloads.start('u')).toBeUndefined();
    expect(uploads.start('u')).toBeUndefined();
    expect(downloads.refusal).toBe('too many downloads at once: a user may receive at most 1 at a time');
  });
});
