import * as E from 'fp-ts/lib/Either.js';
import * as O from 'fp-ts/lib/Option.js';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  INITIAL_AUTH_STATE,
  accountPolicy,
  createAccountCreationLimiter,
  createLoginRateLimiter,
  createMemoryStore,
  createSessionRegistry,
  handleRequest,
  hashPassword,
  hashedAccounts,
  isPasswordHash,
  openFileStore,
  parsePasswordHash,
  plainTextAccounts,
  rateLimitedAccounts,
  replaceCredential,
  verifyPasswordHash,
  withNameIdentity,
  type AccountPolicy,
  type AuthState,
  type ForumStore,
  type Request,
} from '../src/index.js';

const openDir = async (dir: string): Promise<ForumStore> => {
  const s = await openFileStore(dir)();
  if (E.isLeft(s)) throw new Error(s.left.message);
  return s.right;
};

const secretOf = async (store: ForumStore, user: string): Promise<string | undefined> => {
  const a = await store.getAccount(user)();
  return E.isRight(a) && O.isSome(a.right) ? a.right.value.password : undefined;
};

const req = (id: string, cmd: Request['cmd'], ...args: string[]): Request => ({ id, username: '', cmd, args });

/** Logs in through the whole request path; returns the printed lines and log of the password step. */
const login = async (
  store: ForumStore,
  accounts: AccountPolicy,
  user: string,
  password: string,
  opts: { key?: string; peer?: string; now?: number } = {},
): Promise<{ lines: readonly string[]; log: readonly string[]; state: AuthState }> => {
  const deps = { store, registry: createSessionRegistry(), connectionKey: opts.key ?? 'c1', accounts, peerAddress: opts.peer ?? '127.0.0.1:5000', now: opts.now ?? 0 };
  const a = await handleRequest(deps, INITIAL_AUTH_STATE, req('1', 'username', user))();
  const step = a.state.step === 'awaitingNewPassword' ? 'newPassword' : 'password';
  const b = await handleRequest(deps, a.state, req('2', step, password))();
  if (b.outcome.kind !== 'reply') throw new Error('expected a reply');
  return { lines: b.outcome.reply.lines, log: b.outcome.log, state: b.state };
};

