/**
 * What a request's turn at the server's rate of request work (large-reply-rate.ts, `LargeReplyRate.request`) must not
 * do to a session: keep a user who typed XIT logged in behind its party's queue, or leave anything held by a request
 * whose connection closed while it waited. Fake connections over a memory store, served by the real session code;
 * the rate's clock and timers are the test's (time moves only as its timers run).
 */
import type { Thread } from 'forum-protocol';
import { expect, it } from 'vitest';
import { onFakeClock as rig, settle } from './fake-clock-rate.js';
import { PEER_CLOSED, type FakeConnection } from './served-connection.js';

const small: Thread = { title: 'small', creator: 'alice', entries: [{ kind: 'message', author: 'alice', text: 'hi' }] };

/** A context over `small` whose rate (1 MiB/s, 1 MiB of burst: 21⅓ cheap requests a second) runs on the test's clock. */
const onFakeClock = () => rig([small]);

/** Reads of `small` back to back on `conn`, one in flight, until `stop()`. */
const reading = async (conn: FakeConnection, stop: () => boolean): Promise<void> => {
  for (let k = 0; !stop(); k++) await conn.request('RDT', ['small'], `r${k}`);
};

it("XIT goes at once while its party's requests wait for the rate: a user behind a NAT of busy neighbours is logged out, not kept at the prompt", async () => {
  const { rate, drive, logIn } = onFakeClock();
  // 16 connections of one address (a NAT) and 8 other addresses, all reading as fast as they may: the rate is
  // contended and the NAT's party has a request of each of its connections waiting.
  const nat = Array.from({ length: 17 }, () => '10.0.7.1');
  const others = Array.from({ length: 8 }, (_, i) => `10.0.7.${i + 10}`);
  const [leaving, ...busy] = await logIn([...nat, ...others]);
  if (leaving === undefined) throw new Error('no connection');
  let stopped = false;
  const floods = busy.map((c) => reading(c, () => stopped));
  // Past the burst: every party has a request waiting.
  await drive(() => rate.size >= busy.length - 1);
  expect(rate.size).toBeGreaterThanOrEqual(busy.length - 1);
  let bye: string | undefined;
  void leaving.request('XIT', [], 'x').then((r) => (bye = r.lines[0]));
  await settle();
  // Without a timer of the rate: on the merged code the XIT took its party's turn, behind its 16 neighbours' reads
  // (16 turns of the NAT's share of 9 parties: some 7 s at this rate, past a client's 8 s at the default rate with
  // a few more neighbours or parties).
  expect(bye).toBe('Goodbye');
  expect(leaving.closeCalls).toBe(1);
  stopped = true;
  await drive(() => rate.size === 0);
  await Promise.all(floods);
  expect(rate.size).toBe(0);
});

it('a request waiting for its turn whose connection closes leaves the line and holds nothing: no waiter, no reply-budget room, no queued bytes, and it never runs', async () => {
  const { clock, rate, ctx, drive, logIn } = onFakeClock();
  const [flooder, victim] = await logIn(['10.0.8.1', '10.0.8.2']);
  if (flooder === undefined || victim === undefined) throw new Error('no connection');
  let stopped = false;
  const flood = reading(flooder, () => stopped);
  await drive(() => rate.size >= 1);
  // Past the burst; then the victim's MSGs: the first goes at once (its party asked less than its share), the
  // second waits for its party's next turn, the other two behind it on the connection.
  const done: string[] = [];
  for (let k = 0; k < 4; k++) void victim.request('MSG', ['small', `p${k}`], `m${k}`).then(() => done.push(`m${k}`));
  await settle();
  expect(done).toEqual(['m0']);
  const waitingBefore = rate.size;
  expect(waitingBefore).toBe(2);
  expect(ctx.queueBudget.hostBytes('10.0.8.2')).toBeGreaterThan(0);
  victim.closed = true;
  victim.emit('close', PEER_CLOSED);
  await settle();
  expect(rate.size).toBe(1);
  expect(ctx.queueBudget.hostBytes('10.0.8.2')).toBe(0);
  stopped = true;
  await drive(() => rate.size === 0);
  await flood;
  expect(rate.size).toBe(0);
  expect(ctx.replyBudget.bytes).toBe(0);
  // The posts that had not run never did.
  expect(done).toEqual(['m0']);
  expect(clock.now).toBeGreaterThan(10_000);
});
