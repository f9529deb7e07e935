/**
 * Reassembly rules one by one: duplicate fragments of a multi-packet message,
 * the receive-window bound, the id horizon, malformed fragments, and release
 * in id order. (../reassembly.test.ts covers ordering at random and memory.)
 */
import { describe, expect, it } from 'vitest';
import { MAX_MESSAGES_AHEAD, Reassembly, SMALL_BUFFER_BYTES } from '../../src/core/receive/reassembly.js';
import { MESSAGE_CREDIT, creditOf } from '../../src/core/credit.js';
import type { FragmentFrame } from '../../src/wire/frame.js';

/** Fragment of message `id` (`length` bytes, byte i = (id + i) % 251) covering [offset, offset + n). */
function frag(id: number, length: number, offset: number, n: number): FragmentFrame {
  return { type: 'fragment', messageId: id, messageLength: length, offset, data: body(id, length).slice(offset, offset + n) };
}

function body(id: number, length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (id + i) % 251);
}

const whole = (id: number, length: number): FragmentFrame => frag(id, length, 0, length);

/** Every message `r` releases now. */
function drain(r: Reassembly): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let m = r.pop(); m !== undefined; m = r.pop()) out.push(m);
  return out;
}

describe('Reassembly: a message in several fragments', () => {
  it('a duplicate fragment neither completes the message early nor corrupts nor double-delivers it', () => {
    const r = new Reassembly(1 << 20);
    expect(r.accept(frag(0, 30, 0, 10))).toBe('new');
    expect(r.accept(frag(0, 30, 0, 10))).toBe('duplicate');
    expect(r.accept(frag(0, 30, 10, 10))).toBe('new');
    // Two of three fragments, one of them twice: not whole yet.
    expect(r.hasNext()).toBe(false);
    expect(r.isWhole(0)).toBe(false);
    expect(r.accept(frag(0, 30, 10, 10))).toBe('duplicate');
    expect(r.accept(frag(0, 30, 20, 10))).toBe('new');
    expect(drain(r)).toEqual([body(0, 30)]);
    // After completion every fragment of it is a duplicate, and nothing more is released.
    expect(r.accept(frag(0, 30, 20, 10))).toBe('duplicate');
    expect(r.accept(frag(0, 30, 0, 10))).toBe('duplicate');
    expect(drain(r)).toEqual([]);
    expect(r.buffered).toBe(0);
  });

  it('a duplicate with different bytes does not overwrite what arrived first', () => {
    const r = new Reassembly(1 << 20);
    r.accept(frag(0, 20, 0, 10));
    expect(r.accept({ ...frag(0, 20, 0, 10), data: new Uint8Array(10).fill(0xee) })).toBe('duplicate');
    r.accept(frag(0, 20, 10, 10));
    expect(drain(r)).toEqual([body(0, 20)]);
  });

  it('fragments in any order, interleaved with other messages', () => {
    const r = new Reassembly(1 << 20);
    r.accept(frag(1, 25, 20, 5));
    r.accept(frag(0, 12, 6, 6));
    r.accept(frag(1, 25, 0, 10));
    expect(r.hasNext()).toBe(false);
    r.accept(frag(0, 12, 0, 6));
    expect(r.hasNext()).toBe(true);
    expect(r.firstMissing()).toBe(1);
    r.accept(frag(1, 25, 10, 10));
    expect(drain(r)).toEqual([body(0, 12), body(1, 25)]);
  });

  it('an empty fragment of a non-empty message counts for nothing', () => {
    const r = new Reassembly(1 << 20);
    expect(r.accept(frag(0, 10, 0, 5))).toBe('new');
    expect(r.accept({ ...frag(0, 10, 5, 0), data: new Uint8Array(0) })).toBe('duplicate');
    // …and does not mark its offset as seen.
    expect(r.accept(frag(0, 10, 5, 5))).toBe('new');
    expect(drain(r)).toEqual([body(0, 10)]);
  });

  it('a fragment that disagrees on the message length is refused', () => {
    const r = new Reassembly(1 << 20);
    r.accept(frag(0, 20, 0, 10));
    expect(r.accept(frag(0, 21, 10, 10))).toBe('refused');
    expect(r.accept(frag(0, 20, 10, 10))).toBe('new');
    expect(drain(r)).toEqual([body(0, 20)]);
  });

  it('a whole-message fragment after a partial one completes that message without counting it twice', () => {
    const r = new Reassembly(1 << 20);
    r.accept(frag(0, 20, 10, 10));
    expect(r.buffered).toBe(creditOf(20));
    expect(r.accept(whole(0, 20))).toBe('new');
    expect(r.buffered).toBe(creditOf(20));
    expect(drain(r)).toEqual([body(0, 20)]);
    expect(r.buffered).toBe(0);
    expect(r.accept(frag(0, 20, 0, 10))).toBe('duplicate');
  });

  it('an empty message arrives whole and is released as an empty message', () => {
    const r = new Reassembly(1 << 20);
    expect(r.accept(whole(0, 0))).toBe('new');
    expect(r.accept(whole(0, 0))).toBe('duplicate');
    expect(drain(r)).toEqual([new Uint8Array(0)]);
  });
});

