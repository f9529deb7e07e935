/**
 * Account creation is rate-limited per client host (issue 15, finding 5),
 * against the built forum-server: sequentially, all at once with
 * --hash-passwords (creations in flight count), by default, and turned off.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach, startServer } from './forum-processes.js';
import { rawClient, rawLogin, type RawClient } from './raw-client.js';

const LIMITED = /^Too many new accounts from your address, try again in [0-9]+ seconds?$/;
const accountLines = async (dir: string): Promise<string[]> => (await readFile(join(dir, 'credentials.txt'), 'utf8').catch(() => '')).split('\n').filter((l) => l !== '');

/** Creates `names` one after another, each on its own connection; resolves with each first reply line. */
const createInTurn = async (port: number, names: readonly string[]): Promise<string[]> => {
  const out: string[] = [];
  for (const n of names) {
    const c = await rawClient(port);
    try {
      out.push((await rawLogin(c, n, 'pw')).lines[0] ?? '');
    } finally {
      await c.close();
    }
  }
  return out;
};

describe('account creation limit per host (real server)', () => {
  const scope = cleanupAfterEach();

  it('--account-limit 3: the 4th new account from the host is refused with a clear line; existing accounts still log in', async () => {
    const { server } = await scope.startInTemp(['--account-limit', '3', '--account-window', '600']);
    const replies = await createInTurn(server.port, ['a1', 'a2', 'a3', 'a4', 'a5']);
    expect(replies.slice(0, 3)).toEqual(['Welcome to the forum', 'Welcome to the forum', 'Welcome to the forum']);
    expect(replies[3]).toMatch(LIMITED);
    expect(replies[4]).toMatch(LIMITED);
    // Waited for, not read once: the log line and the reply reach this process by separate ways (e2e-transfer-port's race).
    await server.stdout.waitFor('\nAccount creation of a4 throttled\n');
    expect((await createInTurn(server.port, ['a1']))[0]).toBe('Welcome to the forum');
    expect(await accountLines(server.dataDir)).toEqual(['a1 pw', 'a2 pw', 'a3 pw']);
  }, 60_000);

  it('20 creations sent at once with --hash-passwords: exactly the limit are created (creations in flight count)', async () => {
    const { server } = await scope.startInTemp(['--hash-passwords', '--account-limit', '3']);
    const clients: RawClient[] = await Promise.all(Array.from({ length: 20 }, () => rawClient(server.port)));
    try {
      await Promise.all(clients.map((c, i) => c.request(`u${i}`, 'username', [`new${i}`])));
      const replies = await Promise.all(clients.map((c, i) => c.request(`p${i}`, 'newPassword', ['pw'])));
      expect(replies.filter((r) => r.lines[0] === 'Welcome to the forum')).toHaveLength(3);
      expect(replies.filter((r) => LIMITED.test(r.lines[0] ?? ''))).toHaveLength(17);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
    expect(await accountLines(server.dataDir)).toHaveLength(3);
  }, 60_000);

  it('by default 10 new accounts per host; --account-limit 0 turns the limit off', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `d${i}`);
    const { server } = await scope.startInTemp();
    const replies = await createInTurn(server.port, names);
    expect(replies.filter((l) => l === 'Welcome to the forum')).toHaveLength(10);
    expect(replies.slice(10).every((l) => LIMITED.test(l))).toBe(true);
    const off = await scope.startInTemp(['--account-limit', '0']);
    expect((await createInTurn(off.server.port, names)).every((l) => l === 'Welcome to the forum')).toBe(true);
  }, 60_000);
});

describe('accounts in all (real server)', () => {
  const scope = cleanupAfterEach();

  it('--max-accounts 3: a new account past it is refused with the line, also after a restart; existing accounts log in', async () => {
    // Attack round 14: accounts are never removed and the data directory keeps each in memory; no limit before.
    const { server } = await scope.startInTemp(['--max-accounts', '3', '--account-limit', '0']);
    const replies = await createInTurn(server.port, ['m1', 'm2', 'm3', 'm4']);
    expect(replies).toEqual(['Welcome to the forum', 'Welcome to the forum', 'Welcome to the forum', 'The forum is full: it has at most 3 accounts, so no new account can be made']);
    expect(server.lines()).toContain('Account creation of m4 refused: the forum has its most accounts');
    await server.stop();
    const again = await startServer(server.dataDir, ['--max-accounts', '3', '--account-limit', '0']);
    scope.servers.push(again);
    expect(await createInTurn(again.port, ['m5', 'm1'])).toEqual(['The forum is full: it has at most 3 accounts, so no new account can be made', 'Welcome to the forum']);
    expect(await accountLines(server.dataDir)).toEqual(['m1 pw', 'm2 pw', 'm3 pw']);
  }, 60_000);
});

