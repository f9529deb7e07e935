/**
 * The login retry schedule at its real values: the end-to-end tests of the retries (e2e-login-fault) run it
 * shortened through the test-only scale, so the pauses a user's client waits are checked here.
 */
import { describe, expect, it } from 'vitest';
import { busyGiveUpNotice, LOGIN_PAUSE_SCALE_ENV, loginPauses, loginPauseScale, retryNotice } from '../src/login-pauses.js';

describe('login retry pauses', () => {
  it('a fault is tried again after 1 s then 2 s; a busy server after 1, 2, 4 and 8 s (15 s in all)', () => {
    expect(loginPauses('fault')).toEqual([1_000, 2_000]);
    expect(loginPauses('busy')).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(loginPauses('busy', loginPauseScale({}))).toEqual([1_000, 2_000, 4_000, 8_000]);
  });

  it('says the real pauses: trying again in 1 s, 5 tries in 15 s', () => {
    expect(retryNotice('a fault of the server', loginPauses('fault')[0] ?? 0)).toBe('Login not completed (a fault of the server): trying again in 1 s with the same answers');
    expect(retryNotice('Server busy: x, try again later', loginPauses('busy')[3] ?? 0)).toBe('Login not completed (Server busy: x, try again later): trying again in 8 s with the same answers');
    expect(busyGiveUpNotice('Server busy: x, try again later', loginPauses('busy'))).toBe('Login not completed: Server busy: x, try again later (5 tries in 15 s); the commands were not run');
  });

  it('the test scale only shortens: unset, empty, zero, negative, over 1 or not a number leave the real pauses', () => {
    for (const text of [undefined, '', ' ', '0', '-0.5', '1.5', '100', 'abc', 'NaN', 'Infinity']) expect(loginPauseScale({ [LOGIN_PAUSE_SCALE_ENV]: text }), String(text)).toBe(1);
    expect(loginPauseScale({ [LOGIN_PAUSE_SCALE_ENV]: '0.01' })).toBe(0.01);
    expect(loginPauses('busy', 0.01)).toEqual([10, 20, 40, 80]);
    // Never a pause of 0: each try still waits for a turn of the event loop's timers.
    expect(loginPauses('fault', 1e-9)).toEqual([1, 1]);
  });
});
