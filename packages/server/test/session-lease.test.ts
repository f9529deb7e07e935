import { describe, expect, it } from 'vitest';
import { LEASE_ENV, MAX_LEASE_MS, maxLeaseMs, MIN_TEST_LEASE_MS } from '../src/session-lease.js';

describe('FORUM_SERVER_TEST_LEASE_MS (tests only)', () => {
  it('shortens the longest session lease, to 2 s at least', () => {
    expect(maxLeaseMs({ [LEASE_ENV]: '5000' })).toBe(5000);
    expect(maxLeaseMs({ [LEASE_ENV]: String(MIN_TEST_LEASE_MS) })).toBe(2000);
    expect(maxLeaseMs({ [LEASE_ENV]: '15000' })).toBe(15_000);
  });

  it('anything else leaves MAX_LEASE_MS (15 s): never longer, never under 2 s, whole ms only', () => {
    expect(MAX_LEASE_MS).toBe(15_000);
    for (const value of [undefined, '', '1999', '0', '15001', '60000', '5e3', '5000ms', '-5000', ' ']) expect(maxLeaseMs({ [LEASE_ENV]: value })).toBe(MAX_LEASE_MS);
    expect(maxLeaseMs({})).toBe(MAX_LEASE_MS);
  });
});
