import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Reassembly } from '../src/core/receive/reassembly.js';
import type { FragmentFrame } from '../src/wire/frame.js';

const whole = (messageId: number, data: Uint8Array): FragmentFrame => ({ type: 'fragment', messageId, messageLength: data.length, offset: 0, data });

describe('Reassembly of one-fragment messages', () => {
  it('hands over a fragment that is most of its datagram without copying it', () => {
    const datagram = new Uint8Array(1200);
    const data = datagram.subarray(20, 20 + 1024).fill(7);
    const r = new Reassembly(1 << 20);
    expect(r.accept(whole(0, data))).toBe('new');
    const m = r.pop() as Uint8Array;
    expect(m.buffer).toBe(datagram.buffer);
    expect(m).toEqual(new Uint8Array(1024).fill(7));
  });

  it('copies a small fragment, so a kept message never pins (or shares) a large buffer', () => {
    const slab = new Uint8Array(64 * 1024);
    const data = slab.subarray(100, 164).fill(9);
    const r = new Reassembly(1 << 20);
    r.accept(whole(0, data));
    const m = r.pop() as Uint8Array;
    expect(m.buffer).not.toBe(slab.buffer);
    slab.fill(0);
    expect(m).toEqual(new Uint8Array(64).fill(9));
  });
});

describe('Reassembly order', () => {
  it('releases messages strictly in id order whatever order (and repeats) they arrive in', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 19 }), { minLength: 1, maxLength: 80 }), (arrivals) => {
        const r = new Reassembly(1 << 20);
        const seen = new Set<number>();
        const out: number[] = [];
        for (const id of arrivals) {
          const res = r.accept(whole(id, new Uint8Array(8).fill(id)));
          // Already delivered or already waiting: a duplicate; otherwise new.
          expect(res).toBe(seen.has(id) ? 'duplicate' : 'new');
          seen.add(id);
          // Read whenever something is ready, as a driver does.
          while (r.hasNext()) out.push((r.pop() as Uint8Array)[0] as number);
        }
        const expected: number[] = [];
        while (seen.has(expected.length)) expected.push(expected.length);
        expect(out).toEqual(expected);
        expect(r.buffered).toBe((seen.size - expected.length) * 8);
      }),
      { seed: 7, numRuns: 300 },
    );
  });
});

describe('Reassembly memory', () => {
  it('a reader one message behind for 100,000 messages keeps a bounded run', () => {
    const r = new Reassembly(1 << 20);
    r.accept(whole(0, new Uint8Array(8)));
    for (let id = 1; id <= 100_000; id++) {
      r.accept(whole(id, new Uint8Array(8)));
      expect(r.pop()).toBeDefined();
    }
    expect(r.buffered).toBe(8);
    // Internal: the run of read slots is compacted, not grown for ever.
    expect((r as unknown as { run: unknown[] }).run.length).toBeLessThan(4096);
  });
});

describe('Reassembly.isWhole / firstMissing (what repairs and MESSAGE_ACK rely on)', () => {
  const four = (messageId: number): FragmentFrame => ({ type: 'fragment', messageId, messageLength: 4, offset: 0, data: new Uint8Array(4).fill(messageId) });
  it('counts messages waiting in order, after a gap, and already read', () => {
    const r = new Reassembly(1 << 20);
    for (const id of [0, 1, 3]) expect(r.accept(four(id))).toBe('new');
    expect(r.firstMissing()).toBe(2);
    expect([0, 1, 2, 3, 4].map((id) => r.isWhole(id))).toEqual([true, true, false, true, false]);
    r.pop();
    expect(r.isWhole(0)).toBe(true);
    expect(r.accept(four(2))).toBe('new');
    expect(r.firstMissing()).toBe(4);
    expect(r.accept(four(1))).toBe('duplicate');
  });
});
