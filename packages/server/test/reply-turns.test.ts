import { describe, expect, it, vi } from 'vitest';
import { ReplyTurns } from '../src/reply-turns.js';

const MiB = 1024 * 1024;

describe('ReplyTurns', () => {
  it('puts the party holding and asking for least first, then first come; a party asking more moves back', () => {
    const held = new Map<string, number>([['a', 0], ['b', 0], ['c', 20 * MiB]]);
    let changes = 0;
    const turns = new ReplyTurns((p) => held.get(p) ?? 0, () => changes++);
    const a1 = turns.ticket();
    turns.join(a1, 'a', 8 * MiB);
    expect(turns.first).toBe('a');
    expect(changes).toBe(1);
    const c1 = turns.ticket();
    turns.join(c1, 'c', 8 * MiB);
    const b1 = turns.ticket();
    turns.join(b1, 'b', 8 * MiB);
    // a and b weigh the same (8 MiB asked): a came first. c holds 20 MiB more.
    expect(turns.first).toBe('a');
    // a asks for more: 16 MiB, behind b.
    const a2 = turns.ticket();
    turns.join(a2, 'a', 8 * MiB);
    expect(turns.first).toBe('b');
    expect(turns.firstNeed()).toBe(8 * MiB);
    // Joining again keeps the place and counts once.
    turns.join(b1, 'b', 8 * MiB);
    b1.done();
    b1.done();
    expect(turns.first).toBe('a');
    a1.done();
    a2.done();
    expect(turns.first).toBe('c');
    c1.done();
    expect(turns.first).toBeUndefined();
    expect(turns.size).toBe(0);
    expect(turns.firstNeed()).toBe(Number.POSITIVE_INFINITY);
  });

  it("finds the first party's least need without walking its requests (it runs at every release)", () => {
    const turns = new ReplyTurns(() => 0, () => undefined);
    const tickets = Array.from({ length: 4_096 }, (_, i) => {
      const t = turns.ticket();
      turns.join(t, 'a', (i % 7) * MiB + MiB);
      return t;
    });
    expect(turns.firstNeed()).toBe(MiB);
    const walks = vi.spyOn(Set.prototype, Symbol.iterator);
    try {
      for (let i = 0; i < 1_000; i++) turns.firstNeed();
      // Before: one walk of the party's 4,096 requests per call.
      expect(walks).not.toHaveBeenCalled();
    } finally {
      walks.mockRestore();
    }
    // Kept right as requests leave: those asking 1 MiB go, then 2 MiB is the least.
    tickets.filter((_, i) => i % 7 === 0).forEach((t) => t.done());
    expect(turns.firstNeed()).toBe(2 * MiB);
    tickets.forEach((t) => t.done());
    expect(turns.firstNeed()).toBe(Number.POSITIVE_INFINITY);
  });
});
