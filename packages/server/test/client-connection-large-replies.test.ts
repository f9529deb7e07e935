/**
 * The connections of a server share one rate of large reply bytes (large-reply-rate.ts, `ServerContext.largeReplies`):
 * once it is in debt, a large RDT waits for its party's turn before it is encoded, the party that read less first,
 * and a connection's later requests wait behind it. Fake connections over a memory store; the rate's clock and timers
 * are the test's, so what was answered is checked before and after each timer, not by waiting.
 */
import type { Thread } from 'forum-protocol';
import { expect, it } from 'vitest';
import type { ServerContext } from '../src/client-connection.js';
import { largeReplyEstimate, REPLY_FIXED_BYTES, replyLinesBytes } from '../src/large-reply-rate.js';
import { onFakeClock as rig, settle } from './fake-clock-rate.js';
import { bigThread as big, loggedIn as loggedInAt, PEER_CLOSED, type FakeConnection } from './served-connection.js';

/** 16 messages of 4,000 CJK characters: 64,000 characters (under 64 Ki of them), 188 KiB of JSON. */
const cjk: Thread = { title: 'cjk', creator: 'alice', entries: Array.from({ length: 16 }, () => ({ kind: 'message', author: 'alice', text: '한'.repeat(4000) })) };
/** 30 messages of 4,000 characters: some 117 KiB of JSON, a large reply far under the largest. */
const mid: Thread = { title: 'mid', creator: 'alice', entries: Array.from({ length: 30 }, (_, i) => ({ kind: 'message', author: 'alice', text: `${'x'.repeat(3990)}${i}` })) };
/** The reply lines of `big`, as RDT sends them. */
const bigLines = big.entries.map((e, i) => (e.kind === 'message' ? `${i + 1} ${e.author}: ${e.text}` : ''));
const small: Thread = { title: 'small', creator: 'alice', entries: [{ kind: 'message', author: 'alice', text: 'hi' }] };
/** 16 messages of 431 characters: a reply of 7 KiB, under the mark of 8 KiB a reply was rated from before. */
const seven: Thread = { title: 'seven', creator: 'alice', entries: Array.from({ length: 16 }, (_, i) => ({ kind: 'message', author: 'alice', text: `${'m'.repeat(430)}${i % 10}` })) };

/** A fake connection served with `ctx`, logged in as `user` (a new account), its replies logged in `answered`. */
const loggedIn = (ctx: ServerContext, answered: string[], user: string, address: string): Promise<FakeConnection> => loggedInAt(ctx, user, address, answered);

/**
 * A server context over these threads whose large-reply rate is 1 MiB/s with 1 MiB of burst on the test's clock
 * (fake-clock-rate.ts): each timer the rate sets is kept in `timers`, and running one moves `clock.now` on by its
 * delay. Replies are logged in `answered`.
 */
const onFakeClock = () => {
  const { clock, timers, rate, ctx } = rig([big, cjk, mid, small, seven]);
  return { clock, timers, largeReplies: rate, ctx, answered: [] as string[] };
};

it("large replies wait for their party's turn at the server's rate: another host's RDT goes before a busy host's second one, and a connection's later MSG waits behind its own RDT, then takes its own turn", async () => {
  // 1 MiB/s, 1 MiB of burst: the first 3.9 MiB reply goes at once and puts the rate 2.9 MiB in debt.
  const { clock, timers, largeReplies, ctx, answered } = onFakeClock();
  // Two accounts of one host, one of another.
  const a1 = await loggedIn(ctx, answered, 'a1', '127.0.0.1');
  const a2 = await loggedIn(ctx, answered, 'a2', '127.0.0.1');
  const b = await loggedIn(ctx, answered, 'b', '127.0.0.2');
  answered.length = 0;
  // A small RDT takes a cheap request's charge only: from a rested bucket it goes at once.
  expect((await a1.request('RDT', ['small'], 's0')).lines).toEqual(['1 alice: hi']);
  expect((await a1.request('RDT', ['big'], 'r0')).lines.length).toBe(980);
  // Asked in this order, each reaching its turn before the next is sent.
  const replies = [a1.request('RDT', ['big'], 'r1'), a1.request('MSG', ['small', 'after'], 'm1')];
  await settle();
  replies.push(a2.request('RDT', ['big'], 'r2'));
  await settle();
  replies.push(b.request('RDT', ['big'], 'r3'));
  await settle();
  expect(answered).toEqual(['127.0.0.1 s0', '127.0.0.1 r0']);
  expect(largeReplies.size).toBe(3);
  // Each timer: the debt paid back, one 3.9 MiB reply goes (into debt again).
  const next = async (): Promise<void> => {
    const t = timers.shift();
    expect(t).toBeDefined();
    t?.();
    await settle();
  };
  await next();
  // a1's waited longest (it stands level with b's, which came later). Its MSG then takes a turn of its own (every
  // request does since session 34): its party's, behind a2's RDT, which came first.
  expect(answered.slice(2)).toEqual(['127.0.0.1 r1']);
  await next();
  // b's host has read less than a2's (which read r0 and r1): b goes first.
  expect(answered.slice(3)).toEqual(['127.0.0.2 r3']);
  await next();
  expect(answered.slice(4)).toEqual(['127.0.0.1 r2']);
  await next();
  expect(answered.slice(5)).toEqual(['127.0.0.1 m1']);
  await Promise.all(replies);
  expect(largeReplies.size).toBe(0);
  expect(clock.now).toBeGreaterThan(8_000);
});