describe('Reassembly: bounds', () => {
  it('buffers up to exactly the window and refuses a message that would pass it', () => {
    // Each message takes its bytes and MESSAGE_CREDIT of the window.
    const C = MESSAGE_CREDIT;
    const r = new Reassembly(100 + 2 * C);
    expect(r.accept(whole(0, 60))).toBe('new');
    expect(r.accept(whole(1, 41))).toBe('refused');
    expect(r.accept(whole(1, 40))).toBe('new');
    expect(r.buffered).toBe(100 + 2 * C);
    expect(r.accept(whole(2, 0))).toBe('refused');
    // Reading frees the window.
    expect(r.pop()).toEqual(body(0, 60));
    expect(r.buffered).toBe(creditOf(40));
    expect(r.accept(whole(2, 60))).toBe('new');
  });

  it('counts each message held, however short: a window holds at most window / MESSAGE_CREDIT of them', () => {
    // Empty messages after a missing one: before, 65,536 of them were held in any window (some 18 MB).
    const window = 64 * MESSAGE_CREDIT;
    const r = new Reassembly(window);
    for (let id = 1; id <= 64; id++) expect(r.accept(whole(id, 0))).toBe('new');
    expect(r.accept(whole(65, 0))).toBe('refused');
    expect(r.buffered).toBe(window);
    // The missing one does not fit either until the application reads.
    expect(r.accept(whole(0, 0))).toBe('refused');
  });

  it('a partial message reserves its whole length at its first fragment', () => {
    const C = MESSAGE_CREDIT;
    const r = new Reassembly(100 + 2 * C);
    expect(r.accept(frag(0, 80, 0, 10))).toBe('new');
    expect(r.buffered).toBe(creditOf(80));
    expect(r.accept(frag(1, 21, 0, 10))).toBe('refused');
    expect(r.accept(frag(1, 20, 0, 10))).toBe('new');
    expect(r.buffered).toBe(100 + 2 * C);
    // Later fragments of a message already reserved are not refused.
    expect(r.accept(frag(0, 80, 10, 70))).toBe('new');
    expect(r.accept(frag(1, 20, 10, 10))).toBe('new');
    expect(drain(r).map((m) => m.length)).toEqual([80, 20]);
    expect(r.buffered).toBe(0);
  });

  it('tracks message ids up to MAX_MESSAGES_AHEAD past the next one to deliver', () => {
    const r = new Reassembly(1 << 20);
    expect(r.accept(whole(MAX_MESSAGES_AHEAD, 1))).toBe('refused');
    expect(r.accept(frag(MAX_MESSAGES_AHEAD, 10, 0, 5))).toBe('refused');
    expect(r.accept(whole(MAX_MESSAGES_AHEAD - 1, 1))).toBe('new');
    r.accept(whole(0, 1));
    r.pop();
    expect(r.accept(whole(MAX_MESSAGES_AHEAD, 1))).toBe('new');
  });
});

