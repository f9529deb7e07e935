/** The fake-clock rate rig of the request-work tests (fake-clock-rate.ts) sees what it waits for. */
import type { Thread } from 'forum-protocol';
import { expect, it } from 'vitest';
import { onFakeClock } from './fake-clock-rate.js';

const small: Thread = { title: 'small', creator: 'alice', entries: [{ kind: 'message', author: 'alice', text: 'hi' }] };

it("a drive until a lone reader's request waits stops there, past the burst, within a second of the clock", async () => {
  const { clock, rate, drive, logIn } = onFakeClock([small]);
  const [reader] = await logIn(['10.0.8.1']);
  if (reader === undefined) throw new Error('no connection');
  let stopped = false;
  const reads = (async () => {
    for (let k = 0; !stopped; k++) await reader.request('RDT', ['small'], `r${k}`);
  })();
  const t0 = clock.now;
  await drive(() => rate.size >= 1);
  // Before: the condition was asked only right after each timer, when the timer had just let the lone request go
  // and its next was not sent yet: never seen, the two request-work rigs either ran 10,000 timers (478 s of the
  // clock) and returned without it, or turned the clock for ever.
  expect(rate.size).toBe(1);
  // The burst (21⅓ cheap requests) and one repayment at 1 MiB/s.
  expect(clock.now - t0).toBeLessThan(1_000);
  stopped = true;
  await drive(() => rate.size === 0);
  await reads;
  expect(rate.size).toBe(0);
});
