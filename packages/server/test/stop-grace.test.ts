import { describe, expect, it } from 'vitest';
import { MIN_TEST_STOP_GRACE_MS, STOP_GRACE_ENV, STOP_GRACE_MS, stopGraceMs } from '../src/stop-grace.js';

describe('FORUM_SERVER_TEST_STOP_GRACE_MS (tests only)', () => {
  it('shortens the stop grace, to 100 ms at least', () => {
    expect(stopGraceMs({ [STOP_GRACE_ENV]: '500' })).toBe(500);
    expect(stopGraceMs({ [STOP_GRACE_ENV]: String(MIN_TEST_STOP_GRACE_MS) })).toBe(100);
    expect(stopGraceMs({ [STOP_GRACE_ENV]: '2000' })).toBe(2_000);
  });

  it('anything else leaves STOP_GRACE_MS (2 s): never longer, never under 100 ms, whole ms only', () => {
    expect(STOP_GRACE_MS).toBe(2_000);
    for (const value of [undefined, '', '99', '0', '2001', '60000', '5e2', '500ms', '-500', ' ']) expect(stopGraceMs({ [STOP_GRACE_ENV]: value })).toBe(STOP_GRACE_MS);
    expect(stopGraceMs({})).toBe(STOP_GRACE_MS);
  });
});
