import { describe, expect, it } from 'vitest';
import { Reassembly } from '../src/core/reassembly.js';
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
