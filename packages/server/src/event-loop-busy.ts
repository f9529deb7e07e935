/**
 * Whether the main thread's event loop is busy: the share of the last {@link BUSY_WINDOW_MS} it spent running
 * (Node's event loop utilisation) at or above a threshold. The rate of request work (large-reply-rate.ts) counts
 * only while it is: held to its 682 cheap requests a second, a third of a core, honest load past that waited however
 * idle the core (1,000 addresses asking twice a second: 1.4 s each), and many addresses each asking at their pace
 * made every other party wait a round of them, on a server with most of its core free.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/**
 * Default share of the event loop busy below which the rate of request work counts nothing (`--rate-idle-below`):
 * none, the rate always counts. At 0.3, 32 accounts on 8 addresses reading 1 KiB threads got 2,541 a second and 48 %
 * of a core (660–666 and 29–36 % always counted, 4,189–4,241 and 54–69 % unrated), at 0.5 3,474–3,513 and 53–54 %,
 * an honest MSG's p50 14 and 41–57 ms (26–29 always counted): more for an attacker of a few addresses, for an honest
 * load past 682 requests a second on an idle core (SECURITY.md, A charge per request).
 */
export const DEFAULT_RATE_IDLE_BELOW = 0;

/** How often, ms, the utilisation is sampled: the share over the last such window decides. */
export const BUSY_WINDOW_MS = 100;

/** What {@link eventLoopBusy} returns. */
export interface EventLoopBusy {
  /** Whether the last window's utilisation was at or above the threshold. */
  readonly busy: () => boolean;
  /** Stops sampling (the timer is unref'd: a server that never calls it still exits). */
  readonly stop: () => void;
}

/**
 * Samples the event loop's utilisation every {@link BUSY_WINDOW_MS}; `threshold` a share (0–1): 0 is always busy.
 * `utilization` is passed in for tests (default Node's `performance.eventLoopUtilization`).
 */
export const eventLoopBusy = (
  threshold: number,
  utilization: (a?: EventLoopUtilization, b?: EventLoopUtilization) => EventLoopUtilization = (a, b) => performance.eventLoopUtilization(a, b),
): EventLoopBusy => {
  if (!(threshold > 0)) return { busy: () => true, stop: () => undefined };
  let last = utilization();
  let busy = false;
  const timer = setInterval(() => {
    const now = utilization();
    // Between the two samples: the window just past.
    busy = utilization(now, last).utilization >= threshold;
    last = now;
  }, BUSY_WINDOW_MS);
  timer.unref();
  return { busy: () => busy, stop: () => clearInterval(timer) };
};