describe('password hashes', () => {
  it('round-trips, uses a fresh salt each time, and has the documented shape', async () => {
    const a = await hashPassword('hunter2');
    const b = await hashPassword('hunter2');
    expect(a).toMatch(/^scrypt\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
    expect(a).not.toBe(b);
    const parsed = parsePasswordHash(a);
    expect(parsed).toBeDefined();
    if (parsed === undefined) return;
    expect(await verifyPasswordHash('hunter2', parsed)).toBe(true);
    expect(await verifyPasswordHash('hunter3', parsed)).toBe(false);
  });

  it('is deterministic for a given salt, and the salt changes the hash', async () => {
    const salt = Buffer.alloc(16, 7);
    expect(await hashPassword('pw', salt)).toBe(await hashPassword('pw', salt));
    expect(await hashPassword('pw', salt)).not.toBe(await hashPassword('pw', Buffer.alloc(16, 8)));
  });

  it('plain passwords are never taken for hashes', () => {
    for (const s of ['secret', 'scrypt$', 'scrypt$abc$def', 'scrypt$AAAAAAAAAAAAAAAAAAAAAA==$AAAA', `scrypt$${'A'.repeat(22)}==$${'A'.repeat(43)}=$x`]) {
      expect(isPasswordHash(s)).toBe(false);
    }
  });
});

describe('replaceCredential', () => {
  it('changes only the account line, keeping skipped lines and CRLF endings byte for byte', () => {
    const text = 'ann pw1\r\nbroken line here\nbob pw2\nann dup\n';
    expect(replaceCredential(text, 'ann', 'NEW')).toBe('ann NEW\r\nbroken line here\nbob pw2\nann dup\n');
    expect(replaceCredential(text, 'bob', 'X')).toBe('ann pw1\r\nbroken line here\nbob X\nann dup\n');
    expect(replaceCredential(text, 'carl', 'X')).toBeUndefined();
  });
});

const stores: readonly (readonly [string, () => Promise<ForumStore>])[] = [
  ['memory', async () => createMemoryStore()],
  ['data-directory', () => openDir(mkdtempSync(join(tmpdir(), 'forum-acct-')))],
];

for (const [name, make] of stores) {
  describe(`hashed accounts against the ${name} store`, () => {
    it('replaceAccountSecret replaces an existing secret and refuses an unknown account', async () => {
      const s = await make();
      await s.createAccount({ username: 'ann', password: 'pw' })();
      expect(await s.replaceAccountSecret('ann', 'other')()).toEqual(E.right(true));
      expect(await secretOf(s, 'ann')).toBe('other');
      expect(await s.replaceAccountSecret('nobody', 'x')()).toEqual(E.right(false));
      expect(await secretOf(s, 'nobody')).toBeUndefined();
    });

    it('new accounts are stored hashed and log in with the right password only', async () => {
      const s = await make();
      const policy = hashedAccounts();
      expect((await login(s, policy, 'ann', 'pw1')).lines).toEqual(['Welcome to the forum']);
      const stored = await secretOf(s, 'ann');
      expect(stored !== undefined && isPasswordHash(stored)).toBe(true);
      expect((await login(s, policy, 'ann', 'pw1', { key: 'c2' })).lines).toEqual(['Welcome to the forum']);
      const wrong = await login(s, policy, 'ann', 'pw2', { key: 'c3' });
      expect(wrong.lines).toEqual(['Invalid password']);
      expect(wrong.log).toEqual(['Incorrect password']);
      // The default policy still accepts a hashed entry (switching back locks nobody out).
      expect((await login(s, plainTextAccounts, 'ann', 'pw1', { key: 'c4' })).lines).toEqual(['Welcome to the forum']);
    });

    it('a plain entry logs in and is upgraded to a hash on that login; a wrong password upgrades nothing', async () => {
      const s = await make();
      await s.createAccount({ username: 'bob', password: 'plainpw' })();
      const policy = hashedAccounts();
      expect((await login(s, policy, 'bob', 'nope')).lines).toEqual(['Invalid password']);
      expect(await secretOf(s, 'bob')).toBe('plainpw');
      expect((await login(s, policy, 'bob', 'plainpw')).lines).toEqual(['Welcome to the forum']);
      const stored = await secretOf(s, 'bob');
      expect(stored !== undefined && isPasswordHash(stored)).toBe(true);
      expect((await login(s, policy, 'bob', 'plainpw', { key: 'c2' })).lines).toEqual(['Welcome to the forum']);
    });
  });
}

describe('hashed accounts on disk', () => {
  it('upgrades the one line in credentials.txt atomically and keeps malformed lines; the file reopens', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-acct-disk-'));
    writeFileSync(join(dir, 'credentials.txt'), 'ann pw1\nthis line is malformed\nbob pw2\n');
    const s = await openDir(dir);
    expect((await login(s, hashedAccounts(), 'bob', 'pw2')).lines).toEqual(['Welcome to the forum']);
    const text = readFileSync(join(dir, 'credentials.txt'), 'utf8');
    const lines = text.split('\n');
    expect(lines.slice(0, 2)).toEqual(['ann pw1', 'this line is malformed']);
    expect(lines[2]).toMatch(/^bob scrypt\$\S+$/);
    expect(lines[3]).toBe('');
    const again = await openDir(dir);
    expect((await login(again, hashedAccounts(), 'bob', 'pw2')).lines).toEqual(['Welcome to the forum']);
    expect((await login(again, hashedAccounts(), 'ann', 'pw1')).lines).toEqual(['Welcome to the forum']);
    expect(readFileSync(join(dir, 'credentials.txt'), 'utf8')).toMatch(/^ann scrypt\$\S+\nthis line is malformed\nbob scrypt\$\S+\n$/);
    expect(readFileSync(join(dir, 'credentials.txt'), 'utf8').split('\n')[2]).toBe(lines[2]);
  });
});

describe('a forum with its most accounts', () => {
  it('refuses a new account with the line, and logs the refusal; existing accounts log in', async () => {
    const opened = await withNameIdentity(createMemoryStore({ accounts: [{ username: 'alice', password: 'pw' }] }), { maxAccounts: 1 })();
    if (E.isLeft(opened)) throw new Error('open failed');
    const store = opened.right;
    const refused = await login(store, plainTextAccounts, 'mallory', 'pw');
    expect(refused.lines).toEqual(['The forum is full: it has at most 1 accounts, so no new account can be made']);
    expect(refused.log).toContain('Account creation of mallory refused: the forum has its most accounts');
    expect(refused.state).toEqual(INITIAL_AUTH_STATE);
    expect((await login(store, plainTextAccounts, 'alice', 'pw')).lines).toEqual(['Welcome to the forum']);
  });
  it('a refused creation counts against the address\'s new accounts: with hashed passwords each refusal costs a scrypt hash', async () => {
    // The hash is made before the store finds the forum full; a refusal given back to the address's
    // limit let one address have the server hash as many passwords as it sent (the limit bounds 10 a window).
    const opened = await withNameIdentity(createMemoryStore({ accounts: [{ username: 'alice', password: 'pw' }] }), { maxAccounts: 1 })();
    if (E.isLeft(opened)) throw new Error('open failed');
    const accounts = rateLimitedAccounts(hashedAccounts(), null, createAccountCreationLimiter({ maxPerHost: 2, windowMs: 60_000 }));
    const lines = [];
    for (const name of ['m1', 'm2', 'm3', 'm4']) lines.push((await login(opened.right, accounts, name, 'pw', { peer: '192.0.2.9:4000' })).lines[0]);
    expect(lines.slice(0, 2)).toEqual(['The forum is full: it has at most 1 accounts, so no new account can be made', 'The forum is full: it has at most 1 accounts, so no new account can be made']);
    expect(lines[2]).toMatch(/^Too many new accounts from your address, try again in \d+ seconds$/u);
    expect(lines[3]).toMatch(/^Too many new accounts from your address/u);
    // Another address is not held back by this one's refusals.
    expect((await login(opened.right, accounts, 'n1', 'pw', { peer: '198.51.100.1:4000' })).lines[0]).toMatch(/^The forum is full/u);
  });
});

