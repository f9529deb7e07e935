/**
 * vitest's matchers for checks made thousands of times a test (after every datagram, every round of a
 * fuzz), called only when the check fails, to report it. An `expect(...)` that passes still costs
 * microseconds (chai's proxies, the matcher state, jest equality's walk): in transport-resend-queue-stress
 * and flow-wire-fuzz they were 40-80% of the file's CPU. Each helper passes exactly when its matcher does.
 */
import { isDeepStrictEqual } from 'node:util';
import { expect } from 'vitest';

/** `expect(actual, message).toBe(expected)` (`Object.is`); `message` built only on a failure. */
export function expectIs<T>(actual: T, expected: T, message?: () => string): void {
  if (!Object.is(actual, expected)) expect(actual, message?.()).toBe(expected);
}

/** `expect(actual, message).toEqual(expected)`, skipped when they are strictly deep-equal (which implies `toEqual`). */
export function expectEqual(actual: unknown, expected: unknown, message?: () => string): void {
  if (!isDeepStrictEqual(actual, expected)) expect(actual, message?.()).toEqual(expected);
}
