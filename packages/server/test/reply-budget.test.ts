import { hostLevelsOf } from 'forum-protocol';
import { describe, expect, it } from 'vitest';
import { ReplyBudget } from '../src/reply-budget.js';

const MiB = 1024 * 1024;

describe('ReplyBudget', () => {
  it('counts charges per host and gives them back on release', () => {
    const budget = new ReplyBudget(32 * MiB);
    const a = hostLevelsOf('192.0.2.1:4000');
    const b = hostLevelsOf('192.0.2.2:4000');
    const c1 = budget.charge(a, 10 * MiB);
    const c2 = budget.charge(hostLevelsOf('192.0.2.1:5000'), 5 * MiB);
    expect(budget.bytesOf('192.0.2.1')).toBe(15 * MiB);
    expect(budget.bytesOf('192.0.2.2')).toBe(0);
    // Another host is not held back by this one.
    expect(budget.wouldOverflow(a, 18 * MiB)?.key).toBe('192.0.2.1');
    expect(budget.wouldOverflow(a, 17 * MiB)).toBeUndefined();
    expect(budget.wouldOverflow(b, 32 * MiB)).toBeUndefined();
    c1.release();
    expect(budget.bytesOf('192.0.2.1')).toBe(5 * MiB);
    c2.release();
    expect(budget.bytesOf('192.0.2.1')).toBe(0);
    expect(budget.size).toBe(0);
  });

  it('releases a charge once however often it is released', () => {
    const budget = new ReplyBudget(32 * MiB);
    const a = hostLevelsOf('192.0.2.1:4000');
    const first = budget.charge(a, 4 * MiB);
    const second = budget.charge(a, 3 * MiB);
    first.release();
    first.release();
    first.release();
    // A double release taking the other charge's bytes would show 0 here.
    expect(budget.bytesOf('192.0.2.1')).toBe(3 * MiB);
    second.release();
    second.release();
    expect(budget.bytesOf('192.0.2.1')).toBe(0);
    expect(budget.size).toBe(0);
  });

  it('counts an IPv6 host by its /64, and its /56 and /48 at 4 and 16 times', () => {
    const budget = new ReplyBudget(10 * MiB);
    // Two addresses of one /64 share one budget.
    const x = budget.charge(hostLevelsOf('[2001:db8:0:1::1]:1'), 6 * MiB);
    expect(budget.wouldOverflow(hostLevelsOf('[2001:db8:0:1::2]:1'), 5 * MiB)?.multiple).toBe(1);
    x.release();
    // Four /64s of one /56 fill it at 40 MiB: a fifth /64 of it, empty itself, is held back by the /56.
    const inSlash56 = [0, 1, 2, 3].map((i) => budget.charge(hostLevelsOf(`[2001:db8:0:${i}::1]:1`), 10 * MiB));
    const fifth = hostLevelsOf('[2001:db8:0:4::1]:1');
    expect(budget.wouldOverflow(fifth, 1)?.multiple).toBe(4);
    // Another /56 of the same /48 still has room, up to the /48's 160 MiB.
    expect(budget.wouldOverflow(hostLevelsOf('[2001:db8:0:100::1]:1'), 10 * MiB)).toBeUndefined();
    const others = Array.from({ length: 12 }, (_, i) => budget.charge(hostLevelsOf(`[2001:db8:0:${(i + 4) * 256}::1]:1`), 10 * MiB));
    expect(budget.wouldOverflow(hostLevelsOf('[2001:db8:0:f000::1]:1'), 1)?.multiple).toBe(16);
    // Another /48 is untouched.
    expect(budget.wouldOverflow(hostLevelsOf('[2001:db8:1::1]:1'), 10 * MiB)).toBeUndefined();
    for (const c of [...inSlash56, ...others]) c.release();
    expect(budget.size).toBe(0);
  });

  it("wakes a waiter on a release of its host's bytes, and only then", async () => {
    const budget = new ReplyBudget(10 * MiB);
    const c = budget.charge(hostLevelsOf('192.0.2.1:1'), 10 * MiB);
    const elsewhere = budget.charge(hostLevelsOf('192.0.2.9:1'), MiB);
    let woken = 0;
    const waiting = budget.released('192.0.2.1').then(() => woken++);
    // Another host's acknowledgement does not wake it.
    elsewhere.release();
    await Promise.resolve();
    await Promise.resolve();
    expect(woken).toBe(0);
    c.release();
    await waiting;
    expect(woken).toBe(1);
    // A second release of the same charge wakes nobody: it changed nothing.
    let again = 0;
    void budget.released('192.0.2.1').then(() => again++);
    c.release();
    await Promise.resolve();
    await Promise.resolve();
    expect(again).toBe(0);
  });

  it('refuses a budget that is not positive', () => {
    expect(() => new ReplyBudget(0)).toThrow(RangeError);
    expect(() => new ReplyBudget(Number.NaN)).toThrow(RangeError);
  });
});
