import * as E from 'fp-ts/lib/Either.js';
import * as O from 'fp-ts/lib/Option.js';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createKeyedMutex, createReplyCache, createSessionRegistry, createTransferTokens, endConnection, deriveTransferKeys, DEFAULT_TOKENS_PER_USER, type TransferRequest, type TransferTokens } from '../src/index.js';

describe('SessionRegistry', () => {
  it('allows one live session per account', async () => {
    const r = createSessionRegistry();
    expect(await r.tryAcquire('u', 'c1')()).toEqual(E.right(true));
    expect(await r.tryAcquire('u', 'c1')()).toEqual(E.right(true));
    expect(await r.tryAcquire('u', 'c2')()).toEqual(E.right(false));
    await r.release('u', 'c2')();
    expect(await r.holder('u')()).toEqual(E.right('c1'));
    expect(await endConnection(r, { step: 'authenticated', session: { username: 'u', connectionKey: 'c1' } })()).toEqual(['u exited']);
    expect(await r.tryAcquire('u', 'c2')()).toEqual(E.right(true));
    expect(r.size()).toBe(1);
  });
});

describe('TransferTokens', () => {
  let counter = 0;
  const rng = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (counter * 31 + i) & 0xff);
  // A stand-in session whose exported bytes depend on the context (the token), like a real one.
  const session = { exportKeyingMaterial: (_label: string, context: Uint8Array, length: number) => Uint8Array.from({ length }, (_, i) => (context[i % context.length] ?? 0) ^ i) };
  // What a redeemed token allows; the session it is issued to (`connectionKey`) is not part of it.
  const allowance = { direction: 'upload' as const, thread: 't', filename: 'f', username: 'u', expiresAt: 1000, incarnation: '7' };
  const grant: TransferRequest = { ...allowance, connectionKey: 's/c1' };
  const issued = async (tokens: TransferTokens, g: TransferRequest): Promise<string> => {
    const t = await tokens.issue(g, session)();
    if (E.isLeft(t)) throw new Error('issue failed');
    return t.right;
  };

  it('redeems a token once, before it expires', async () => {
    const tokens = createTransferTokens({ randomBytes: (n) => (counter++, rng(n)) });
    const a = await issued(tokens, grant);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    // The grant carries the keys derived at issue time from the asking session and this token.
    expect(await tokens.redeem(a, 999)()).toEqual(E.right(O.some({ ...allowance, keys: deriveTransferKeys(session, a) })));
    expect(await tokens.redeem(a, 999)()).toEqual(E.right(O.none));
    const b = await issued(tokens, grant);
    expect(b).not.toBe(a);
    expect(await tokens.redeem(b, 1001)()).toEqual(E.right(O.none));
    expect(await tokens.redeem('forged', 0)()).toEqual(E.right(O.none));
  });

  it('is bounded and revocable per session', async () => {
    const tokens = createTransferTokens({ randomBytes: (n) => (counter++, rng(n)), capacity: 3 });
    const first = await issued(tokens, grant);
    for (let i = 0; i < 3; i++) await issued(tokens, { ...grant, username: `v${i}`, connectionKey: `s/c${i + 2}` });
    expect(tokens.size()).toBe(3);
    expect(await tokens.redeem(first, 0)()).toEqual(E.right(O.none));
    await tokens.revokeSession({ username: 'v0', connectionKey: 's/c2' })();
    expect(tokens.size()).toBe(2);
  });

  // The tests below issue thousands of tokens: real randomness, as `rng` repeats after 256 draws.
  const redeemable = async (tokens: TransferTokens, token: string): Promise<boolean> => {
    const r = await tokens.redeem(token, 0)();
    return E.isRight(r) && O.isSome(r.right);
  };

  it("a session's end revokes its own tokens only: the same account's next session keeps its own", async () => {
    const tokens = createTransferTokens({ randomBytes });
    // The account's old session (its lease lapsed) and the new login that took it over, here or on another server.
    const old = { username: 'u', connectionKey: 'a/c1' };
    const taken = { username: 'u', connectionKey: 'b/c7' };
    const oldTokens = [await issued(tokens, { ...grant, connectionKey: old.connectionKey }), await issued(tokens, { ...grant, connectionKey: old.connectionKey })];
    const newToken = await issued(tokens, { ...grant, connectionKey: taken.connectionKey });
    const otherUser = await issued(tokens, { ...grant, username: 'w', connectionKey: old.connectionKey });
    await tokens.revokeSession(old)();
    // Again, as a second end of the old session does (an XIT that finishes after the takeover).
    await tokens.revokeSession(old)();
    expect(tokens.size()).toBe(2);
    expect(await Promise.all(oldTokens.map((t) => redeemable(tokens, t)))).toEqual([false, false]);
    expect(await redeemable(tokens, newToken)).toBe(true);
    // A key names a session together with its user: another account's token is not that session's.
    expect(await redeemable(tokens, otherUser)).toBe(true);
  });

  it("one user issuing thousands of tokens never evicts another user's token", async () => {
    // Default options: the per-user cap, not the global capacity, is what protects the victim.
    const tokens = createTransferTokens({ randomBytes });
    const victim = await issued(tokens, { ...grant, username: 'victim' });
    const hostile: string[] = [];
    for (let i = 0; i < 2000; i++) hostile.push(await issued(tokens, { ...grant, username: 'mallory' }));
    expect(await redeemable(tokens, victim)).toBe(true);
    // Only mallory's newest tokens are left.
    expect(tokens.size()).toBe(DEFAULT_TOKENS_PER_USER);
    expect(await redeemable(tokens, hostile[0] ?? '')).toBe(false);
    expect(await redeemable(tokens, hostile[hostile.length - 1] ?? '')).toBe(true);
  });

  it('a user beyond the per-user cap loses only its own oldest tokens', async () => {
    const tokens = createTransferTokens({ randomBytes, perUser: 3 });
    const other = await issued(tokens, { ...grant, username: 'other' });
    const own: string[] = [];
    for (let i = 0; i < 5; i++) own.push(await issued(tokens, grant));
    expect(tokens.size()).toBe(4);
    const left = await Promise.all(own.map((t) => redeemable(tokens, t)));
    expect(left).toEqual([false, false, true, true, true]);
    expect(await redeemable(tokens, other)).toBe(true);
    expect(tokens.size()).toBe(0);
  });

  it('at the global capacity, drops the oldest token of the user holding the most, never a lighter holder', async () => {
    const tokens = createTransferTokens({ randomBytes, perUser: 4, capacity: 6 });
    const light = await issued(tokens, { ...grant, username: 'light' });
    const heavy: string[] = [];
    for (let i = 0; i < 4; i++) heavy.push(await issued(tokens, { ...grant, username: 'heavy' }));
    const newcomer = await issued(tokens, { ...grant, username: 'new' });
    expect(tokens.size()).toBe(6);
    // Full: 'new' (1 token) takes from 'heavy' (4), not from 'light' (1), whose token is older.
    const second = await issued(tokens, { ...grant, username: 'new' });
    expect(tokens.size()).toBe(6);
    expect(await Promise.all(heavy.map((t) => redeemable(tokens, t)))).toEqual([false, true, true, true]);
    expect([await redeemable(tokens, light), await redeemable(tokens, newcomer), await redeemable(tokens, second)]).toEqual([true, true, true]);
    expect(tokens.size()).toBe(0);
  });

  it('at the global capacity, an issuer tied for the most drops its own oldest', async () => {
    const tokens = createTransferTokens({ randomBytes, perUser: 4, capacity: 4 });
    const a = [await issued(tokens, { ...grant, username: 'a' }), await issued(tokens, { ...grant, username: 'a' })];
    const b = [await issued(tokens, { ...grant, username: 'b' }), await issued(tokens, { ...grant, username: 'b' })];
    const b3 = await issued(tokens, { ...grant, username: 'b' });
    expect(tokens.size()).toBe(4);
    expect(await Promise.all([...a, ...b, b3].map((t) => redeemable(tokens, t)))).toEqual([true, true, false, true, true]);
  });

  it('stays bounded with many users each at the cap', async () => {
    const tokens = createTransferTokens({ randomBytes, perUser: 2, capacity: 10 });
    for (let i = 0; i < 300; i++) await issued(tokens, { ...grant, username: `u${i % 30}`, connectionKey: `s/c${i % 30}` });
    expect(tokens.size()).toBe(10);
    await tokens.revokeSession({ username: 'u29', connectionKey: 's/c29' })();
    await tokens.revokeSession({ username: 'u28', connectionKey: 's/c28' })();
    // The last two issuers held tokens: revoking frees their slots.
    expect(tokens.size()).toBeLessThan(10);
  });
});

