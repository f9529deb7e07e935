/**
 * The accounts one client host created, held together over two servers on one PostgreSQL (attack round 30):
 * accounts of 127.0.0.9 made and used through either server are refused at two accounts' shares in CRT and
 * UPD with the origin's lines, while an account of 127.0.0.10 still creates and uploads.
 */
import { describe, expect, it } from 'vitest';
import { pgClusterForBlock } from './pg-cluster.js';
import { sealedExchange, type RawClient } from './raw-client.js';

const SHARE = 100_000;

describe('the accounts of one host over two servers on one database', () => {
  const { server, login, sql } = pgClusterForBlock(2, 'cluster-origin', { maxDataBytes: 100 * SHARE, maxDataBytesPerUser: SHARE, maxThreadsPerUser: 2, originShares: 2 });
  let sent = 0;
  const crt = async (c: RawClient, title: string): Promise<string> => (await c.request(`r${++sent}`, 'CRT', [title])).lines[0] ?? '';
  const upload = async (c: RawClient, through: number, thread: string, file: string, size: number): Promise<string> => {
    const r = await c.request(`r${++sent}`, 'UPD', [thread, file]);
    if (r.data.kind !== 'transfer') return r.lines[0] ?? '';
    return (await sealedExchange(server(through).tcpPort, c, r.data.token, Buffer.concat([Buffer.from(`${size}\n`), Buffer.alloc(size, 7)]))).trim();
  };

  it('CRT and UPD of three accounts of 127.0.0.9 stop at two accounts\' shares over both servers; an account of 127.0.0.10 goes on', async () => {
    const m = [await login(0, 'm0', '127.0.0.9'), await login(1, 'm1', '127.0.0.9'), await login(0, 'm2', '127.0.0.9')];
    const victim = await login(1, 'victim', '127.0.0.10');
    const db = sql();
    expect(await db`SELECT username, origin FROM accounts ORDER BY username`).toEqual([
      { username: 'm0', origin: '127.0.0.9' },
      { username: 'm1', origin: '127.0.0.9' },
      { username: 'm2', origin: '127.0.0.9' },
      { username: 'victim', origin: '127.0.0.10' },
    ]);
    const [m0, m1, m2] = m as [RawClient, RawClient, RawClient];
    for (const [c, t] of [[m0, 'a0'], [m0, 'a1'], [m1, 'b0'], [m1, 'b1']] as const) expect(await crt(c, t)).toBe(`Thread ${t} created`);
    expect(await crt(m2, 'c0')).toBe('Your account and the others created from the same address have created too many threads (at most 4): remove one of theirs before creating another');
    expect(await crt(victim, 'v')).toBe('Thread v created');

    // 80,000 bytes each: one an account, two the origin's 200,000.
    expect(await upload(m0, 1, 'a0', 'f0', 80_000)).toBe('OK');
    expect(await upload(m1, 0, 'b0', 'f1', 80_000)).toBe('OK');
    expect(await upload(m2, 1, 'a1', 'f2', 80_000)).toBe(
      "ERR Your account and the others created from the same address hold as much of the forum's uploads as one address may: at most 200000 bytes, 40000 are left to them, this file has 80000 (remove threads of theirs to make room)",
    );
    expect(await upload(victim, 0, 'v', 'g', 80_000)).toBe('OK');
  }, 60_000);
});