describe('threads per account (real server)', () => {
  const scope = cleanupAfterEach();

  it('--max-threads-per-user 2: the third CRT of an account is refused with the limit, another account still creates, RMV makes room; the limit holds after a restart', async () => {
    const { server } = await scope.startInTemp(['--max-threads-per-user', '2']);
    const crt = async (user: string, titles: readonly string[]): Promise<string[]> => {
      const c = await rawClient(server.port);
      try {
        await rawLogin(c, user, 'pw');
        const out: string[] = [];
        for (const [i, t] of titles.entries()) out.push((await c.request(`c${i}`, 'CRT', [t], user)).lines[0] ?? '');
        return out;
      } finally {
        await c.close();
      }
    };
    const TOO_MANY = 'You have created too many threads (at most 2): remove one of yours before creating another';
    expect(await crt('alice', ['t1', 't2', 't3'])).toEqual(['Thread t1 created', 'Thread t2 created', TOO_MANY]);
    expect(await crt('bob', ['b1'])).toEqual(['Thread b1 created']);
    await server.stop();
    const again = await startServer(server.dataDir, ['--max-threads-per-user', '2']);
    scope.servers.push(again);
    const c = await rawClient(again.port);
    try {
      await rawLogin(c, 'alice', 'pw');
      expect((await c.request('a', 'CRT', ['t3'], 'alice')).lines).toEqual([TOO_MANY]);
      expect((await c.request('b', 'RMV', ['t1'], 'alice')).lines).toEqual(['Thread t1 removed']);
      expect((await c.request('c', 'CRT', ['t3'], 'alice')).lines).toEqual(['Thread t3 created']);
    } finally {
      await c.close();
    }
  }, 60_000);

  it('--max-thread-bytes 1280: one-character MSGs stop at one line per 128 bytes (10), far under the bytes, since each line costs memory of its own', async () => {
    const { server } = await scope.startInTemp(['--max-thread-bytes', '1280']);
    const c = await rawClient(server.port);
    try {
      await rawLogin(c, 'alice', 'pw');
      expect((await c.request('c', 'CRT', ['t'])).lines).toEqual(['Thread t created']);
      for (let i = 0; i < 10; i++) expect((await c.request(`m${i}`, 'MSG', ['t', 'x'])).lines).toEqual(['Message posted to t thread']);
      const refused = await c.request('m10', 'MSG', ['t', 'x']);
      expect(refused).toMatchObject({ status: 'error', lines: ['The forum is full: its threads hold at most 10 lines (delete messages or threads to make room)'] });
      expect((await c.request('d', 'DLT', ['t', '1'])).lines).toEqual(['The message has been deleted']);
      expect((await c.request('m11', 'MSG', ['t', 'x'])).lines).toEqual(['Message posted to t thread']);
    } finally {
      await c.close();
    }
  }, 60_000);

  it('--max-thread-bytes-per-user 1000: one account\'s MSGs stop at its share, wherever it posts, and another account still posts', async () => {
    const { server } = await scope.startInTemp(['--max-thread-bytes-per-user', '1000']);
    const mallory = await rawClient(server.port);
    const bob = await rawClient(server.port);
    try {
      await rawLogin(mallory, 'mallory', 'pw');
      await rawLogin(bob, 'bob', 'pw');
      expect((await bob.request('c', 'CRT', ['t'])).lines).toEqual(['Thread t created']);
      // `1 mallory: ` + 400 characters + a newline: 412 bytes, two fit in 1,000.
      for (const id of ['m1', 'm2']) expect((await mallory.request(id, 'MSG', ['t', 'a'.repeat(400)])).lines).toEqual(['Message posted to t thread']);
      const refused = await mallory.request('m3', 'MSG', ['t', 'a'.repeat(400)]);
      expect(refused).toMatchObject({ status: 'error', lines: ["Your messages hold as much of the forum as one user may: at most 1000 bytes of the forum's threads (delete some of your messages to make room)"] });
      expect((await bob.request('b1', 'MSG', ['t', 'b'.repeat(400)])).lines).toEqual(['Message posted to t thread']);
      expect((await mallory.request('d', 'DLT', ['t', '1'])).lines).toEqual(['The message has been deleted']);
      expect((await mallory.request('m4', 'MSG', ['t', 'a'.repeat(400)])).lines).toEqual(['Message posted to t thread']);
    } finally {
      await mallory.close();
      await bob.close();
    }
  }, 60_000);

  it('--max-thread-bytes 600: a MSG that would take all thread files past it is refused with the line; the threads stay as they were', async () => {
    const { server } = await scope.startInTemp(['--max-thread-bytes', '600']);
    const c = await rawClient(server.port);
    try {
      await rawLogin(c, 'alice', 'pw');
      expect((await c.request('c', 'CRT', ['t'])).lines).toEqual(['Thread t created']);
      expect((await c.request('m1', 'MSG', ['t', 'a'.repeat(400)])).lines).toEqual(['Message posted to t thread']);
      const refused = await c.request('m2', 'MSG', ['t', 'b'.repeat(400)]);
      expect(refused).toMatchObject({ status: 'error', lines: ['The forum is full: its threads hold at most 600 bytes (delete messages or threads to make room)'] });
      expect((await c.request('r', 'RDT', ['t'])).lines).toEqual([`1 alice: ${'a'.repeat(400)}`]);
    } finally {
      await c.close();
    }
  }, 60_000);
});
