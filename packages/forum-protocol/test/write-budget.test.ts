import { describe, expect, it } from 'vitest';
import { createWriteBudget, DEFAULT_WRITE_BUDGET } from '../src/index.js';

const MiB = 1024 * 1024;

/** `account` writes `bytes` whenever the budget lets it, from 0 to `ms`; returns the bytes it wrote. */
const greedy = (take: (bytes: number, now: number) => { retryAfterMs: number } | undefined, bytes: number, ms: number): number => {
  let written = 0;
  for (let now = 0; now <= ms; ) {
    const refused = take(bytes, now);
    if (refused === undefined) written += bytes;
    else {
      expect(refused.retryAfterMs).toBeGreaterThan(0);
      now += refused.retryAfterMs;
    }
  }
  return written;
};

describe('write budget', () => {
  it('never charges a write under the threshold', () => {
    const b = createWriteBudget();
    for (let i = 0; i < 10_000; i++) expect(b.take('ann', DEFAULT_WRITE_BUDGET.minChargedBytes - 1, 0)).toBeUndefined();
  });

  it('one account looping large writes gets its burst, then its rate', () => {
    const b = createWriteBudget({ accountBytesPerSecond: 4 * MiB, burstBytes: 16 * MiB, storeBytesPerSecond: 1024 * MiB });
    // At one instant: the burst, and the write that takes it into debt.
    let at0 = 0;
    while (b.take('ann', 4 * MiB, 0) === undefined) at0 += 4 * MiB;
    expect(at0).toBe(16 * MiB);
    // Over 10 s in all: the burst plus 4 MiB/s, within one write.
    const later = greedy((bytes, now) => b.take('ann', bytes, now), 4 * MiB, 10_000);
    expect(at0 + later).toBeGreaterThanOrEqual(16 * MiB + 40 * MiB - 4 * MiB);
    expect(at0 + later).toBeLessThanOrEqual(16 * MiB + 40 * MiB + 4 * MiB);
  });

  it("one account's debt is its own: another account still writes", () => {
    const b = createWriteBudget({ accountBytesPerSecond: MiB, burstBytes: 4 * MiB, storeBytesPerSecond: 64 * MiB });
    while (b.take('mallory', MiB, 0) === undefined);
    expect(b.take('mallory', MiB, 0)).toEqual({ who: 'account', retryAfterMs: expect.any(Number) });
    expect(b.take('ann', MiB, 0)).toBeUndefined();
  });

  it('the store as a whole is bounded, however many accounts write', () => {
    const b = createWriteBudget({ accountBytesPerSecond: 8 * MiB, burstBytes: 8 * MiB, storeBytesPerSecond: 16 * MiB, storeBurstBytes: 8 * MiB });
    let total = 0;
    let storeRefusals = 0;
    for (let now = 0; now <= 10_000; now += 10) {
      for (let a = 0; a < 50; a++) {
        const r = b.take(`acct${a}`, MiB, now);
        if (r === undefined) total += MiB;
        else if (r.who === 'store') storeRefusals++;
      }
    }
    expect(storeRefusals).toBeGreaterThan(0);
    // The store's burst, 16 MiB/s for 10 s, and at most one write of debt.
    expect(total).toBeLessThanOrEqual(8 * MiB + 160 * MiB + MiB);
    expect(total).toBeGreaterThanOrEqual(160 * MiB - MiB);
  });

  it('a write larger than the burst is slowed, not refused forever: the account waits out its debt', () => {
    const b = createWriteBudget({ accountBytesPerSecond: MiB, burstBytes: 2 * MiB });
    expect(b.take('ann', 16 * MiB, 0)).toBeUndefined();
    const r = b.take('ann', 16 * MiB, 0);
    // 14 MiB of debt at 1 MiB/s.
    expect(r?.who).toBe('account');
    expect(r?.retryAfterMs).toBeGreaterThanOrEqual(14_000);
    expect(r?.retryAfterMs).toBeLessThanOrEqual(14_001);
    expect(b.take('ann', 16 * MiB, 13_999)).toBeDefined();
    expect(b.take('ann', 16 * MiB, 14_001)).toBeUndefined();
  });

  it('a refused write charges nothing', () => {
    const b = createWriteBudget({ accountBytesPerSecond: MiB, burstBytes: MiB, storeBytesPerSecond: 1024 * MiB });
    expect(b.take('ann', MiB, 0)).toBeUndefined();
    for (let i = 0; i < 100; i++) expect(b.take('ann', MiB, 0)).toBeDefined();
    // Still 1 s of debt, not 101.
    expect(b.take('ann', MiB, 1_001)).toBeUndefined();
  });

  it('forgets the account charged longest ago past maxTracked', () => {
    const b = createWriteBudget({ accountBytesPerSecond: MiB, burstBytes: MiB, maxTracked: 2 });
    expect(b.take('a', MiB, 0)).toBeUndefined();
    expect(b.take('b', MiB, 0)).toBeUndefined();
    expect(b.take('a', MiB, 0)).toBeDefined();
    expect(b.take('c', MiB, 0)).toBeUndefined();
    // 'a' was charged before 'b': forgotten, it starts full again; 'b' is still in debt.
    expect(b.take('b', MiB, 0)).toBeDefined();
    expect(b.take('a', MiB, 0)).toBeUndefined();
  });

  it('refuses limits that are not positive numbers', () => {
    expect(() => createWriteBudget({ accountBytesPerSecond: 0 })).toThrow(RangeError);
    expect(() => createWriteBudget({ storeBytesPerSecond: Number.NaN })).toThrow(RangeError);
    expect(() => createWriteBudget({ burstBytes: -1 })).toThrow(RangeError);
    expect(() => createWriteBudget({ storeBurstBytes: 0.5 })).toThrow(RangeError);
    expect(() => createWriteBudget({ minChargedBytes: 0 })).not.toThrow();
  });
});
