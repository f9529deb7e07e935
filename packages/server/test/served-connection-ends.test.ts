/**
 * The fake connections of served-connection.ts end with their test: a session's idle timer (60 s in
 * memoryContext) left pending ran the idle-timeout code during a later file of the shared-modules worker.
 * Its own process (not in the shared lists): it wraps the global timer functions.
 */
import { afterAll, expect, it } from 'vitest';
import { onFakeClock } from './fake-clock-rate.js';
import { loggedIn, memoryContext } from './served-connection.js';

const SESSION_SOURCE = '/server/src/client-connection.';

/** The global timer functions as they were before the wrap below. */
const real = { setTimeout, clearTimeout } as const;
afterAll(() => void Object.assign(globalThis, real));

/**
 * The timeouts that the session code (client-connection.ts) has started and that are still pending, seen
 * through the global timer functions (not the process's `Timeout` count: vitest's own come and go).
 */
const sessionTimers = new Set<NodeJS.Timeout>();
Object.assign(globalThis, {
  setTimeout: (cb: (...a: unknown[]) => void, ms?: number, ...args: unknown[]): NodeJS.Timeout => {
    const t = real.setTimeout((...a: unknown[]) => (sessionTimers.delete(t), cb(...a)), ms, ...args);
    if ((new Error().stack ?? '').includes(SESSION_SOURCE)) sessionTimers.add(t);
    return t;
  },
  clearTimeout: (t?: string | number | NodeJS.Timeout) => {
    if (typeof t === 'object') sessionTimers.delete(t);
    real.clearTimeout(t);
  },
});

it('a test leaves its connections logged in and idle (loggedIn, and the fake-clock rig)', async () => {
  await loggedIn(memoryContext([]), 'alice', '127.0.0.1');
  await onFakeClock([]).logIn(['127.0.0.2', '127.0.0.3']);
  // Each session's idle timer: what the wrap sees.
  expect(sessionTimers.size).toBe(3);
});

it("no timer of the previous test's sessions is left once it finished", () => {
  expect(sessionTimers.size).toBe(0);
});
