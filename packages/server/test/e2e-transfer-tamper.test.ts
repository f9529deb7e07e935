/**
 * File transfers through an on-path TCP relay that records every byte and can flip one
 * (real forum-server process; the client side is forum-client's own transfer code). A
 * flipped byte either way fails the transfer and leaves no file; the relay never sees
 * the file's bytes.
 */
import { deriveTransferKeys, sessionExporter } from 'forum-protocol';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { downloadFile, uploadFile } from '../../client/src/transfer.js';
import { cleanupAfterEach, seededBytes, type ServerProc, startServer, tempDir, waitForNoEntry, walkTree } from './forum-processes.js';
import { rawClient, rawLogin, type RawClient } from './raw-client.js';

interface Relay {
  readonly port: number;
  /** Every byte seen, both directions. */
  seen(): Buffer;
  /** Flip one bit of the byte at `offset` of the next connection's `direction` stream. */
  flipNext(direction: 'up' | 'down', offset: number): void;
  close(): Promise<void>;
}

const startRelay = async (target: number): Promise<Relay> => {
  const seen: Buffer[] = [];
  let flip: { direction: 'up' | 'down'; offset: number } | undefined;
  const sockets = new Set<net.Socket>();
  const pump = (from: net.Socket, to: net.Socket, flipAt: number | undefined): void => {
    let at = 0;
    from.on('data', (chunk: Buffer) => {
      const c = Buffer.from(chunk);
      if (flipAt !== undefined && flipAt >= at && flipAt < at + c.length) c[flipAt - at] = (c[flipAt - at] ?? 0) ^ 0x04;
      at += c.length;
      seen.push(c);
      to.write(c);
    });
    from.on('end', () => to.end());
    from.on('close', () => to.destroy());
    from.on('error', () => undefined);
  };
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const upstream = net.connect({ port: target, host: '127.0.0.1', allowHalfOpen: true });
    sockets.add(client).add(upstream);
    const f = flip;
    flip = undefined;
    pump(client, upstream, f?.direction === 'up' ? f.offset : undefined);
    pump(upstream, client, f?.direction === 'down' ? f.offset : undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    seen: () => Buffer.concat(seen),
    flipNext: (direction, offset) => void (flip = { direction, offset }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
};

const SILENT = { add: () => undefined, stop: () => undefined };

describe('transfers through a byte-flipping relay (real server process)', () => {
  const { dirs, closers } = cleanupAfterEach();

  it('a flipped byte fails an upload or a download and leaves no file; the relay never sees the content', async () => {
    const root = await tempDir('tamper');
    dirs.push(root);
    const data = join(root, 'data');
    const cwd = join(root, 'cwd');
    await mkdir(data);
    await mkdir(cwd);
    const server: ServerProc = await startServer(data);
    closers.push(() => server.stop());
    const c: RawClient = await rawClient(server.port);
    closers.push(() => c.close());
    await rawLogin(c, 'yoda', 'pw');
    await c.request('c', 'CRT', ['t']);
    const relay = await startRelay(server.tcpPort);
    closers.push(() => relay.close());

    const marker = Buffer.from('TOP-SECRET-FILE-CONTENT');
    const content = Buffer.concat([marker, seededBytes(200_000, 7), marker]);
    const path = join(root, 'local.bin');
    await writeFile(path, content);
    const grant = async (id: string, cmd: 'UPD' | 'DWN'): Promise<string> => {
      const r = await c.request(id, cmd, ['t', 'up.bin']);
      if (r.data.kind !== 'transfer') throw new Error(JSON.stringify(r));
      return r.data.token;
    };
    const keysOf = (token: string) => deriveTransferKeys(sessionExporter(c.conn), token);

    // Upload with one bit flipped in the middle of the body: refused, nothing stored.
    const t1 = await grant('u1', 'UPD');
    relay.flipNext('up', 100_000);
    const tampered = await uploadFile('127.0.0.1', relay.port, t1, keysOf(t1), path, content.length, SILENT);
    expect(tampered.ok).toBe(false);
    // The client learns of the failure when the server drops the connection, which may be just before the
    // server has removed its temporary file: wait for that removal (bounded), then nothing else may be left.
    await waitForNoEntry(data, (name) => name.startsWith('.forum-tmp-'));
    expect(await walkTree(data)).toEqual(['credentials.txt', 't']);
    // The same upload untouched: stored intact (so the relay itself is not what failed it).
    const t2 = await grant('u2', 'UPD');
    expect(await uploadFile('127.0.0.1', relay.port, t2, keysOf(t2), path, content.length, SILENT)).toEqual({ ok: true });
    expect(Buffer.compare(await readFile(join(data, 't-up.bin')), content)).toBe(0);

    // Download with one bit flipped: fails as an authentication failure, no file, no temporary.
    const t3 = await grant('d1', 'DWN');
    relay.flipNext('down', 150_000);
    const broken = await downloadFile('127.0.0.1', relay.port, t3, keysOf(t3), cwd, 'got.bin', () => SILENT);
    expect(broken.ok).toBe(false);
    expect('reason' in broken ? broken.reason : '').toContain('failed authentication');
    expect(await readdir(cwd)).toEqual([]);
    // A flip in the status record (the first bytes after the token line) fails too.
    const t4 = await grant('d2', 'DWN');
    relay.flipNext('down', 5);
    expect((await downloadFile('127.0.0.1', relay.port, t4, keysOf(t4), cwd, 'got.bin', () => SILENT)).ok).toBe(false);
    expect(await readdir(cwd)).toEqual([]);
    // Untouched: arrives intact.
    const t5 = await grant('d3', 'DWN');
    expect(await downloadFile('127.0.0.1', relay.port, t5, keysOf(t5), cwd, 'got.bin', () => SILENT)).toEqual({ ok: true });
    expect(Buffer.compare(await readFile(join(cwd, 'got.bin')), content)).toBe(0);

    // At least the two intact transfers and each tampered stream up to its flipped byte crossed the relay
    // (how much more a failed transfer sends before the peer hangs up depends on timing); the content
    // never appeared in clear.
    expect(relay.seen().length).toBeGreaterThan(2 * content.length + 100_000 + 150_000);
    expect(relay.seen().includes(marker)).toBe(false);
    expect(relay.seen().includes(seededBytes(200_000, 7).subarray(1000, 1064))).toBe(false);
    expect(server.child.exitCode).toBeNull();
  });
});
