import { describe, expect, it } from 'vitest';
import { RENEW_MS } from '../src/data-dir-lock.js';
import { LOCK_RENEW_ENV, lockRenewMs, MIN_TEST_LOCK_RENEW_MS } from '../src/lock-renew.js';

describe('FORUM_SERVER_TEST_LOCK_RENEW_MS (tests only)', () => {
  it('shortens the lock renewal interval, to 1 s at least', () => {
    expect(lockRenewMs({ [LOCK_RENEW_ENV]: '2000' })).toBe(2000);
    expect(lockRenewMs({ [LOCK_RENEW_ENV]: String(MIN_TEST_LOCK_RENEW_MS) })).toBe(1000);
    expect(lockRenewMs({ [LOCK_RENEW_ENV]: '5000' })).toBe(5_000);
  });

  it('anything else leaves RENEW_MS (5 s): never longer, never under 1 s, whole ms only', () => {
    expect(RENEW_MS).toBe(5_000);
    for (const value of [undefined, '', '999', '0', '5001', '60000', '2e3', '2000ms', '-2000', ' ']) expect(lockRenewMs({ [LOCK_RENEW_ENV]: value })).toBe(RENEW_MS);
    expect(lockRenewMs({})).toBe(RENEW_MS);
  });
});