describe('throttled logins through the request path (fake clock)', () => {
  it('5 wrong passwords for an account, then a clear message until the minute has passed', async () => {
    const s = createMemoryStore({ accounts: [{ username: 'ann', password: 'right' }] });
    const policy = rateLimitedAccounts(plainTextAccounts, createLoginRateLimiter());
    for (let i = 0; i < 5; i++) expect((await login(s, policy, 'ann', 'wrong', { now: i * 1000 })).lines).toEqual(['Invalid password']);
    const blocked = await login(s, policy, 'ann', 'right', { now: 5000 });
    expect(blocked.lines).toEqual(['Too many failed login attempts, try again in 55 seconds']);
    expect(blocked.log).toEqual(['Login of ann throttled']);
    expect(blocked.state).toEqual(INITIAL_AUTH_STATE);
    // Another host is throttled too: the account is the target.
    expect((await login(s, policy, 'ann', 'right', { now: 30_000, peer: '10.9.9.9:1' })).lines).toEqual(['Too many failed login attempts, try again in 30 seconds']);
    expect((await login(s, policy, 'ann', 'right', { now: 60_000 })).lines).toEqual(['Welcome to the forum']);
    // Success reset the account: 4 more failures do not throttle it.
    for (let i = 0; i < 4; i++) await login(s, policy, 'ann', 'wrong', { now: 61_000 + i });
    expect((await login(s, policy, 'ann', 'right', { now: 61_010 })).lines).toEqual(['Welcome to the forum']);
  });

  it('20 failures from one host over many accounts throttle that host only', async () => {
    const accounts = Array.from({ length: 21 }, (_, i) => ({ username: `u${i}`, password: 'pw' }));
    const s = createMemoryStore({ accounts });
    const policy = accountPolicy();
    for (let i = 0; i < 20; i++) await login(s, policy, `u${i}`, 'bad', { now: 100 + i, peer: '192.0.2.1:7000' });
    expect((await login(s, policy, 'u20', 'pw', { now: 200, peer: '192.0.2.1:7001' })).lines[0]).toMatch(/^Too many failed login attempts, try again in \d+ seconds$/);
    expect((await login(s, policy, 'u20', 'pw', { now: 200, peer: '192.0.2.2:7001' })).lines).toEqual(['Welcome to the forum']);
  });

  it('accountPolicy({ hashPasswords: true }) hashes new accounts and throttles', async () => {
    const s = createMemoryStore();
    const policy = accountPolicy({ hashPasswords: true, rateLimit: { maxFailuresPerAccount: 1 } });
    expect((await login(s, policy, 'zed', 'pw')).lines).toEqual(['Welcome to the forum']);
    expect(isPasswordHash((await secretOf(s, 'zed')) ?? '')).toBe(true);
    expect((await login(s, policy, 'zed', 'bad', { now: 1 })).lines).toEqual(['Invalid password']);
    expect((await login(s, policy, 'zed', 'pw', { now: 2 })).lines[0]).toBe('Too many failed login attempts, try again in 60 seconds');
  });
});

describe('a new account records the host it was created from (its origin, store/origin-shares.ts)', () => {
  it('plain and hashed, throttled or not: the origin is hostOf the peer address (an IPv6 /64); none when the address is unknown', async () => {
    for (const policy of [plainTextAccounts, hashedAccounts(), accountPolicy()]) {
      const store = createMemoryStore();
      const origins: Record<string, string | undefined> = {};
      for (const [user, peerAddress] of [['v4', '127.0.0.9:5000'], ['v6', '[2001:db8:0:1::7]:5000'], ['none', undefined]] as const) {
        expect(await policy.register(store, user, 'pw', { peerAddress, now: 0 })()).toEqual(E.right('created'));
        const got = await store.getAccount(user)();
        origins[user] = E.isRight(got) && O.isSome(got.right) ? got.right.value.origin : 'missing';
      }
      expect(origins).toEqual({ v4: '127.0.0.9', v6: '2001:db8:0:1::/64', none: undefined });
    }
  });
});
