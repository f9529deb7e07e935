/**
 * A transfer token belongs to the session that was granted it, not to its user: the end of an account's
 * old session (taken over by a new login after its lease lapsed, or an XIT that finishes after the takeover)
 * leaves the new session's tokens redeemable. Before, a session's end revoked every token of its username,
 * so the new session's upload was refused ("invalid or expired token") by the old one's clean-up.
 */
import { randomBytes } from 'node:crypto';
import { createSessionRegistry, createTransferTokens, timedOutText, type Reply, type SessionRegistry, type StoreError, type TransferTokens } from 'forum-protocol';
import { expect, it } from 'vitest';
import type { ServerContext } from '../src/client-connection.js';
import { FakeConnection, PEER_CLOSED, loggedIn, memoryContext, serve } from './served-connection.js';
import { until } from './until.js';

/** The port a UPD reply names: any the reply's codec takes (not 0, memoryContext's); nothing listens here. */
const TRANSFER_PORT = 4000;

/** The token of a UPD reply (the request must have been granted). */
const tokenOf = (r: Reply): string => {
  if (r.data.kind !== 'transfer') throw new Error(`UPD refused: ${r.lines.join(' ')}`);
  return r.data.token;
};

/** Whether `token` is still outstanding (redeeming spends it: asked once per token). */
const redeemable = async (ctx: ServerContext, token: string): Promise<boolean> => {
  const r = await ctx.tokens.redeem(token, Date.now())();
  return r._tag === 'Right' && r.right._tag === 'Some';
};

/** The connection key `user`'s session holds in `registry`. */
const holderOf = async (registry: SessionRegistry, user: string): Promise<string> => {
  const h = await registry.holder(user)();
  if (h._tag === 'Left' || h.right === undefined) throw new Error(`${user} holds no session`);
  return h.right;
};

/** A new connection from another address, logged in to the existing account `user` (password `pw`). */
const loggedInAgain = async (ctx: ServerContext, user: string): Promise<FakeConnection> => {
  const conn = new FakeConnection('127.0.0.2');
  serve(conn, ctx);
  await conn.request('username', [user], 'u');
  expect((await conn.request('password', ['pw'], 'p')).lines).toEqual(['Welcome to the forum']);
  return conn;
};

/**
 * alice logs in on `old`, whose lease then lapses (released here, as a lease that expired unrenewed is
 * free), and logs in again on a new connection, which is granted an upload token. Returns both
 * connections, the old session's key (whose `liveSessions` entry a renewal that finds it lost calls) and
 * the new session's token.
 */
const takenOver = async (
  ctx: ServerContext,
  registry: SessionRegistry,
): Promise<{ readonly old: FakeConnection; readonly oldKey: string; readonly fresh: FakeConnection; readonly token: string; readonly oldToken: string }> => {
  const old = await loggedIn(ctx, 'alice', '127.0.0.1');
  expect((await old.request('CRT', ['t'], 'c')).lines).toEqual(['Thread t created']);
  const oldToken = tokenOf(await old.request('UPD', ['t', 'old.bin'], 'u1'));
  const oldKey = await holderOf(registry, 'alice');
  await registry.release('alice', oldKey)();
  const fresh = await loggedInAgain(ctx, 'alice');
  expect(await holderOf(registry, 'alice')).not.toBe(oldKey);
  const token = tokenOf(await fresh.request('UPD', ['t', 'new.bin'], 'u2'));
  return { old, oldKey, fresh, token, oldToken };
};

it("the end of a session taken over leaves the new session's token redeemable, and revokes its own", async () => {
  const registry = createSessionRegistry();
  const ctx = memoryContext([], { registry, transferPort: TRANSFER_PORT });
  const { oldKey, token, oldToken } = await takenOver(ctx, registry);
  // What the registry's renewal does when it finds the old lease gone: ends that connection.
  const end = ctx.liveSessions.get(oldKey);
  expect(end).toBeDefined();
  end?.();
  expect(ctx.liveSessions.has(oldKey)).toBe(false);
  expect(await redeemable(ctx, token)).toBe(true);
  expect(await redeemable(ctx, oldToken)).toBe(false);
});

it("the old session's connection closing after the takeover leaves the new session's token redeemable", async () => {
  const registry = createSessionRegistry();
  const ctx = memoryContext([], { registry, transferPort: TRANSFER_PORT });
  const { old, oldKey, token, oldToken } = await takenOver(ctx, registry);
  old.closed = true;
  old.emit('close', PEER_CLOSED);
  expect(await until(() => !ctx.liveSessions.has(oldKey), 5_000)).toBe(true);
  // The close's clean-up waits for the request chain, then runs: let it settle before asking.
  await new Promise((resolve) => setImmediate(resolve));
  expect(await redeemable(ctx, token)).toBe(true);
  expect(await redeemable(ctx, oldToken)).toBe(false);
});