it('a large reply waiting for its turn leaves the line when its connection closes: it takes no turn, and its reservation and session are let go at once', async () => {
  const { timers, largeReplies, ctx, answered } = onFakeClock();
  const a = await loggedIn(ctx, answered, 'a', '127.0.0.1');
  const b = await loggedIn(ctx, answered, 'b', '127.0.0.2');
  // a's first read puts the rate in debt; its second and then b's wait, a's first in line (asked first, level with b's).
  await a.request('RDT', ['big'], 'r0');
  void a.request('RDT', ['big'], 'r1');
  await settle();
  const fromB = b.request('RDT', ['big'], 'r2');
  await settle();
  expect(largeReplies.size).toBe(2);
  // Each waiting reply holds twice its 3.9 MiB (its lines, at most two bytes a character).
  expect(ctx.replyBudget.bytes).toBeGreaterThanOrEqual(2 * 2 * largeReplyEstimate(bigLines));
  a.closed = true;
  a.emit('close', PEER_CLOSED);
  await settle();
  // Out of the line, its reservation released and its session ended, without waiting for the turn it no longer needs.
  expect(largeReplies.size).toBe(1);
  expect(ctx.replyBudget.bytes).toBeLessThan(2 * 2 * largeReplyEstimate(bigLines));
  expect(await ctx.registry.holder('a')()).toEqual({ _tag: 'Right', right: undefined });
  expect(await ctx.registry.holder('b')()).toMatchObject({ _tag: 'Right', right: expect.any(String) });
  // The next turn is b's.
  timers.shift()?.();
  await settle();
  expect((await fromB).lines.length).toBe(980);
  expect(answered).not.toContain('127.0.0.1 r1');
  expect(largeReplies.size).toBe(0);
});

it('a reply large by its bytes, not its characters (CJK text), waits its turn too', async () => {
  const { timers, largeReplies, ctx, answered } = onFakeClock();
  const a = await loggedIn(ctx, answered, 'a', '127.0.0.1');
  const b = await loggedIn(ctx, answered, 'b', '127.0.0.2');
  answered.length = 0;
  // a's full thread puts the rate in debt; b's CJK thread then waits, and a's next too.
  await a.request('RDT', ['big'], 'r0');
  const fromB = b.request('RDT', ['cjk'], 'c0');
  await settle();
  expect(answered).toEqual(['127.0.0.1 r0']);
  expect(largeReplies.size).toBe(1);
  timers.shift()?.();
  await settle();
  expect((await fromB).lines.length).toBe(16);
  expect(answered).toEqual(['127.0.0.1 r0', '127.0.0.2 c0']);
  expect(largeReplies.size).toBe(0);
});

it("a large reply waiting for its turn leaves the line as soon as its session is taken over (a lapsed lease), not at the close handshake's end", async () => {
  const { largeReplies, ctx, answered } = onFakeClock();
  const a = await loggedIn(ctx, answered, 'a', '127.0.0.1');
  await a.request('RDT', ['big'], 'r0');
  void a.request('RDT', ['big'], 'r1');
  await settle();
  expect(largeReplies.size).toBe(1);
  const held = ctx.replyBudget.bytes;
  // The shared registry found its lease lapsed and the account logged in elsewhere: the server ends the session.
  const [endTakenOver] = [...ctx.liveSessions.values()];
  endTakenOver?.();
  await settle();
  // The close is under way, its 'close' not yet come (a peer that does not answer it: seconds).
  expect(a.closeCalls).toBe(1);
  // Before: still in the line (1) and its reservation held, until that 'close'.
  expect(largeReplies.size).toBe(0);
  expect(ctx.replyBudget.bytes).toBeLessThan(held);
  expect(answered).not.toContain('127.0.0.1 r1');
});

