/**
 * The resend queue's tally (its earliest due time and frame sizes, kept
 * in multisets for a long queue): recovering from a removal its multisets
 * do not hold by making them again from the queue.
 */
import { describe, expect, it } from 'vitest';
import { OutgoingMessage } from '../../src/core/send/outgoing-message.js';
import { LONG_QUEUE, QueueTally } from '../../src/core/send/queue-tally.js';

describe('QueueTally with broken bookkeeping', () => {
  it('drops its kept due times and sizes and makes them again from the queue, instead of throwing', () => {
    const tally = new QueueTally();
    const queue = Array.from({ length: LONG_QUEUE + 8 }, (_, i) => ({ message: new OutgoingMessage(i, new Uint8Array(10), 0, 50), index: 0, notBefore: 100 + i }));
    for (const r of queue) tally.add(r);
    expect(tally.earliest(queue)).toBe(100);
    expect(tally.kept).toBe(true);
    // An entry whose due time changed while queued (the invariant the tally relies on, broken).
    const [first] = queue.splice(0, 1) as [(typeof queue)[number]];
    expect(() => tally.remove({ ...first, notBefore: 7 })).not.toThrow();
    expect(tally.kept).toBe(false);
    expect(tally.earliest(queue)).toBe(101);
    expect(tally.kept).toBe(true);
  });
});
