import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectIs } from './helpers/cheap-expect.js';
import { gfInv, gfMul } from '../src/core/repair/gf256.js';
import { REPAIR_ROW, encodeRepair, repairSymbolSize } from '../src/core/repair/repair-code.js';
import { RepairDecoder } from '../src/core/repair/repair-decoder.js';
import type { RepairFrame } from '../src/wire/frame.js';

/** A repair frame for messages[base, base + count) as the sender would build it in packet `pn`. */
function repairOf(pn: number, base: number, messages: readonly Uint8Array[]): RepairFrame {
  const out = new Uint8Array(REPAIR_ROW);
  const shape = encodeRepair(pn, base, messages, out);
  return { type: 'repair', baseId: base, count: messages.length, uniform: shape.uniform, symbol: out.slice(0, repairSymbolSize(shape)) };
}

describe('GF(2^8)', () => {
  it('every non-zero element has an inverse, and multiplication distributes over XOR', () => {
    for (let a = 1; a < 256; a++) expectIs(gfMul(a, gfInv(a)), 1);
    for (let a = 0; a < 256; a += 7) for (let b = 0; b < 256; b += 5) for (let c = 0; c < 256; c += 11) {
      expectIs(gfMul(a, b ^ c), gfMul(a, b) ^ gfMul(a, c));
    }
  });
});

