/** The queue budget (attack finding 2: 256 connections of one host held 430 MiB of queued requests). */
import { describe, expect, it } from 'vitest';
import { QueueBudget, type QueueHolder } from '../src/queue-budget.js';

const KIB = 1024;
const limits = { perHost: 400 * KIB, perConnection: 200 * KIB, perConnectionBeforeLogin: 128 * KIB };

/** A holder that records its eviction and forgets itself, as a connection does. */
const holderOf = (budget: QueueBudget, host: string, evicted: QueueHolder[]): QueueHolder => {
  const h: QueueHolder = {
    host,
    evict: () => {
      evicted.push(h);
      budget.forget(h);
    },
  };
  return h;
};

describe('QueueBudget', () => {
  it('a connection past its own bound is refused, tighter before login', () => {
    const b = new QueueBudget(limits);
    const h = holderOf(b, 'a', []);
    expect(b.charge(h, 96 * KIB, false)).toBe('ok');
    expect(b.charge(h, 33 * KIB, false)).toBe('connectionFull');
    expect(b.charge(h, 33 * KIB, true)).toBe('ok');
    expect(b.bytesOf(h)).toBe(129 * KIB);
    b.release(h, 96 * KIB);
    expect(b.charge(h, 95 * KIB, false)).toBe('ok');
    expect(b.bytesOf(h)).toBe(128 * KIB);
  });

  it('256 connections of one host sending at once, interleaved: the host never holds more than its bound, the largest queues go', () => {
    const b = new QueueBudget(limits);
    const evicted: QueueHolder[] = [];
    const flooders = Array.from({ length: 256 }, () => holderOf(b, '2001:db8::/64', evicted));
    const neighbour = holderOf(b, '2001:db8::/64', evicted);
    const elsewhere = holderOf(b, '192.0.2.1', evicted);
    let peak = 0;
    // Rounds of one request per connection, as messages of many connections arrive interleaved.
    for (let round = 0; round < 4; round++) {
      for (const f of flooders) {
        if (evicted.includes(f)) continue;
        b.charge(f, 30 * KIB, false);
        peak = Math.max(peak, b.hostBytes('2001:db8::/64'));
      }
      expect(b.charge(neighbour, 200, false)).toBe('ok');
      peak = Math.max(peak, b.hostBytes('2001:db8::/64'));
    }
    expect(peak).toBeLessThanOrEqual(limits.perHost);
    expect(evicted).not.toContain(neighbour);
    expect(b.bytesOf(neighbour)).toBe(800);
    // Another host has its own budget.
    expect(b.charge(elsewhere, 128 * KIB, false)).toBe('ok');
    expect(evicted).not.toContain(elsewhere);
    // Everything forgotten: nothing is counted any more.
    for (const h of [...flooders, neighbour, elsewhere]) b.forget(h);
    expect(b.hostBytes('2001:db8::/64')).toBe(0);
    expect(b.hostBytes('192.0.2.1')).toBe(0);
  });

  it('the holder charging may itself be the largest: it is evicted and told so', () => {
    const b = new QueueBudget({ perHost: 100, perConnection: 100, perConnectionBeforeLogin: 100 });
    const evicted: QueueHolder[] = [];
    const small = holderOf(b, 'h', evicted);
    const big = holderOf(b, 'h', evicted);
    expect(b.charge(small, 10, false)).toBe('ok');
    expect(b.charge(big, 60, false)).toBe('ok');
    expect(b.charge(big, 35, false)).toBe('evicted');
    expect(evicted).toEqual([big]);
    expect(b.hostBytes('h')).toBe(10);
  });
});
