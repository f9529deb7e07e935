/**
 * Login throttling under concurrency (issue 15, finding 1), against the built
 * forum-server with --hash-passwords: every guess is sent at the same moment
 * over its own rudp connection from one host, so all of them are in flight
 * during the slow scrypt check. Attempts in flight must count.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach, startServer, tempDir } from './forum-processes.js';
import { rawClient, rawLogin, type RawClient } from './raw-client.js';
import type { Reply } from 'forum-protocol';
import { hashPassword } from 'forum-protocol';

const THROTTLED = /^Too many failed login attempts, try again in [0-9]+ seconds?$/;
const isThrottled = (r: Reply): boolean => THROTTLED.test(r.lines[0] ?? '');

/** `n` raw clients, connected in batches so the handshakes do not time out on a loaded machine. */
const connectMany = async (port: number, n: number): Promise<RawClient[]> => {
  const out: RawClient[] = [];
  for (let i = 0; i < n; i += 50) out.push(...(await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => rawClient(port)))));
  return out;
};

describe('login throttling counts attempts in flight (real server, --hash-passwords, concurrent raw clients)', () => {
  const scope = cleanupAfterEach();
  /** Stored hashes by password: the 40 accounts of one test share one (each scrypt is ~50 ms of CPU); only wrong guesses meet it. */
  const hashes = new Map<string, Promise<string>>();
  const hashOf = (password: string): Promise<string> => {
    const known = hashes.get(password);
    if (known !== undefined) return known;
    const made = hashPassword(password);
    hashes.set(password, made);
    return made;
  };
  const startWith = async (accounts: readonly [string, string][]): Promise<Awaited<ReturnType<typeof startServer>>> => {
    const data = await tempDir('race');
    scope.dirs.push(data);
    // Hashed entries written up front: the accounts exist without spending the account-creation limit.
    const lines = await Promise.all(accounts.map(async ([u, p]) => `${u} ${await hashOf(p)}\n`));
    await writeFile(join(data, 'credentials.txt'), lines.join(''));
    // 201 connections of one host, none logged in yet: room for them (by default a host holds 128 not logged in).
    const server = await startServer(data, ['--hash-passwords', '--max-connections-per-host', '512']);
    scope.servers.push(server);
    return server;
  };

  it('200 simultaneous guesses at one account from one host: at most 5 are checked, and the right one sent once throttled is refused', async () => {
    const server = await startWith([['victim', 'right-password']]);
    const clients = await connectMany(server.port, 201);
    const [spare, ...guessers] = clients as [RawClient, ...RawClient[]];
    try {
      await Promise.all(clients.map((c, i) => c.request(`u${i}`, 'username', ['victim'])));
      let firstThrottled!: () => void;
      const throttledSeen = new Promise<void>((resolve) => (firstThrottled = resolve));
      const wrong = guessers.map((c, i) =>
        c.request(`p${i}`, 'password', [`wrong-${i}`]).then((r) => {
          if (isThrottled(r)) firstThrottled();
          return r;
        }),
      );
      // The right guess goes out while wrong ones are still being hashed: it must meet the throttle, not the hash.
      // (Or once every wrong guess is answered, should none be throttled: the assertions below then fail rather than hang.)
      await Promise.race([throttledSeen, Promise.all(wrong)]);
      const right = await spare.request('right', 'password', ['right-password']);
      const replies = await Promise.all(wrong);
      const checked = replies.filter((r) => !isThrottled(r));
      expect(checked.length).toBeLessThanOrEqual(5);
      expect(checked.every((r) => r.lines[0] === 'Invalid password')).toBe(true);
      expect(right.lines[0]).toMatch(THROTTLED);
      expect(server.lines().filter((l) => l === 'Incorrect password').length).toBeLessThanOrEqual(5);
      expect(server.lines()).not.toContain('victim successful login');
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  }, 120_000);

  it('200 simultaneous guesses spread over 40 accounts from one host: at most the host limit (20) are checked', async () => {
    // Forty accounts of one password: every guess is wrong for each, whatever it is.
    const accounts = Array.from({ length: 40 }, (_, i): [string, string] => [`user${i}`, 'secret']);
    const server = await startWith(accounts);
    const clients = await connectMany(server.port, 200);
    try {
      // Interleaved: each client sends its username and its password back to back, without waiting.
      const replies = await Promise.all(
        clients.map(async (c, i) => {
          const name = `user${i % 40}`;
          const u = c.request(`u${i}`, 'username', [name]);
          const p = c.request(`p${i}`, 'password', [`guess-${i}`]);
          await u;
          return p;
        }),
      );
      const checked = replies.filter((r) => !isThrottled(r));
      expect(checked.length).toBeLessThanOrEqual(20);
      expect(replies.filter(isThrottled).length).toBeGreaterThanOrEqual(180);
      expect(server.lines().filter((l) => l === 'Incorrect password').length).toBeLessThanOrEqual(20);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  }, 120_000);

  it('waves of guesses, each sent before the last is answered, never add up past the limit; the owner from that host is throttled too', async () => {
    const server = await startWith([['ann', 'ann-pw']]);
    const clients = await connectMany(server.port, 60);
    try {
      await Promise.all(clients.map((c, i) => c.request(`u${i}`, 'username', ['ann'])));
      const waves: Promise<Reply>[] = [];
      for (let w = 0; w < 6; w++) {
        for (let k = 0; k < 10; k++) {
          const i = w * 10 + k;
          waves.push((clients[i] as RawClient).request(`p${i}`, 'password', [`g${i}`]));
        }
        // The next wave leaves while this one is still hashing.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      const replies = await Promise.all(waves);
      expect(replies.filter((r) => !isThrottled(r)).length).toBeLessThanOrEqual(5);
      const owner = await rawClient(server.port);
      try {
        const r = await rawLogin(owner, 'ann', 'ann-pw');
        expect(r.lines[0]).toMatch(THROTTLED);
      } finally {
        await owner.close();
      }
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  }, 120_000);
});