describe('repair code', () => {
  it('recovers a lost message from one repair once the others are known', () => {
    const msgs = [0, 1, 2, 3].map((i) => new Uint8Array(64).fill(i + 10));
    const have = new Set([0, 1, 3]);
    const d = new RepairDecoder((id) => have.has(id), () => 0);
    // 0, 1 and 3 arrived before the decoder existed, so their bytes are not there: no use.
    expect(d.repairArrived(50, repairOf(50, 0, msgs))).toEqual([]);
    for (const id of have) d.messageArrived(id, msgs[id] as Uint8Array);
    const got = d.repairArrived(51, repairOf(51, 0, msgs));
    expect(got).toEqual([{ id: 2, data: msgs[2] }]);
  });

  it('recovers k lost messages of different lengths from k repairs, whatever the order of arrival', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 255 }), { minLength: 2, maxLength: 12 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.func(fc.boolean()),
        (msgs, base, pn0, lost) => {
          const missing = msgs.map((_, i) => i).filter((i) => lost(i));
          const d = new RepairDecoder((id) => id - base < msgs.length && !missing.includes(id - base) && id >= base, () => base);
          const recovered = new Map<number, Uint8Array>();
          for (let i = 0; i < msgs.length; i++) if (!missing.includes(i)) for (const r of d.messageArrived(base + i, msgs[i] as Uint8Array)) recovered.set(r.id, r.data);
          // One repair per lost message, each from a different packet.
          for (let k = 0; k < missing.length; k++) {
            for (const r of d.repairArrived(pn0 + k, repairOf(pn0 + k, base, msgs))) recovered.set(r.id, r.data);
          }
          expect(recovered.size).toBe(missing.length);
          for (const i of missing) expect(recovered.get(base + i)).toEqual(msgs[i]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('recovers what is missing however messages and repairs interleave (re-pivoting as messages arrive)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 80 }), { minLength: 2, maxLength: 10 }),
        fc.func(fc.boolean()),
        fc.func(fc.integer()),
        (msgs, lost, order) => {
          const missing = msgs.map((_, i) => i).filter((i) => lost(i));
          const arrived = new Set<number>();
          const d = new RepairDecoder((id) => arrived.has(id), () => 0);
          type Ev = { kind: 'msg'; i: number } | { kind: 'repair'; pn: number };
          const events: Ev[] = [
            ...msgs.map((_, i) => ({ kind: 'msg', i }) as Ev).filter((e) => e.kind === 'msg' && !missing.includes(e.i)),
            ...missing.map((_, k) => ({ kind: 'repair', pn: 500 + k }) as Ev),
          ];
          const keyed = events.map((e, n) => ({ e, key: order(n) })).sort((a, b) => a.key - b.key);
          const recovered = new Map<number, Uint8Array>();
          for (const { e } of keyed) {
            const got = e.kind === 'msg' ? (arrived.add(e.i), d.messageArrived(e.i, msgs[e.i] as Uint8Array)) : d.repairArrived(e.pn, repairOf(e.pn, 0, msgs));
            for (const r of got) {
              arrived.add(r.id);
              recovered.set(r.id, r.data);
            }
          }
          expect([...recovered.keys()].sort((a, b) => a - b)).toEqual(missing);
          for (const i of missing) expect(recovered.get(i)).toEqual(msgs[i]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a sliding window with one repair per packet rides out two losses in a row', () => {
    const msgs = Array.from({ length: 20 }, (_, i) => new Uint8Array(64).fill(i));
    const lostPackets = new Set([5, 6]);
    const received = new Set<number>();
    const d = new RepairDecoder((id) => received.has(id), () => 0);
    const deliveredAt = new Map<number, number>();
    // Packet i carries message i and a repair over messages max(0, i − 4) … i − 1.
    for (let i = 0; i < msgs.length; i++) {
      if (lostPackets.has(i)) continue;
      const pn = 100 + i;
      if (i > 0) {
        const base = Math.max(0, i - 4);
        for (const r of d.repairArrived(pn, repairOf(pn, base, msgs.slice(base, i)))) {
          expect(r.data).toEqual(msgs[r.id]);
          received.add(r.id);
          deliveredAt.set(r.id, i);
        }
      }
      received.add(i);
      deliveredAt.set(i, i);
      for (const r of d.messageArrived(i, msgs[i] as Uint8Array)) {
        received.add(r.id);
        deliveredAt.set(r.id, i);
      }
    }
    // Both come back with the second repair after the gap (packet 8), not from a retransmission.
    expect(deliveredAt.get(5)).toBe(8);
    expect(deliveredAt.get(6)).toBe(8);
  });

  it('keeps its work bounded: repairs far from the messages that arrived are ignored, and at most 32 unknowns wait', () => {
    const msgs = Array.from({ length: 40 }, (_, i) => new Uint8Array(16).fill(i));
    const have = new Set<number>([0]);
    const d = new RepairDecoder((id) => have.has(id), () => 0);
    d.messageArrived(0, msgs[0] as Uint8Array);
    // Covering ids 100–131 when the newest message is 0: not an honest repair.
    expect(d.repairArrived(7, repairOf(7, 100, msgs.slice(0, 32)))).toEqual([]);
    // Eight repairs over 1–32 and one over 33–39 would be 39 unknowns: the oldest give way, so the
    // window 1–32 never gathers the 32 equations it needs, but 33–39 can still be solved.
    for (let k = 0; k < 8; k++) d.repairArrived(20 + k, repairOf(20 + k, 1, msgs.slice(1, 33)));
    const got = [];
    for (let k = 0; k < 7; k++) got.push(...d.repairArrived(40 + k, repairOf(40 + k, 33, msgs.slice(33, 40))));
    expect(got.map((r) => r.id).sort((a, b) => a - b)).toEqual([33, 34, 35, 36, 37, 38, 39]);
  });

  it('keeps at most a window of message bytes however ids arrive', () => {
    const kept = (d: RepairDecoder): number => (d as unknown as { kept: Map<number, Uint8Array> }).kept.size;
    const d = new RepairDecoder(() => true, () => 0);
    d.messageArrived(60_000, new Uint8Array(8));
    for (let id = 0; id < 60_000; id++) d.messageArrived(id, new Uint8Array(8));
    expect(kept(d)).toBeLessThanOrEqual(65);
    for (let id = 60_001; id < 61_000; id++) d.messageArrived(id, new Uint8Array(8));
    expect(kept(d)).toBeLessThanOrEqual(65);
  });

  it('refuses to guess: a repair inconsistent with what arrived yields nothing and clears its state', () => {
    const msgs = [new Uint8Array(8).fill(1), new Uint8Array(8).fill(2)];
    const d = new RepairDecoder((id) => id === 0, () => 1);
    d.messageArrived(0, msgs[0] as Uint8Array);
    const forged = repairOf(9, 0, msgs);
    // The sum claims a byte 255 bytes in, past the end of any message of the length it implies.
    const symbol = new Uint8Array(256);
    symbol[255] = 0xff;
    const bad: RepairFrame = { ...forged, uniform: false, symbol };
    expect(d.repairArrived(9, bad)).toEqual([]);
    expect(d.repairArrived(10, repairOf(10, 0, msgs))).toEqual([{ id: 1, data: msgs[1] }]);
  });
});
