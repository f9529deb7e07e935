/**
 * Disk and transfer slots (issue 15, finding 6) against the built binaries:
 * --max-upload-bytes and --max-data-bytes refuse with a clear line and leave
 * no partial file; a thread at its line limit refuses an upload as it
 * refuses a MSG; and silent connections from many hosts cannot keep a
 * token holder out of the transfer port.
 */
import { MAX_THREAD_ENTRIES } from 'forum-protocol';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach, runClient, seededBytes, snapshotDir, startServer, tempDir } from './forum-processes.js';
import { rawClient, rawLogin, sealedExchange, sealedTransfer, type RawClient } from './raw-client.js';

const grant = async (c: RawClient, id: string, cmd: 'UPD' | 'DWN', args: readonly string[]): Promise<string> => {
  const r = await c.request(id, cmd, args);
  if (r.data.kind !== 'transfer') throw new Error(`expected a grant, got ${JSON.stringify(r)}`);
  return r.data.token;
};

describe('transfer limits (real server)', () => {
  const scope = cleanupAfterEach();

  it('--max-upload-bytes: a larger file is refused with a clear line (client and raw), before a byte is stored', async () => {
    const { server, cwd } = await scope.startInTemp(['--max-upload-bytes', '1000']);
    await writeFile(join(cwd, 'big.bin'), seededBytes(2000, 1));
    await writeFile(join(cwd, 'small.bin'), seededBytes(1000, 2));
    const r = await runClient(server.port, cwd, ['alice', 'pw', 'CRT t', 'UPD t big.bin', 'UPD t small.bin', 'XIT']);
    expect(r.stdout).toContain('Upload of big.bin failed: file too large: 2000 bytes, the server accepts at most 1000\n');
    expect(r.stdout).toContain('small.bin uploaded to t thread\n');
    const c = await rawClient(server.port);
    try {
      await rawLogin(c, 'alice', 'pw');
      const token = await grant(c, 'u', 'UPD', ['t', 'huge']);
      // Announcing the size is enough: nothing of the body needs to be sent.
      expect(await sealedExchange(server.tcpPort, c, token, '999999999999\n')).toBe('ERR file too large: 999999999999 bytes, the server accepts at most 1000\n');
    } finally {
      await c.close();
    }
    expect([...(await snapshotDir(server.dataDir)).keys()]).toEqual(['credentials.txt', 't', 't-small.bin']);
  }, 60_000);

  it('--max-data-bytes: an upload that would pass the quota is refused, nothing partial stays, and room comes back after RMV', async () => {
    const { server } = await scope.startInTemp(['--max-data-bytes', '10000']);
    const c = await rawClient(server.port);
    try {
      await rawLogin(c, 'alice', 'pw');
      expect((await c.request('c', 'CRT', ['t'])).lines).toEqual(['Thread t created']);
      const body = seededBytes(6000, 3);
      const first = await grant(c, 'u1', 'UPD', ['t', 'one']);
      expect(await sealedExchange(server.tcpPort, c, first, Buffer.concat([Buffer.from('6000\n'), body]))).toBe('OK\n');
      const second = await grant(c, 'u2', 'UPD', ['t', 'two']);
      const refused = await sealedExchange(server.tcpPort, c, second, Buffer.concat([Buffer.from('6000\n'), body]));
      expect(refused).toMatch(/^ERR disk quota exceeded: the server stores at most 10000 bytes, [0-9]+ are free, this file has 6000\n$/);
      expect([...(await snapshotDir(server.dataDir)).keys()]).toEqual(['credentials.txt', 't', 't-one']);
      // Two uploads at once that each fit but not together: only one gets the room.
      expect((await c.request('r', 'RMV', ['t'])).lines).toEqual(['Thread t removed']);
      expect((await c.request('c2', 'CRT', ['t'])).lines).toEqual(['Thread t created']);
      const a = await grant(c, 'u3', 'UPD', ['t', 'a']);
      const b = await grant(c, 'u4', 'UPD', ['t', 'b']);
      const answers = await Promise.all([a, b].map((tok) => sealedExchange(server.tcpPort, c, tok, Buffer.concat([Buffer.from('6000\n'), body]))));
      expect(answers.filter((x) => x === 'OK\n')).toHaveLength(1);
      expect(answers.filter((x) => x.startsWith('ERR disk quota exceeded'))).toHaveLength(1);
    } finally {
      await c.close();
    }
  }, 60_000);

  it("--max-data-bytes-per-user on the data directory: one account's two uploads at once over two connections, only one within its share; another account's stored; RMV gives it back (attack round 27)", async () => {
    const { server } = await scope.startInTemp(['--max-data-bytes', '100000', '--max-data-bytes-per-user', '10000']);
    const alice = await rawClient(server.port);
    const bob = await rawClient(server.port);
    try {
      await rawLogin(alice, 'alice', 'pa');
      await rawLogin(bob, 'bob', 'pb');
      expect((await alice.request('c', 'CRT', ['t'])).lines).toEqual(['Thread t created']);
      const body = Buffer.concat([Buffer.from('6000\n'), seededBytes(6000, 5)]);
      const tokens = [await grant(alice, 'u1', 'UPD', ['t', 'a']), await grant(alice, 'u2', 'UPD', ['t', 'b'])];
      const answers = await Promise.all(tokens.map((tok) => sealedExchange(server.tcpPort, alice, tok, body)));
      expect(answers.filter((x) => x === 'OK\n')).toHaveLength(1);
      expect(answers.filter((x) => x !== 'OK\n')).toEqual([
        'ERR Your uploads hold as much of the forum as one user may: at most 10000 bytes, 4000 are left to you, this file has 6000 (an upload goes with its thread: remove threads of yours, or ask the creators of the other threads you uploaded to)\n',
      ]);
      // Another account's upload, to alice's thread: the forum has room, and bob's share is his own.
      expect(await sealedExchange(server.tcpPort, bob, await grant(bob, 'u3', 'UPD', ['t', 'c']), body)).toBe('OK\n');
      expect((await alice.request('r', 'RMV', ['t'])).lines).toEqual(['Thread t removed']);
      expect((await alice.request('c2', 'CRT', ['t2'])).lines).toEqual(['Thread t2 created']);
      expect(await sealedExchange(server.tcpPort, alice, await grant(alice, 'u4', 'UPD', ['t2', 'd']), body)).toBe('OK\n');
      expect([...(await snapshotDir(server.dataDir)).keys()].sort()).toEqual(['credentials.txt', 't2', 't2-d']);
    } finally {
      await alice.close();
      await bob.close();
    }
  }, 60_000);

  it("--max-data-bytes alone on the data directory gives each account 1/16 of it (at least 1 MiB): a file past that is refused by its size line", async () => {
    const MiB = 1024 * 1024;
    const { server } = await scope.startInTemp(['--max-data-bytes', String(32 * MiB)]);
    const c = await rawClient(server.port);
    try {
      await rawLogin(c, 'alice', 'pa');
      expect((await c.request('c', 'CRT', ['t'])).lines).toEqual(['Thread t created']);
      const size = 2 * MiB + 1;
      const answer = await sealedExchange(server.tcpPort, c, await grant(c, 'u1', 'UPD', ['t', 'big']), Buffer.concat([Buffer.from(`${size}\n`), seededBytes(size, 6)]));
      expect(answer).toBe(`ERR Your uploads hold as much of the forum as one user may: at most ${2 * MiB} bytes, ${2 * MiB} are left to you, this file has ${size} (an upload goes with its thread: remove threads of yours, or ask the creators of the other threads you uploaded to)\n`);
      expect([...(await snapshotDir(server.dataDir)).keys()]).toEqual(['credentials.txt', 't']);
    } finally {
      await c.close();
    }
  }, 60_000);

  it('--min-free-bytes: an upload that would leave less free space on the disk is refused with a clear line, whoever sends it', async () => {
    const { server, cwd } = await scope.startInTemp(['--min-free-bytes', String(Number.MAX_SAFE_INTEGER)]);
    // Said once at start too.
    expect(server.stderr.text).toMatch(new RegExp(`Warning: the disk of the forum's files has [0-9]+ bytes free, under --min-free-bytes ${Number.MAX_SAFE_INTEGER}: every upload will be refused`));
    await writeFile(join(cwd, 'f.bin'), seededBytes(100, 4));
    const r = await runClient(server.port, cwd, ['alice', 'pw', 'CRT t', 'UPD t f.bin', 'XIT']);
    expect(r.stdout).toMatch(new RegExp(`Upload of f\\.bin failed: disk nearly full: the server keeps ${Number.MAX_SAFE_INTEGER} bytes free, 0 can be used, this file has 100\n`));
    expect([...(await snapshotDir(server.dataDir)).keys()]).toEqual(['credentials.txt', 't']);
  }, 60_000);

  it('a thread at its line limit: UPD is refused with the line MSG gets, before a byte is sent; an upload granted before it filled is refused too, and leaves no file', async () => {
    const data = await tempDir('data');
    const cwd = await tempDir('cwd');
    scope.dirs.push(data, cwd);
    // Room for one line more.
    const lines = Array.from({ length: MAX_THREAD_ENTRIES - 1 }, (_, i) => `${i + 1} alice: ${i % 10}\n`);
    await writeFile(join(data, 't'), `alice\n${lines.join('')}`);
    const server = await startServer(data);
    scope.servers.push(server);
    const full = 'Thread t is full: it cannot grow any longer (delete or shorten messages, or start a new thread)';
    const c = await rawClient(server.port);
    try {
      await rawLogin(c, 'bob', 'pw');
      const token = await grant(c, 'u', 'UPD', ['t', 'late.bin']);
      expect((await c.request('m', 'MSG', ['t', 'last'])).lines).toEqual(['Message posted to t thread']);
      // Checked again when the upload begins: refused before its bytes are stored.
      expect(await sealedExchange(server.tcpPort, c, token, '4\nlate')).toBe(`ERR ${full}\n`);
      // And the operator reads why, as for a file too large.
      await server.stdout.waitFor(`Upload of late.bin by bob refused: ${full}\n`);
    } finally {
      await c.close();
    }
    await writeFile(join(cwd, 'f.bin'), seededBytes(100, 5));
    const r = await runClient(server.port, cwd, ['alice', 'pw', 'UPD t f.bin', 'MSG t more', 'XIT']);
    // The UPD's reply itself, as the MSG after it: no transfer was started.
    expect(r.stdout.split('\n').filter((l) => l.endsWith(full))).toHaveLength(2);
    expect(r.stdout).not.toContain('Upload of f.bin');
    expect(r.stdout).not.toContain('f.bin uploaded');
    expect([...(await snapshotDir(data)).keys()]).toEqual(['credentials.txt', 't']);
  }, 60_000);

  it('a finished download frees its transfer slot at once: one host downloads 40 times in a row, past its 16 slots', async () => {
    const { server } = await scope.startInTemp();
    const c = await rawClient(server.port);
    try {
      await rawLogin(c, 'alice', 'pw');
      await c.request('c', 'CRT', ['t']);
      expect(await sealedExchange(server.tcpPort, c, await grant(c, 'u', 'UPD', ['t', 'f']), '5\nhello')).toBe('OK\n');
      // Each download closes its connection as soon as the server's final record arrives: without a final
      // record of its own, or with one sent first (half-closed for the whole download). A server that
      // left the client's side unread (paused after the token line) missed the first kind of close and
      // kept each such connection, and its slot, until the 30 s stall timeout: the host's 17th such
      // download within that time was refused.
      for (let i = 0; i < 40; i++) {
        const token = await grant(c, `d${i}`, 'DWN', ['t', 'f']);
        const answer = await sealedTransfer(server.tcpPort, c, token, '', { final: i % 2 === 0 });
        expect(answer.opened.toString('utf8') + answer.failure, `download ${i}`).toBe('OK 5\nhello');
      }
    } finally {
      await c.close();
    }
  }, 60_000);

  it('16 silent connections from each of 40 loopback addresses, renewed as they are closed: a legitimate upload still succeeds', async () => {
    const { server, cwd } = await scope.startInTemp();
    await writeFile(join(cwd, 'doc.bin'), seededBytes(200_000, 4));
    let attacking = true;
    let evicted = 0;
    let onEvicted = (): void => undefined;
    const live = new Set<net.Socket>();
    const silent = (localAddress: string): Promise<void> =>
      new Promise((resolve) => {
        const s = net.connect({ port: server.tcpPort, host: '127.0.0.1', localAddress }, () => resolve());
        live.add(s);
        s.on('error', () => resolve());
        s.on('close', () => {
          live.delete(s);
          if (!attacking) return;
          evicted++;
          onEvicted();
          // The attacker comes straight back.
          setTimeout(() => void silent(localAddress), 5);
        });
      });
    const hosts = Array.from({ length: 40 }, (_, i) => `127.0.0.${i + 1}`);
    await Promise.all(hosts.flatMap((h) => Array.from({ length: 16 }, () => silent(h))));
    try {
      // 640 silent connections ask for 512 slots: once the server has seen them all it has evicted at least 128.
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${evicted} evictions`)), 30_000);
        onEvicted = () => {
          if (evicted >= 128) {
            clearTimeout(timer);
            resolve();
          }
        };
        onEvicted();
      });
      const r = await runClient(server.port, cwd, ['alice', 'pw', 'CRT t', 'UPD t doc.bin', 'XIT']);
      expect(r.stdout).toContain('doc.bin uploaded to t thread\n');
      expect((await snapshotDir(server.dataDir)).get('t-doc.bin')?.equals(seededBytes(200_000, 4))).toBe(true);
    } finally {
      attacking = false;
      for (const s of live) s.destroy();
    }
  }, 120_000);
});
