import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectIs } from './helpers/cheap-expect.js';
import { Reassembly, SMALL_BUFFER_BYTES } from '../src/core/receive/reassembly.js';
import { creditOf } from '../src/core/credit.js';
import type { Delivery, FragmentFrame } from '../src/wire/frame.js';

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

  it('hands over a small fragment of a small datagram without copying it (a copy would cost more than the datagram)', () => {
    // A 16-byte message of idle traffic in its datagram of some 50 bytes.
    const datagram = new Uint8Array(50);
    const data = datagram.subarray(20, 36).fill(5);
    const r = new Reassembly(1 << 20);
    r.accept(whole(0, data));
    r.acceptDatagram(0, datagram.subarray(40, 44).fill(6));
    const m = r.pop() as Uint8Array;
    expect(m.buffer).toBe(datagram.buffer);
    expect(m).toEqual(new Uint8Array(16).fill(5));
    const d = r.pop() as Uint8Array;
    expect(d.buffer).toBe(datagram.buffer);
    expect(d).toEqual(new Uint8Array(4).fill(6));
  });

  it('copies a small fragment of a buffer over SMALL_BUFFER_BYTES that it is not most of', () => {
    const datagram = new Uint8Array(SMALL_BUFFER_BYTES + 1);
    const data = datagram.subarray(20, 36).fill(5);
    const r = new Reassembly(1 << 20);
    r.accept(whole(0, data));
    const m = r.pop() as Uint8Array;
    expect(m.buffer).not.toBe(datagram.buffer);
    expect(m).toEqual(new Uint8Array(16).fill(5));
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
      fc.property(fc.array(fc.nat({ max: 19 }), { minLength: 1, maxLength: 80, size: 'max' }), (arrivals) => {
        const r = new Reassembly(1 << 20);
        const seen = new Set<number>();
        const out: number[] = [];
        for (const id of arrivals) {
          const res = r.accept(whole(id, new Uint8Array(8).fill(id)));
          // Already delivered or already waiting: a duplicate; otherwise new.
          expectIs(res, seen.has(id) ? 'duplicate' : 'new');
          seen.add(id);
          // Read whenever something is ready, as a driver does.
          while (r.hasNext()) out.push((r.pop() as Uint8Array)[0] as number);
        }
        const expected: number[] = [];
        while (seen.has(expected.length)) expected.push(expected.length);
        expect(out).toEqual(expected);
        expect(r.buffered).toBe((seen.size - expected.length) * creditOf(8));
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
      // vitest's matcher only to report a failure (cheap-expect.ts): 100,000 passing ones were most of the test.
      const read = r.pop();
      if (read === undefined) expect(read).toBeDefined();
    }
    expect(r.buffered).toBe(creditOf(8));
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

describe('Reassembly by channel', () => {
  const on = (messageId: number, delivery: Delivery | undefined): FragmentFrame => {
    const data = new Uint8Array(4).fill(messageId);
    return delivery === undefined ? whole(messageId, data) : { ...whole(messageId, data), delivery };
  };
  const drain = (r: Reassembly): [number, number][] => {
    const out: [number, number][] = [];
    while (r.hasNext()) {
      const channel = r.nextChannel();
      out.push([(r.pop() as Uint8Array)[0] as number, channel]);
    }
    return out;
  };

  it('an ordered message waits for its predecessor on its own channel only', () => {
    const r = new Reassembly(1 << 20);
    // Sent: 0 (channel 0), 1 (channel 1, its first), 2 (channel 0, after 0), 3 (channel 1, after 1).
    const sent = [
      on(0, undefined),
      on(1, { channel: 1, ordered: true, predecessorDelta: 0 }),
      on(2, { channel: 0, ordered: true, predecessorDelta: 2 }),
      on(3, { channel: 1, ordered: true, predecessorDelta: 2 }),
    ];
    r.accept(sent[3] as FragmentFrame);
    expect(drain(r)).toEqual([]);
    r.accept(sent[2] as FragmentFrame); // waits for 0
    expect(drain(r)).toEqual([]);
    r.accept(sent[1] as FragmentFrame); // channel 1 goes: 1, then 3
    expect(drain(r)).toEqual([
      [1, 1],
      [3, 1],
    ]);
    r.accept(sent[0] as FragmentFrame);
    expect(drain(r)).toEqual([
      [0, 0],
      [2, 0],
    ]);
    expect(r.firstMissing()).toBe(4);
    expect(r.buffered).toBe(0);
  });

  it('an unordered message is released as soon as it is whole; fragments must agree on their delivery', () => {
    const r = new Reassembly(1 << 20);
    const loose = { channel: 2, ordered: false, predecessorDelta: 0 };
    expect(r.accept(on(5, loose))).toBe('new');
    expect(drain(r)).toEqual([[5, 2]]);
    expect(r.isWhole(5)).toBe(true);
    expect(r.firstMissing()).toBe(0);
    const part = (offset: number, delivery: Delivery): FragmentFrame => ({ type: 'fragment', messageId: 7, messageLength: 8, offset, data: new Uint8Array(4).fill(7), delivery });
    expect(r.accept(part(0, loose))).toBe('new');
    expect(r.accept(part(4, { ...loose, channel: 3 }))).toBe('refused');
    expect(r.accept(part(4, loose))).toBe('new');
    expect(drain(r)).toEqual([[7, 2]]);
  });

  it('datagrams are released at once, outside the reliable window, and dropped past their own budget', () => {
    // Room for one reliable message of 10 bytes, and 10 bytes of datagrams.
    const r = new Reassembly(creditOf(10));
    expect(r.acceptDatagram(9, new Uint8Array(6))).toBe(true);
    expect(r.acceptDatagram(9, new Uint8Array(6))).toBe(false);
    expect(r.datagramsDropped).toBe(1);
    expect(r.buffered).toBe(0);
    expect(r.accept(on(0, undefined))).toBe('new'); // the reliable window is untouched
    expect(r.nextIsReliable()).toBe(false);
    expect(drain(r)).toEqual([
      [0, 9],
      [0, 0],
    ]);
    expect(r.acceptDatagram(9, new Uint8Array(10))).toBe(true);
  });

  it('counts an unread datagram MESSAGE_CREDIT longer (flow-control.ts), however short, in a budget of its own apart from reliable messages', () => {
    const r = new Reassembly(4 * creditOf(4));
    for (let i = 0; i < 4; i++) expect(r.acceptDatagram(1, new Uint8Array(0))).toBe(true);
    expect(r.acceptDatagram(1, new Uint8Array(0))).toBe(false);
    expect(r.datagramsDropped).toBe(1);
    // Unread datagrams take none of the reliable window: a reliable message is never refused for them.
    for (let id = 0; id < 4; id++) expect(r.accept(on(id, undefined))).toBe('new');
    drain(r);
    expect(r.acceptDatagram(1, new Uint8Array(0))).toBe(true);
  });
});

describe('Reassembly of overlapping fragments (a chunk resent in pieces after a path MTU black hole)', () => {
  const frag = (data: Uint8Array, offset: number, length: number): FragmentFrame => ({
    type: 'fragment',
    messageId: 0,
    messageLength: data.length,
    offset,
    data: data.subarray(offset, offset + length),
  });
  const message = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) & 0xff);

  it('a whole chunk arriving after one of its pieces fills the rest, and the message is whole only when every byte is', () => {
    const r = new Reassembly(1 << 20);
    expect(r.accept(frag(message, 0, 1400))).toBe('new'); // chunk 0
    expect(r.accept(frag(message, 1400, 700))).toBe('new'); // piece 0 of chunk 1
    expect(r.accept(frag(message, 1400, 1400))).toBe('new'); // chunk 1 whole, late
    expect(r.accept(frag(message, 2100, 700))).toBe('duplicate'); // piece 1: nothing new
    expect(r.hasNext()).toBe(false);
    expect(r.accept(frag(message, 2800, 200))).toBe('new');
    expect(r.pop()).toEqual(message);
  });

  it('pieces arriving after their whole chunk are duplicates', () => {
    const r = new Reassembly(1 << 20);
    r.accept(frag(message, 1400, 1400));
    expect(r.accept(frag(message, 1400, 700))).toBe('duplicate');
    expect(r.accept(frag(message, 2100, 700))).toBe('duplicate');
    r.accept(frag(message, 0, 1400));
    r.accept(frag(message, 2800, 200));
    expect(r.pop()).toEqual(message);
  });
});
