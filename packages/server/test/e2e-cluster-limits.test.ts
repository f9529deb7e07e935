/**
 * The per-account and per-host limits hold over several servers on one PostgreSQL (three servers in
 * this process, clients sent to each directly): before, each server counted in its memory, and with
 * three servers one account had 15 passwords checked in a minute where 5 are allowed, one address
 * created 30 accounts where 10 are (attack round 6), and a user could run 4 uploads on each. The bytes
 * of all uploads (`--max-data-bytes` with `--store`) are the database's too: before, nothing bounded
 * them with PostgreSQL but each file's size (attack round 12).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { UNBOUNDED_UPLOADS_WARNING } from '../src/forum-server.js';
import { pgClusterForBlock } from './pg-cluster.js';
import { rawLogin, sealedExchange, type RawClient } from './raw-client.js';
import { trickle, type TrickledUpload } from './trickle-upload.js';

/** `--max-data-bytes`: the uploads' bytes over the three servers (room for one of the 768 KiB uploads below). */
const MAX_UPLOAD_BYTES_STORED = 1024 * 1024;

describe('limits over three servers on one database', () => {
  const { server, connect, login, sql, startAnother } = pgClusterForBlock(3, 'cluster-limits', { maxDataBytes: MAX_UPLOAD_BYTES_STORED });

  it('wrong passwords of one account spread over the three servers: 5 checked in all, then throttled on each', async () => {
    const owner = await login(0, 'ann', '127.0.0.2', 'right');
    // XIT frees the account's session before its reply (a closed connection frees it later).
    await owner.request('x', 'XIT', []);
    await owner.close();
    const answers: string[] = [];
    for (let i = 0; i < 9; i++) {
      const c = await connect(i, `127.0.0.${10 + (i % 3)}`);
      answers.push((await rawLogin(c, 'ann', `guess${i}`)).lines[0] ?? '');
      await c.close();
    }
    expect(answers.slice(0, 5)).toEqual(Array<string>(5).fill('Invalid password'));
    for (const a of answers.slice(5)) expect(a).toMatch(/^Too many failed login attempts, try again in \d+ seconds$/);
  }, 60_000);

  it('one address creates 10 accounts over the three servers, then is refused on each', async () => {
    const answers: string[] = [];
    for (let i = 0; i < 13; i++) {
      const c = await connect(i, '127.0.0.20');
      answers.push((await rawLogin(c, `new${i}`, 'pw')).lines[0] ?? '');
      await c.close();
    }
    expect(answers.slice(0, 10)).toEqual(Array<string>(10).fill('Welcome to the forum'));
    for (const a of answers.slice(10)) expect(a).toMatch(/^Too many new accounts from your address, try again in \d+ seconds$/);
  }, 60_000);

  it('a user runs 4 uploads at once over the three servers in all, not 4 on each', async () => {
    const c = await login(0, 'mallory', '127.0.0.30', 'pm');
    expect((await c.request('c', 'CRT', ['m'])).lines).toEqual(['Thread m created']);
    const grant = async (id: string, file: string): Promise<string> => {
      const r = await c.request(id, 'UPD', ['m', file]);
      if (r.data.kind !== 'transfer') throw new Error(`expected a grant, got ${JSON.stringify(r)}`);
      return r.data.token;
    };
    const db = sql();
    const held: TrickledUpload[] = [];
    try {
      // One upload begun at a time (its pending row written), on servers 0, 1, 2, 0 (a token is good on any).
      for (let i = 0; i < 4; i++) {
        held.push(trickle(server(i).tcpPort, c, await grant(`u${i}`, `f${i}`), 1000));
        for (;;) {
          const rows = await db<{ n: number }[]>`SELECT count(*)::int AS n FROM uploads WHERE NOT committed`;
          if ((rows[0]?.n ?? 0) > i) break;
          if ((await Promise.race([held[i]?.answer, new Promise((r) => setTimeout(r, 20, undefined))])) !== undefined) throw new Error(`upload ${i} ended early`);
        }
      }
      // Server 2 runs one of them: counted in its memory, it would have let this one through.
      const fifth = trickle(server(2).tcpPort, c, await grant('u4', 'f4'), 1000);
      held.push(fifth);
      expect(await fifth.answer).toBe('ERR too many uploads at once: a user may send at most 4 at a time\n');
    } finally {
      for (const t of held) t.stop();
    }
  }, 60_000);

  it("one account's share of the uploads' room (--max-data-bytes-per-user): its second file past it is refused by its size line, another account's is stored (attack round 27)", async () => {
    const q = sql();
    const share = 256 * 1024;
    const shared = await startAnother({ maxDataBytes: MAX_UPLOAD_BYTES_STORED, maxDataBytesPerUser: share });
    try {
      const size = 160 * 1024;
      const put = async (c: RawClient, id: string, file: string): Promise<string> => {
        const r = await c.request(id, 'UPD', ['s', file]);
        if (r.data.kind !== 'transfer') throw new Error(`expected a grant, got ${JSON.stringify(r)}`);
        const bytes = randomBytes(size);
        return sealedExchange(shared.tcpPort, c, r.data.token, Buffer.concat([Buffer.from(`${bytes.length}\n`), bytes]));
      };
      const hog = await login(shared, 'hog', '127.0.0.41', 'ph');
      expect((await hog.request('c', 'CRT', ['s'])).lines).toEqual(['Thread s created']);
      expect(await put(hog, 'h0', 'h0')).toBe('OK\n');
      // Before the share: stored, as the forum had room (1 MiB); one account could take all of it.
      expect(await put(hog, 'h1', 'h1')).toBe(
        `ERR Your uploads hold as much of the forum as one user may: at most ${share} bytes, ${share - size} are left to you, this file has ${size} (an upload goes with its thread: remove threads of yours, or ask the creators of the other threads you uploaded to)\n`,
      );
      const other = await login(shared, 'other', '127.0.0.42', 'po');
      expect(await put(other, 'o0', 'o0')).toBe('OK\n');
      // The room given back for the test after, which counts on an empty forum.
      expect((await hog.request('r', 'RMV', ['s'])).lines).toEqual(['Thread s removed']);
      await vi.waitFor(async () => expect(await q`SELECT bytes::int AS bytes FROM upload_bytes`).toEqual([{ bytes: 0 }]), { timeout: 5_000, interval: 20 });
    } finally {
      await shared.close();
    }
  }, 30_000);

  it('the bytes of uploads: one through server 0, then one through server 1 that would pass the limit is refused by its announced size; room back after RMV', async () => {
    const c = await login(0, 'uploader', '127.0.0.40', 'pu');
    expect((await c.request('c', 'CRT', ['b'])).lines).toEqual(['Thread b created']);
    const upload = async (id: string, file: string, through: number): Promise<string> => {
      const r = await c.request(id, 'UPD', ['b', file]);
      if (r.data.kind !== 'transfer') throw new Error(`expected a grant, got ${JSON.stringify(r)}`);
      const bytes = randomBytes((3 * MAX_UPLOAD_BYTES_STORED) / 4);
      return sealedExchange(server(through).tcpPort, c, r.data.token, Buffer.concat([Buffer.from(`${bytes.length}\n`), bytes]));
    };
    expect(await upload('u0', 'f0', 0)).toBe('OK\n');
    // Each server on its own would have had room for it; refused by its size line, as the data directory's quota refuses.
    const full = `ERR The forum's uploads are full: they hold at most ${MAX_UPLOAD_BYTES_STORED} bytes, ${MAX_UPLOAD_BYTES_STORED / 4} are free, this file has ${(3 * MAX_UPLOAD_BYTES_STORED) / 4} (remove threads to make room)\n`;
    expect(await upload('u1', 'f1', 1)).toBe(full);
    // The size line alone is refused: before, the server took the bytes until they passed the limit (here it said 'only 0 of … arrived').
    const announced = await c.request('u1b', 'UPD', ['b', 'f1b']);
    if (announced.data.kind !== 'transfer') throw new Error(`expected a grant, got ${JSON.stringify(announced)}`);
    expect(await sealedExchange(server(2).tcpPort, c, announced.data.token, `${(3 * MAX_UPLOAD_BYTES_STORED) / 4}\n`)).toBe(full);
    const db = sql();
    expect(await db`SELECT count(*)::int AS n FROM uploads WHERE NOT committed`).toEqual([{ n: 0 }]);
    expect((await c.request('r', 'RMV', ['b'])).lines).toEqual(['Thread b removed']);
    expect((await c.request('c2', 'CRT', ['b'])).lines).toEqual(['Thread b created']);
    // The removed thread's bytes count until the sweep that server 0 began after its reply has deleted them (schema 8).
    await vi.waitFor(async () => expect(await db`SELECT bytes::int AS bytes FROM upload_bytes`).toEqual([{ bytes: 0 }]), { timeout: 5_000, interval: 20 });
    expect(await upload('u2', 'f2', 1)).toBe('OK\n');
  }, 30_000);

  it('a server on the database without --max-data-bytes warns at start that nothing bounds the uploads there', async () => {
    const warned: string[] = [];
    const start = async (maxDataBytes?: number): Promise<void> => {
      const s = await startAnother({ ...(maxDataBytes === undefined ? {} : { maxDataBytes }), warn: (line) => void warned.push(line) });
      await s.close();
    };
    await start(MAX_UPLOAD_BYTES_STORED);
    expect(warned).toEqual([]);
    await start();
    expect(warned).toEqual([`Warning: ${UNBOUNDED_UPLOADS_WARNING}`]);
  }, 30_000);
});