describe('ReplyCache', () => {
  it('runs a repeated id once, even while the first run is in flight, and forgets the oldest', async () => {
    const cache = createReplyCache<string>(2);
    let runs = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const compute = async (): Promise<string> => {
      runs += 1;
      await gate;
      return `reply${runs}`;
    };
    const first = cache.runOnce('a', compute);
    const repeat = cache.runOnce('a', compute);
    release();
    expect(await first).toEqual({ value: 'reply1', repeated: false });
    expect(await repeat).toEqual({ value: 'reply1', repeated: true });
    await cache.runOnce('b', compute);
    await cache.runOnce('c', compute);
    expect(cache.has('a')).toBe(false);
    expect(cache.size()).toBe(2);
    expect(runs).toBe(3);
  });
});

describe('KeyedMutex', () => {
  it('serialises work per key and forgets idle keys', async () => {
    const m = createKeyedMutex();
    const order: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const a = m.run('k', async () => {
      await gate;
      order.push('a');
    });
    const b = m.run('k', async () => {
      order.push('b');
    });
    const other = m.run('j', async () => {
      order.push('j');
    });
    await other;
    release();
    await Promise.all([a, b]);
    expect(order).toEqual(['j', 'a', 'b']);
    await new Promise<void>((r) => setImmediate(r));
    expect(m.activeKeys()).toBe(0);
  });
});