describe('Reassembly: release in id order', () => {
  it('a message after a gap waits; the one that fills the gap releases the run behind it', () => {
    const r = new Reassembly(1 << 20);
    r.accept(whole(2, 3));
    r.accept(whole(3, 4));
    r.accept(whole(5, 6));
    expect(r.hasNext()).toBe(false);
    expect(r.pop()).toBeUndefined();
    expect(r.firstMissing()).toBe(0);
    expect([2, 3, 5].map((id) => r.isWhole(id))).toEqual([true, true, true]);
    expect(r.isWhole(4)).toBe(false);
    r.accept(whole(1, 2));
    expect(r.hasNext()).toBe(false);
    r.accept(whole(0, 1));
    expect(r.firstMissing()).toBe(4);
    expect(drain(r)).toEqual([body(0, 1), body(1, 2), body(2, 3), body(3, 4)]);
    r.accept(whole(4, 5));
    expect(r.firstMissing()).toBe(6);
    expect(drain(r)).toEqual([body(4, 5), body(5, 6)]);
    expect(r.buffered).toBe(0);
  });

  it('buffered counts whole messages not yet read and partial ones', () => {
    const r = new Reassembly(1 << 20);
    r.accept(whole(0, 7));
    r.accept(whole(2, 9));
    r.accept(frag(1, 30, 0, 10));
    expect(r.buffered).toBe(creditOf(7) + creditOf(9) + creditOf(30));
    r.pop();
    expect(r.buffered).toBe(creditOf(9) + creditOf(30));
    r.accept(frag(1, 30, 10, 20));
    expect(r.buffered).toBe(creditOf(9) + creditOf(30));
    drain(r);
    expect(r.buffered).toBe(0);
  });

  it('a reader that keeps one message behind over many messages still gets each once, in order', () => {
    const r = new Reassembly(1 << 20);
    const got: number[] = [];
    r.accept(whole(0, 1));
    for (let id = 1; id < 3_000; id++) {
      r.accept(whole(id, 1));
      if (id % 3 === 0) r.accept(whole(id - 1, 1));
      const m = r.pop();
      if (m) got.push(m[0] as number);
    }
    got.push(...drain(r).map((m) => m[0] as number));
    expect(got).toEqual(Array.from({ length: 3_000 }, (_, id) => id % 251));
  });

  it('a whole fragment of a buffer over SMALL_BUFFER_BYTES is kept as a view when it is at least half its buffer, copied otherwise', () => {
    const n = SMALL_BUFFER_BYTES;
    const half = new Uint8Array(2 * n);
    const r = new Reassembly(1 << 20);
    r.accept({ type: 'fragment', messageId: 0, messageLength: n, offset: 0, data: half.subarray(0, n) });
    r.accept({ type: 'fragment', messageId: 1, messageLength: n - 1, offset: 0, data: half.subarray(n, 2 * n - 1) });
    const [a, b] = drain(r);
    expect(a?.buffer).toBe(half.buffer);
    expect(b?.buffer).not.toBe(half.buffer);
  });
});

describe('Reassembly: memory of the in-order run', () => {
  /** The run's internals: what a never-caught-up reader could otherwise grow without bound. */
  const runOf = (r: Reassembly): { run: unknown[]; runHead: number } => r as unknown as { run: unknown[]; runHead: number };

  it('a message released into an empty run takes one array of exactly two entries: the message, then its channel and kind', () => {
    const r = new Reassembly(1 << 20);
    r.accept(whole(0, 3));
    expect(runOf(r).run).toEqual([body(0, 3), 0]);
    r.acceptDatagram(2, new Uint8Array([9]));
    expect(runOf(r).run).toEqual([body(0, 3), 0, new Uint8Array([9]), 2 * 2 + 1]);
    expect([r.nextChannel(), r.nextIsReliable()]).toEqual([0, true]);
    r.pop();
    expect([r.nextChannel(), r.nextIsReliable()]).toEqual([2, false]);
    expect(r.pop()).toEqual(new Uint8Array([9]));
    expect(runOf(r).run.length).toBe(0);
  });

  it('a reader that catches up leaves an empty run', () => {
    const r = new Reassembly(1 << 20);
    for (let id = 0; id < 5; id++) r.accept(whole(id, 3));
    drain(r);
    expect(runOf(r).run.length).toBe(0);
    expect(runOf(r).runHead).toBe(0);
    r.accept(whole(5, 3));
    expect(r.pop()).toEqual(body(5, 3));
  });

  it('a reader one message behind for 20,000 messages keeps the run short', () => {
    const r = new Reassembly(1 << 20);
    r.accept(whole(0, 1));
    let longest = 0;
    for (let id = 1; id <= 20_000; id++) {
      r.accept(whole(id, 1));
      expect(r.pop()?.[0]).toBe((id - 1) % 251);
      longest = Math.max(longest, runOf(r).run.length);
    }
    expect(longest).toBeLessThanOrEqual(2 * 1_025 + 1);
    expect(r.firstMissing()).toBe(20_001);
  });
});
