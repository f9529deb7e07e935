/**
 * Test helpers: a server context whose rate of request work (large-reply-rate.ts) runs on a clock the test
 * moves, for the tests of what that rate does to sessions (client-connection-request-*.test.ts). Everything
 * lives in the rig a call returns: nothing is shared between tests or files.
 */
import type { Thread } from 'forum-protocol';
import { expect } from 'vitest';
import type { ServerContext } from '../src/client-connection.js';
import { LargeReplyRate } from '../src/large-reply-rate.js';
import { FakeConnection, memoryContext, serve } from './served-connection.js';

const MIB = 1024 * 1024;

/** Everything settles that can without the rate's timer. */
export const settle = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

/**
 * The most timers one {@link FakeClockRate.drive} runs (the longest drive of these tests runs 6,260): one whose
 * condition never comes throws instead of turning the clock for ever under a reader that never stops.
 */
const MOST_TIMERS = 20_000;

/** What {@link onFakeClock} builds: the rate, its clock and timers, and a context served with it. */
export interface FakeClockRate {
  /** The rate's clock, ms; a timer run moves it by its delay, and a test may move it too. */
  readonly clock: { now: number };
  /** The rate's timers not run yet, in the order set. */
  readonly timers: (() => void)[];
  readonly rate: LargeReplyRate;
  readonly ctx: ServerContext;
  /**
   * Settles, then runs the rate's next timer, until `done` (asked once all has settled, so a request that just
   * went and the next one of its connection are seen waiting), the clock reaches `until`, or 200 rounds found no
   * timer (on code that sets none it returns so). `each` runs before each timer.
   */
  drive(done: () => boolean, until?: number, each?: () => void): Promise<void>;
  /**
   * Connections from `addresses` (replies logged in `answered`, emptied after), logged in as new accounts `u0`, `u1`…
   * while the clock moves as their logins wait; then ten seconds with nothing asked: the bucket full again.
   */
  logIn(addresses: readonly string[], answered?: string[]): Promise<FakeConnection[]>;
}

/**
 * A server context over `threads` whose rate (`bytesPerSecond`, 1 MiB of burst by default) runs on the test's
 * clock: each timer is kept, and running one moves the clock by its delay.
 */
export const onFakeClock = (threads: readonly Thread[], bytesPerSecond = MIB, burstBytes = MIB): FakeClockRate => {
  const clock = { now: 0 };
  const timers: (() => void)[] = [];
  const rate = new LargeReplyRate({
    bytesPerSecond,
    burstBytes,
    now: () => clock.now,
    schedule: (fn, ms) => void timers.push(() => ((clock.now += ms), fn())),
  });
  const ctx: ServerContext = memoryContext(threads, { largeReplies: rate });
  const drive = async (done: () => boolean, until = Infinity, each: () => void = () => undefined): Promise<void> => {
    let ran = 0;
    for (let idle = 0; idle < 200 && clock.now < until; ) {
      await settle();
      // After the settle, not only after a timer: a lone reader's request waits only between the two (a timer lets
      // it go, the settle sends its next), and a condition asked right after each timer never saw it.
      if (done()) break;
      each();
      const t = timers.shift();
      if (t === undefined) {
        idle++;
        continue;
      }
      if (++ran > MOST_TIMERS) throw new Error(`drive: ${MOST_TIMERS} timers run (clock ${clock.now} ms) and the condition never came`);
      t();
    }
    await settle();
  };
  const logIn = async (addresses: readonly string[], answered?: string[]): Promise<FakeConnection[]> => {
    const conns = addresses.map((a) => new FakeConnection(a, answered));
    let left = conns.length;
    const logins = conns.map(async (c, i) => {
      serve(c, ctx);
      const u = c.request('username', [`u${i}`], 'u');
      const p = c.request('newPassword', ['pw'], 'p');
      await u;
      expect((await p).status).toBe('ok');
      left--;
    });
    await drive(() => left === 0);
    await Promise.all(logins);
    clock.now += 10_000;
    if (answered !== undefined) answered.length = 0;
    return conns;
  };
  return { clock, timers, rate, ctx, drive, logIn };
};