it('a large reply waiting for its turn holds of the reply budget what its lines may take, not the 8 MiB the largest reply reserves', async () => {
  const { timers, largeReplies, ctx, answered } = onFakeClock();
  const a = await loggedIn(ctx, answered, 'a', '127.0.0.1');
  const b = await loggedIn(ctx, answered, 'b', '127.0.0.2');
  // a's full thread puts the rate in debt; b's RDT of 117 KiB then waits.
  await a.request('RDT', ['big'], 'r0');
  const fromB = b.request('RDT', ['mid'], 'm0');
  await settle();
  expect(largeReplies.size).toBe(1);
  const lines = mid.entries.map((e, i) => (e.kind === 'message' ? `${i + 1} ${e.author}: ${e.text}` : ''));
  const estimate = largeReplyEstimate(lines);
  expect(estimate).toBeGreaterThan(100 * 1024);
  // Before: 8 MiB and 256 bytes (LARGE_REPLY_RESERVATION) for the whole wait, 70 times its bytes: 28 such
  // replies of one IPv6 /48 held the 224 MiB the server's budget gives large replies, and every other
  // party's read of a thread waited for room.
  expect(ctx.replyBudget.bytesOf('127.0.0.2')).toBe(2 * estimate + 256);
  timers.shift()?.();
  await settle();
  expect((await fromB).lines).toEqual(lines);
  expect(largeReplies.size).toBe(0);
});

it("an RDT of a few KiB is rated too, each its bytes and a fixed charge: a connection reading a 7 KiB thread back to back gets the burst at once, then waits, while another address's tiny read goes at once and a neighbour's takes its party's next turn", async () => {
  const { timers, largeReplies, ctx, answered } = onFakeClock();
  const a = await loggedIn(ctx, answered, 'a', '127.0.0.1');
  const c = await loggedIn(ctx, answered, 'c', '127.0.0.1');
  const d = await loggedIn(ctx, answered, 'd', '127.0.0.2');
  answered.length = 0;
  // The six logins' requests took a cheap request's charge each (session 34): 1 MiB of burst less 288 KiB.
  const left = 1024 * 1024 - 6 * REPLY_FIXED_BYTES;
  const lines = seven.entries.map((e, i) => (e.kind === 'message' ? `${i + 1} ${e.author}: ${e.text}` : ''));
  // Its bytes as the server counts them (ASCII: its characters).
  const cost = replyLinesBytes(lines) + REPLY_FIXED_BYTES;
  expect(replyLinesBytes(lines)).toBeLessThan(8 * 1024);
  // 30 asked at once (a connection runs them one after another): 736 KiB of burst is 13 of 55 KiB, and the 14th puts
  // the rate in debt. On the old code all 30 went at once.
  const replies = Array.from({ length: 30 }, (_, i) => a.request('RDT', ['seven'], `s${i}`));
  await settle();
  const atOnce = Math.floor(left / cost) + 1;
  expect(answered.length).toBe(atOnce);
  expect(atOnce).toBe(14);
  expect(largeReplies.size).toBe(1);
  // A read of a one-line thread from another address goes at once: its party read less than its share, and the
  // debt is under the burst. Before session 34 it was not rated at all.
  expect((await d.request('RDT', ['small'], 'other')).lines).toEqual(['1 alice: hi']);
  expect(answered.at(-1)).toBe('127.0.0.2 other');
  // From the same address it takes its party's next turn, ahead of a's next read, which came after it. On the
  // code before session 34 it went at once (not rated); the accounts of an address share its turns.
  const tiny = c.request('RDT', ['small'], 'tiny');
  await settle();
  expect(answered.at(-1)).toBe('127.0.0.2 other');
  for (let i = 0; i < 6 && !answered.includes('127.0.0.1 tiny'); i++) {
    timers.shift()?.();
    await settle();
  }
  expect((await tiny).lines).toEqual(['1 alice: hi']);
  // The rest one a timer: each the time 1 MiB/s takes to pay its cost back.
  while (timers.length > 0) {
    timers.shift()?.();
    await settle();
  }
  expect((await Promise.all(replies)).every((r) => r.lines.length === 16)).toBe(true);
  expect(largeReplies.size).toBe(0);
  const at = answered.indexOf('127.0.0.1 tiny');
  expect(answered.slice(at - 1, at + 2)).toEqual([`127.0.0.1 s${atOnce}`, '127.0.0.1 tiny', `127.0.0.1 s${atOnce + 1}`]);
});
