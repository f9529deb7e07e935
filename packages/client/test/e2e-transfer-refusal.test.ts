/**
 * What forum-client prints when its upload is refused because the thread is
 * gone: the spec's `Thread T does not exist`, as the server words it, not a
 * generic "please try again". Real forum-server and forum-client binaries;
 * the transfer goes through a proxy that holds the client's bytes once the
 * upload has begun, so that the thread is removed (and made again by another
 * user) while the upload is in flight, in that order, every run.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rawClient, rawLogin } from '../../server/test/raw-client.js';
import { answered, cleanupAfterEach, P, spawnClient, startServer, tempDir, waitForEntry } from '../../server/test/forum-processes.js';
import { startHoldingProxy } from './holding-proxy.js';

describe('forum-client: an upload whose thread is removed while it runs (real processes)', () => {
  const scope = cleanupAfterEach();

  it('prints "Thread t does not exist", as the server refuses it, and the new thread of the title gets nothing', async () => {
    const proxy = await startHoldingProxy(64 * 1024);
    scope.stops.push(() => void proxy.close());
    const [data, cwd] = [await tempDir('data'), await tempDir('cwd')];
    scope.dirs.push(data, cwd);
    const server = await startServer(data, ['--advertised-transfer-port', String(proxy.port)]);
    scope.servers.push(server);
    proxy.target(server.tcpPort);
    await writeFile(join(cwd, 'big.bin'), Buffer.alloc(4 * 1024 * 1024, 7));

    // obi's thread: any user may upload to it, only obi may remove it.
    const obi = await rawClient(server.port);
    scope.stops.push(() => void obi.close());
    await rawLogin(obi, 'obi', 'pw2');
    expect((await obi.request('c1', 'CRT', ['t'])).lines).toEqual(['Thread t created']);
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
