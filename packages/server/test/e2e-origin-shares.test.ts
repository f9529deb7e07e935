/**
 * The accounts one client host created hold together a few accounts' shares (attack round 30: one address's
 * 70 accounts took every byte of the threads and all the uploads' room), against the built forum-server: the
 * accounts of 127.0.0.9 are refused at the origin's bound in CRT, MSG and UPD, with the origin's line, while an
 * account of 127.0.0.10 still creates, posts and uploads; `--origin-shares 0` turns the bound off.
 */
import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanupAfterEach, ORIGINS_FILE } from './forum-processes.js';
import { rawClient, rawLogin, sealedTransfer, type RawClient } from './raw-client.js';

const ATTACKER = '127.0.0.9';
const OTHER = '127.0.0.10';

describe('the accounts one host created, held together (real server)', () => {
  const scope = cleanupAfterEach();

  const login = async (port: number, user: string, from: string): Promise<RawClient> => {
    const c = await rawClient(port, { localAddress: from });
    expect((await rawLogin(c, user, 'pw')).lines).toEqual(['Welcome to the forum']);
    return c;
  };
  // Each request its own id: a repeated one is answered from the reply cache, not run again.
  let sent = 0;
  const line = async (c: RawClient, cmd: 'CRT' | 'MSG', args: readonly string[]): Promise<string> => (await c.request(`r${++sent}`, cmd, args)).lines[0] ?? '';
  /** UPD of `size` bytes sent from `from`: the grant's refusal, or the transfer's answer. */
  const put = async (tcpPort: number, c: RawClient, thread: string, file: string, size: number, from: string): Promise<string> => {
    const g = await c.request(`r${++sent}`, 'UPD', [thread, file]);
    if (g.data.kind !== 'transfer') return g.lines[0] ?? '';
    const bytes = Buffer.alloc(size, 1);
    const r = await sealedTransfer(tcpPort, c, g.data.token, Buffer.concat([Buffer.from(`${size}\n`), bytes]), { localAddress: from });
    return (r.opened.toString('utf8') + r.failure).trim();
  };

  const start = (extra: readonly string[] = []) =>
    scope.startInTemp(['--max-threads-per-user', '2', '--max-thread-bytes-per-user', '2000', '--max-data-bytes', '10000000', '--max-data-bytes-per-user', '3000', '--min-free-bytes', '0', ...extra]);

  it('--origin-shares 2: CRT, MSG and UPD of the accounts of one address stop at two accounts\' shares; an account of another address still creates, posts and uploads', async () => {
    const { server } = await start(['--origin-shares', '2']);
    const port = server.port;
    const [m1, m2, m3] = [await login(port, 'm1', ATTACKER), await login(port, 'm2', ATTACKER), await login(port, 'm3', ATTACKER)] as const;
    const victim = await login(port, 'victim', OTHER);
    try {
      for (const [c, t] of [[m1, 'a1'], [m1, 'a2'], [m2, 'b1'], [m2, 'b2']] as const) expect(await line(c, 'CRT', [t])).toBe(`Thread ${t} created`);
      expect(await line(m3, 'CRT', ['c1'])).toBe('Your account and the others created from the same address have created too many threads (at most 4): remove one of theirs before creating another');
      expect(await line(victim, 'CRT', ['v'])).toBe('Thread v created');

      // Messages of 500 characters, some 510 bytes each: 3 an account (2,000), 7 the three together (4,000).
      const text = 'x'.repeat(500);
      const posted: string[] = [];
      for (const c of [m1, m2, m3]) for (let i = 0; i < 4; i++) posted.push(await line(c, 'MSG', ['a1', text]));
      expect(posted.filter((l) => l === 'Message posted to a1 thread')).toHaveLength(7);
      expect(posted.at(-1)).toBe("Your account and the others created from the same address hold as much of the forum as one address may: at most 4000 bytes of the forum's threads (delete some of their messages to make room)");
      expect(await line(victim, 'MSG', ['a1', text])).toBe('Message posted to a1 thread');

      // Uploads of 2,500 bytes: one an account (3,000), two the three together (6,000).
      expect(await put(server.tcpPort, m1, 'a2', 'f1', 2500, ATTACKER)).toBe('OK');
      expect(await put(server.tcpPort, m2, 'b1', 'f2', 2500, ATTACKER)).toBe('OK');
      expect(await put(server.tcpPort, m3, 'b2', 'f3', 2500, ATTACKER)).toBe(
        "ERR Your account and the others created from the same address hold as much of the forum's uploads as one address may: at most 6000 bytes, 1000 are left to them, this file has 2500 (remove threads of theirs to make room)",
      );
      expect(await put(server.tcpPort, victim, 'v', 'g', 2500, OTHER)).toBe('OK');
      await server.stdout.waitFor('\nvictim uploaded g to v thread\n');
      // Each account's origin as the server recorded it from the address it was created from.
      expect(await readFile(join(server.dataDir, ORIGINS_FILE), 'utf8')).toBe('m1 127.0.0.9\nm2 127.0.0.9\nm3 127.0.0.9\nvictim 127.0.0.10\n');
    } finally {
      await Promise.all([m1, m2, m3, victim].map((c) => c.close()));
    }
  }, 90_000);

  it('--origin-shares 0: the accounts of one address are held each to its own share only', async () => {
    const { server } = await start(['--origin-shares', '0']);
    const port = server.port;
    const cs = [await login(port, 'm1', ATTACKER), await login(port, 'm2', ATTACKER), await login(port, 'm3', ATTACKER)];
    try {
      for (const [i, c] of cs.entries()) for (const t of ['x', 'y']) expect(await line(c, 'CRT', [`${t}${i}`])).toBe(`Thread ${t}${i} created`);
    } finally {
      await Promise.all(cs.map((c) => c.close()));
    }
  }, 60_000);
});
