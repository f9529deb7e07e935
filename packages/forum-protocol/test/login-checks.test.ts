/**
 * Every password check counts, right or wrong (attack finding 1): one account
 * whose connections raced to log in with the right password, the winner
 * logging out and the losers retrying, ran 45 scrypt checks a second, because
 * a right password cleared the account's count and a login the "one live
 * session" rule would refuse was checked first.
 */
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import {
  INITIAL_AUTH_STATE,
  createLoginRateLimiter,
  createMemoryStore,
  createSessionRegistry,
  handleRequest,
  plainTextAccounts,
  rateLimitedAccounts,
  type AccountPolicy,
  type AuthState,
  type ForumStore,
  type Request,
  type SessionRegistry,
} from '../src/index.js';

const req = (id: string, cmd: Request['cmd'], ...args: string[]): Request => ({ id, username: '', cmd, args });

/** A store holding `alice` (password `pw`). */
const storeWithAlice = async (): Promise<ForumStore> => {
  const store = createMemoryStore();
  const created = await store.createAccount({ username: 'alice', password: 'pw' })();
  if (E.isLeft(created) || !created.right) throw new Error('could not create alice');
  return store;
};

/** A policy that counts the passwords it is asked to check. */
const counting = (inner: AccountPolicy): AccountPolicy & { checks: () => number } => {
  let n = 0;
  return {
    verify: (store, username, password, attempt) => {
      n++;
      return inner.verify(store, username, password, attempt);
    },
    register: inner.register,
    checks: () => n,
  };
};

/** Runs the username and password steps on connection `key`; returns the password step's lines and the state. */
const logIn = async (
  deps: { store: ForumStore; registry: SessionRegistry; accounts: AccountPolicy },
  key: string,
  now: number,
): Promise<{ lines: readonly string[]; state: AuthState }> => {
  const d = { ...deps, connectionKey: key, peerAddress: '192.0.2.1:4000', now };
  const a = await handleRequest(d, INITIAL_AUTH_STATE, req('1', 'username', 'alice'))();
  const b = await handleRequest(d, a.state, req('2', 'password', 'pw'))();
  if (b.outcome.kind !== 'reply') throw new Error('expected a reply');
  return { lines: b.outcome.reply.lines, state: b.state };
};

describe('password checks of any outcome are limited', () => {
  it('a right password counts: the 11th check of one account in a minute is refused, until the first leaves the window', () => {
    const rl = createLoginRateLimiter();
    for (let i = 0; i < 10; i++) {
      const r = rl.reserve('alice', `192.0.2.1:${4000 + i}`, i * 1000);
      expect(r.kind).toBe('reserved');
      if (r.kind === 'reserved') r.reservation.settle('success');
    }
    expect(rl.reserve('alice', '192.0.2.99:1', 10_000)).toEqual({ kind: 'throttled', retryAfterMs: 50_000, cause: 'checks' });
    expect(rl.reserve('alice', '192.0.2.99:1', 60_000).kind).toBe('reserved');
  });

  it('a host: 60 checks a minute over any accounts; a store error (cancel) is not counted', () => {
    const rl = createLoginRateLimiter();
    for (let i = 0; i < 60; i++) {
      const r = rl.reserve(`user${i}`, `198.51.100.7:${i}`, 0);
      if (r.kind !== 'reserved') throw new Error(`check ${i} refused`);
      r.reservation.settle(i === 0 ? 'cancel' : 'success');
    }
    const last = rl.reserve('another', '198.51.100.7:9', 0);
    expect(last.kind).toBe('reserved');
    if (last.kind === 'reserved') last.reservation.settle('success');
    expect(rl.reserve('yet-another', '198.51.100.7:9', 0)).toMatchObject({ kind: 'throttled', cause: 'checks' });
    expect(rl.reserve('yet-another', '198.51.100.8:9', 0).kind).toBe('reserved');
  });

  it('through the login path: the 11th right-password login of a minute gets "Too many login attempts", unchecked', async () => {
    const store = await storeWithAlice();
    const accounts = counting(rateLimitedAccounts(plainTextAccounts, createLoginRateLimiter()));
    const registry = createSessionRegistry();
    for (let i = 0; i < 10; i++) {
      const r = await logIn({ store, registry, accounts }, `c${i}`, i * 100);
      expect(r.lines).toEqual(['Welcome to the forum']);
      if (r.state.step !== 'authenticated') throw new Error('not logged in');
      await registry.release('alice', `c${i}`)();
    }
    const r = await logIn({ store, registry, accounts }, 'c10', 1000);
    expect(r.lines).toEqual(['Too many login attempts, try again in 59 seconds']);
    expect(accounts.checks()).toBe(11);
  });
});

describe('a login the one-live-session rule will refuse is not checked', () => {
  it('the password step asks the registry again before checking the password', async () => {
    const store = await storeWithAlice();
    const accounts = counting(plainTextAccounts);
    const registry = createSessionRegistry();
    const loser = { store, registry, accounts, connectionKey: 'loser', peerAddress: '192.0.2.1:1', now: 0 };
    // The loser is at the password prompt when the winner logs in.
    const prompt = await handleRequest(loser, INITIAL_AUTH_STATE, req('1', 'username', 'alice'))();
    expect(prompt.state.step).toBe('awaitingPassword');
    expect((await logIn({ store, registry, accounts }, 'winner', 0)).lines).toEqual(['Welcome to the forum']);
    expect(accounts.checks()).toBe(1);
    const refused = await handleRequest(loser, prompt.state, req('2', 'password', 'pw'))();
    if (refused.outcome.kind !== 'reply') throw new Error('expected a reply');
    expect(refused.outcome.reply.lines).toEqual(['alice has already logged in']);
    expect(refused.state).toEqual(INITIAL_AUTH_STATE);
    expect(accounts.checks()).toBe(1);
  });
});
