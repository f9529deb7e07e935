/**
 * One account must not hold the disk room of everyone's uploads (security
 * finding: eight uploads announcing 1 GiB each, trickling a byte every 20 s,
 * held the whole free-space budget and every other upload was refused "disk
 * nearly full"). Against the built server, with a 100 MiB quota standing in
 * for the free space: uploads announcing 95 MiB each that send one byte hold
 * a first piece only, a user runs at most 4 uploads at once, another user's
 * 10 MiB upload goes through, and an honest upload larger than any piece is
 * reserved piece by piece to the end.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach, seededBytes, snapshotDir, waitForEntries } from './forum-processes.js';
import { rawClient, rawLogin, sealedExchange, type RawClient } from './raw-client.js';
import { trickle, type TrickledUpload } from './trickle-upload.js';

const MiB = 1024 * 1024;
const isTemp = (name: string): boolean => name.startsWith('.forum-tmp-');

const grant = async (c: RawClient, id: string, args: readonly string[]): Promise<string> => {
  const r = await c.request(id, 'UPD', args);
  if (r.data.kind !== 'transfer') throw new Error(`expected a grant, got ${JSON.stringify(r)}`);
  return r.data.token;
};

/** Resolves once `dir` holds `n` upload temporary files (an upload's bytes are being stored); rejects after 15 s. */
const waitForTemps = (dir: string, n: number): Promise<void> =>
  waitForEntries(dir, (names) => names.filter(isTemp).length >= n, `fewer than ${n} uploads in progress in ${dir}`);

describe('upload disk room (real server)', () => {
  const scope = cleanupAfterEach();

  it("trickling uploads announcing nearly the whole quota hold a first piece only, at most 4 per user: another user's upload goes through", async () => {
    // The share per account past the quota (its uploads in progress hold their announced sizes of it, 4 × 95 MiB):
    // what is tested here is the quota's reservation, not the share.
    const { server } = await scope.startInTemp(['--max-data-bytes', String(100 * MiB), '--max-data-bytes-per-user', String(400 * MiB)]);
    const mallory = await rawClient(server.port);
    const alice = await rawClient(server.port);
    try {
      await rawLogin(mallory, 'mallory', 'pm');
      await rawLogin(alice, 'alice', 'pa');
      expect((await mallory.request('c', 'CRT', ['m'])).lines).toEqual(['Thread m created']);
      expect((await alice.request('c', 'CRT', ['a'])).lines).toEqual(['Thread a created']);
      const held: TrickledUpload[] = [];
      for (let i = 0; i < 4; i++) {
        const t = trickle(server.tcpPort, mallory, await grant(mallory, `u${i}`, ['m', `big${i}`]), 95 * MiB);
        held.push(t);
        scope.stops.push(t.stop);
        // Each is past its reservation once its temporary file exists (before: the second was refused, the quota held by the first).
        await waitForTemps(server.dataDir, i + 1);
      }
      const fifth = trickle(server.tcpPort, mallory, await grant(mallory, 'u4', ['m', 'big4']), 95 * MiB);
      scope.stops.push(fifth.stop);
      expect(await fifth.answer).toBe('ERR too many uploads at once: a user may send at most 4 at a time\n');
      const body = seededBytes(10 * MiB, 7);
      expect(await sealedExchange(server.tcpPort, alice, await grant(alice, 'a1', ['a', 'small.bin']), Buffer.concat([Buffer.from(`${body.length}\n`), body]))).toBe('OK\n');
      // The stored file alone: the stopped uploads' temporary files are being deleted meanwhile.
      expect((await readFile(join(server.dataDir, 'a-small.bin'))).equals(body)).toBe(true);
      for (const t of held) t.stop();
    } finally {
      await mallory.close();
      await alice.close();
    }
  }, 60_000);

  it('an honest upload larger than the pieces is reserved piece by piece and stored whole; one that cannot fit is still refused before its bytes', async () => {
    const { server } = await scope.startInTemp(['--max-data-bytes', String(80 * MiB), '--max-data-bytes-per-user', String(80 * MiB)]);
    const c = await rawClient(server.port);
    try {
      await rawLogin(c, 'alice', 'pa');
      expect((await c.request('c', 'CRT', ['t'])).lines).toEqual(['Thread t created']);
      const body = seededBytes(70 * MiB, 8);
      expect(await sealedExchange(server.tcpPort, c, await grant(c, 'u1', ['t', 'big.bin']), Buffer.concat([Buffer.from(`${body.length}\n`), body]))).toBe('OK\n');
      expect((await snapshotDir(server.dataDir)).get('t-big.bin')?.equals(body)).toBe(true);
      const refused = await sealedExchange(server.tcpPort, c, await grant(c, 'u2', ['t', 'more.bin']), `${20 * MiB}\n`);
      expect(refused).toMatch(/^ERR disk quota exceeded: the server stores at most 83886080 bytes, [0-9]+ are free, this file has 20971520\n$/);
    } finally {
      await c.close();
    }
  }, 60_000);
});
