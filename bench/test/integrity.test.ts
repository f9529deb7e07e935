import { describe, expect, it } from 'vitest';
import { IntegrityChecker, isClean } from '../src/integrity/integrity-checker.js';
import { makePayload, parsePayload } from '../src/integrity/payload.js';

function sendN(checker: IntegrityChecker, n: number, size = 64): Uint8Array[] {
  return Array.from({ length: n }, () => makePayload(checker.noteSent(), size));
}

describe('payload', () => {
  it('round-trips its sequence number and rejects a flipped bit or a cut', () => {
    const p = makePayload(123_456, 80);
    expect(parsePayload(p)).toEqual({ seq: 123_456 });
    const flipped = p.slice();
    flipped[40] = (flipped[40] as number) ^ 0x10;
    expect(parsePayload(flipped)).toBeUndefined();
    expect(parsePayload(p.subarray(0, 79))).toBeUndefined();
  });
});

describe('IntegrityChecker', () => {
  it('passes an in-order, complete delivery', () => {
    const c = new IntegrityChecker();
    for (const p of sendN(c, 5)) expect(c.deliver(p).kind).toBe('ok');
    expect(isClean(c.counts())).toBe(true);
  });

  it('catches a duplicate', () => {
    const c = new IntegrityChecker();
    const [a, b] = sendN(c, 2) as [Uint8Array, Uint8Array];
    c.deliver(a);
    expect(c.deliver(a).kind).toBe('duplicate');
    c.deliver(b);
    expect(c.counts()).toMatchObject({ duplicated: 1, lost: 0, outOfOrder: 0 });
    expect(isClean(c.counts())).toBe(false);
  });

  it('catches reordering', () => {
    const c = new IntegrityChecker();
    const [a, b, d] = sendN(c, 3) as [Uint8Array, Uint8Array, Uint8Array];
    c.deliver(a);
    expect(c.deliver(d).kind).toBe('out-of-order');
    expect(c.deliver(b).kind).toBe('out-of-order');
    expect(c.counts()).toMatchObject({ outOfOrder: 2, lost: 0, delivered: 3 });
  });

  it('catches corruption and counts the message as lost', () => {
    const c = new IntegrityChecker();
    const [a] = sendN(c, 1) as [Uint8Array];
    const bad = a.slice();
    bad[10] = (bad[10] as number) ^ 1;
    expect(c.deliver(bad).kind).toBe('corrupt');
    expect(c.counts()).toMatchObject({ corrupted: 1, lost: 1, delivered: 0 });
  });

  it('treats a sequence number that was never sent as corruption', () => {
    const c = new IntegrityChecker();
    sendN(c, 1);
    expect(c.deliver(makePayload(9, 64)).kind).toBe('corrupt');
  });
});