it("an XIT of the old session that finishes after the takeover leaves the new session's token redeemable", async () => {
  // The old session's XIT is held in its release until the takeover is done, as a slow database would.
  const real = createSessionRegistry();
  let holdRelease: Promise<void> | undefined;
  const registry: SessionRegistry = {
    ...real,
    release: (u, key) => async () => {
      await holdRelease;
      await real.release(u, key)();
    },
  };
  const ctx = memoryContext([], { registry, transferPort: TRANSFER_PORT });
  const old = await loggedIn(ctx, 'alice', '127.0.0.1');
  expect((await old.request('CRT', ['t'], 'c')).lines).toEqual(['Thread t created']);
  const oldKey = await holderOf(registry, 'alice');
  let letGo: () => void = () => undefined;
  holdRelease = new Promise((resolve) => (letGo = resolve));
  const xit = old.request('XIT', [], 'x');
  // The lease lapsed meanwhile: the account is free, and logs in on a new connection.
  await real.release('alice', oldKey)();
  const fresh = await loggedInAgain(ctx, 'alice');
  const token = tokenOf(await fresh.request('UPD', ['t', 'new.bin'], 'u2'));
  // Then the old session's XIT finishes, and its end runs.
  letGo();
  expect((await xit).status).toBe('ok');
  expect(ctx.liveSessions.has(oldKey)).toBe(false);
  await new Promise((resolve) => setImmediate(resolve));
  expect(await redeemable(ctx, token)).toBe(true);
});

it('a token whose issue finishes after its session was taken over is revoked, not left to count toward the cap', async () => {
  // The issue is held (a slow database) while a takeover ends the session (which does not wait for the
  // request under way): the end's revoke runs first and finds nothing, so the request's own end (its session
  // closed) revokes again; without it the row stored after the first would count toward alice's 8 tokens
  // until it expired.
  const real = createTransferTokens({ randomBytes: (n) => randomBytes(n) });
  let holdIssue: Promise<void> | undefined;
  const issued: string[] = [];
  let asked = 0;
  const tokens: TransferTokens = {
    ...real,
    issue: (grant, session) => async () => {
      asked += 1;
      await holdIssue;
      const t = await real.issue(grant, session)();
      if (t._tag === 'Right') issued.push(t.right);
      return t;
    },
  };
  const ctx = memoryContext([], { tokens, transferPort: TRANSFER_PORT });
  const conn = await loggedIn(ctx, 'alice', '127.0.0.1');
  expect((await conn.request('CRT', ['t'], 'c')).lines).toEqual(['Thread t created']);
  let letGo: () => void = () => undefined;
  holdIssue = new Promise((resolve) => (letGo = resolve));
  void conn.request('UPD', ['t', 'late.bin'], 'u1');
  expect(await until(() => asked === 1, 5_000)).toBe(true);
  const [end] = [...ctx.liveSessions.values()];
  expect(end).toBeDefined();
  end?.();
  expect(ctx.liveSessions.size).toBe(0);
  letGo();
  expect(await until(() => issued.length === 1, 5_000)).toBe(true);
  await new Promise((resolve) => setImmediate(resolve));
  expect(await redeemable(ctx, issued[0] as string)).toBe(false);
});

it("a UPD whose token the database did not store in time is answered with the timeout's line, not the generic one", async () => {
  // The store's own failures (its time limit, a silent database given up, its COMMIT unconfirmed) as
  // postgres-tokens.ts reports them. Before: `The server could not complete the command, please try again`.
  const failures: readonly StoreError[] = [
    { kind: 'io', message: 'the command passed its deadline of 6000 ms', timedOut: true },
    { kind: 'io', message: 'the database did not answer the COMMIT', outcomeUnknown: 'database' },
  ];
  for (const failure of failures) {
    const tokens: TransferTokens = { ...createTransferTokens({ randomBytes: (n) => randomBytes(n) }), issue: () => async () => ({ _tag: 'Left', left: failure }) };
    const ctx = memoryContext([], { tokens, transferPort: TRANSFER_PORT });
    const conn = await loggedIn(ctx, 'alice', '127.0.0.1');
    await conn.request('CRT', ['t'], 'c');
    const r = await conn.request('UPD', ['t', 'f.bin'], 'u1');
    expect(r.status).toBe('error');
    expect(r.lines).toEqual([timedOutText('command')]);
  }
});
