/**
 * What forum-client prints when its upload or download is refused because
 * the thread is gone: the spec's `Thread T does not exist`, as the server
 * words it, not a generic "please try again", and never a partial file.
 * Real forum-server and forum-client binaries; the transfer goes through a
 * proxy that holds one direction's bytes (the client's once the upload has
 * begun, the server's once the download has begun, or the token line before
 * the download starts), so that the thread is removed (and made again by
 * another user) while the transfer is in flight, in that order, every run.
 */
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rawClient, rawLogin, sealedExchange, type RawClient } from '../../server/test/raw-client.js';
import { answered, cleanupAfterEach, P, spawnClient, waitForEntry, type TestScope } from '../../server/test/forum-processes.js';
import { startHoldingProxy, type HeldDirection } from './holding-proxy.js';
import { serverBehindTransferProxy } from './server-behind-transfer-proxy.js';

/** A server whose advertised transfer port is a holding proxy (`holdAfter` bytes pass `direction`), and obi logged in with thread t made. */
const serverBehindProxy = async (scope: TestScope, holdAfter: number, direction: HeldDirection = 'toServer') => {
  const { proxy, server, data, cwd } = await serverBehindTransferProxy(scope, await startHoldingProxy(holdAfter, direction));
  const obi = await rawClient(server.port);
  scope.stops.push(() => void obi.close());
  await rawLogin(obi, 'obi', 'pw2');
  expect((await obi.request('c1', 'CRT', ['t'])).lines).toEqual(['Thread t created']);
  return { proxy, server, data, cwd, obi };
};

describe('forum-client: an upload whose thread is removed while it runs (real processes)', () => {
  const scope = cleanupAfterEach();

  it('prints "Thread t does not exist", as the server refuses it, and the new thread of the title gets nothing', async () => {
    // obi's thread: any user may upload to it, only obi may remove it.
    const { proxy, server, data, cwd, obi } = await serverBehindProxy(scope, 64 * 1024);
    await writeFile(join(cwd, 'big.bin'), Buffer.alloc(4 * 1024 * 1024, 7));
    const client = spawnClient(server.port, cwd);
    scope.stops.push(() => client.child.kill());
    for (const line of ['yoda', 'pw', 'UPD t big.bin']) client.send(line);
    // The server has begun the upload (its temporary file exists); the proxy holds the rest of the bytes.
    await waitForEntry(data, (n) => n.startsWith('.forum-tmp-'));
    expect((await obi.request('r', 'RMV', ['t'])).lines).toEqual(['Thread t removed']);
    const leia = await rawClient(server.port);
    scope.stops.push(() => void leia.close());
    await rawLogin(leia, 'leia', 'pw3');
    expect((await leia.request('c2', 'CRT', ['t'])).lines).toEqual(['Thread t created']);
    proxy.release();

    // Before: `Upload of big.bin failed: The server could not complete the command, please try again`.
    await client.stdout.waitFor('Thread t does not exist\n');
    client.send('XIT');
    expect(await client.exited).toBe(0);
    expect(client.stdout.text).toBe(P.user + P.newPass + 'Welcome to the forum\n' + answered(['Thread t does not exist'], ['Goodbye']));
    expect((await leia.request('d', 'RDT', ['t'])).lines).toEqual(['Thread t is empty']);
  });
});

describe('forum-client: a download whose thread is removed before or while it runs (real processes)', () => {
  const scope = cleanupAfterEach();

  /** Uploads `bytes` as `filename` to `title` for `c` straight to the server's TCP port (not through the proxy). */
  const uploadRaw = async (c: RawClient, tcpPort: number, title: string, filename: string, bytes: Buffer): Promise<void> => {
    const r = await c.request(`u-${filename}-${bytes.length}`, 'UPD', [title, filename]);
    if (r.data.kind !== 'transfer') throw new Error(`no transfer grant: ${JSON.stringify(r)}`);
    expect(await sealedExchange(tcpPort, c, r.data.token, Buffer.concat([Buffer.from(`${bytes.length}\n`), bytes]))).toBe('OK\n');
  };

  /** The client printed the spec's line for the download, exits on XIT, and kept no file. */
  const expectRefusedAndNothingKept = async (client: ReturnType<typeof spawnClient>, cwd: string): Promise<void> => {
    await client.stdout.waitFor('Thread t does not exist\n');
    client.send('XIT');
    expect(await client.exited).toBe(0);
    expect(client.stdout.text).toBe(P.user + P.newPass + 'Welcome to the forum\n' + answered(['Thread t does not exist'], ['Goodbye']));
    expect(await readdir(cwd)).toEqual([]);
  };

  it('removed mid-download: prints "Thread t does not exist" and keeps no file, not a short one', async () => {
    // The server's first 64 KiB pass, then its bytes are held: the download has begun and cannot finish.
    const { proxy, server, cwd, obi } = await serverBehindProxy(scope, 64 * 1024, 'toClient');
    // Far more than the sockets on the way hold: the server is still reading the file when RMV comes.
    await uploadRaw(obi, server.tcpPort, 't', 'big.bin', Buffer.alloc(32 * 1024 * 1024, 7));

    const client = spawnClient(server.port, cwd);
    scope.stops.push(() => client.child.kill());
    for (const line of ['yoda', 'pw', 'DWN t big.bin']) client.send(line);
    await proxy.holding;
    expect((await obi.request('r', 'RMV', ['t'])).lines).toEqual(['Thread t removed']);
    proxy.release();

    // Before: the server read on from the removed file, and the client printed `big.bin successfully downloaded`.
    await expectRefusedAndNothingKept(client, cwd);
  });

  it('granted before its thread was removed and made again with a file of that name: prints "Thread t does not exist", not the new file', async () => {
    // Nothing of the client's passes, not even its token line, until released.
    const { proxy, server, cwd, obi } = await serverBehindProxy(scope, 0);
    await uploadRaw(obi, server.tcpPort, 't', 'f.txt', Buffer.from('the old thread\n'));

    const client = spawnClient(server.port, cwd);
    scope.stops.push(() => client.child.kill());
    for (const line of ['yoda', 'pw', 'DWN t f.txt']) client.send(line);
    await proxy.holding;
    expect((await obi.request('r', 'RMV', ['t'])).lines).toEqual(['Thread t removed']);
    const leia = await rawClient(server.port);
    scope.stops.push(() => void leia.close());
    await rawLogin(leia, 'leia', 'pw3');
    expect((await leia.request('c2', 'CRT', ['t'])).lines).toEqual(['Thread t created']);
    await uploadRaw(leia, server.tcpPort, 't', 'f.txt', Buffer.from("leia's thread\n"));
    proxy.release();

    // Before: `f.txt successfully downloaded`, with leia's file.
    await expectRefusedAndNothingKept(client, cwd);
  });
});
