/** event-loop-busy.ts: the event loop's utilisation over the last window against a threshold, on fake timers and a utilisation the test gives. */
import type { EventLoopUtilization } from 'node:perf_hooks';
import { afterEach, expect, it, vi } from 'vitest';
import { BUSY_WINDOW_MS, eventLoopBusy } from '../src/event-loop-busy.js';

afterEach(() => {
  vi.useRealTimers();
});

/** A utilisation whose running time grows by `share` of each window the test moves through. */
const fakeLoop = () => {
  let idle = 0;
  let active = 0;
  const sample = (): EventLoopUtilization => ({ idle, active, utilization: active / Math.max(1, idle + active) });
  return {
    utilization: (a?: EventLoopUtilization, b?: EventLoopUtilization): EventLoopUtilization => {
      if (a === undefined) return sample();
      const from = b ?? { idle: 0, active: 0, utilization: 0 };
      const di = a.idle - from.idle;
      const da = a.active - from.active;
      return { idle: di, active: da, utilization: da / Math.max(1, di + da) };
    },
    run: (share: number) => {
      active += share * BUSY_WINDOW_MS;
      idle += (1 - share) * BUSY_WINDOW_MS;
    },
  };
};

it('is busy once the last window was at least the threshold busy, idle again when it was not; 0 is always busy', () => {
  vi.useFakeTimers();
  const loop = fakeLoop();
  const b = eventLoopBusy(0.3, loop.utilization);
  expect(b.busy()).toBe(false);
  loop.run(0.6);
  vi.advanceTimersByTime(BUSY_WINDOW_MS);
  expect(b.busy()).toBe(true);
  // The window just past decides, not the whole run: 60 % then 10 % is idle.
  loop.run(0.1);
  vi.advanceTimersByTime(BUSY_WINDOW_MS);
  expect(b.busy()).toBe(false);
  loop.run(0.3);
  vi.advanceTimersByTime(BUSY_WINDOW_MS);
  expect(b.busy()).toBe(true);
  b.stop();
  expect(vi.getTimerCount()).toBe(0);
  const always = eventLoopBusy(0, loop.utilization);
  expect(always.busy()).toBe(true);
  expect(vi.getTimerCount()).toBe(0);
});
