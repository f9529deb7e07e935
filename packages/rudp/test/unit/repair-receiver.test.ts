/**
 * The receiving half of repairs: a decoder only once the peer sends repairs,
 * a lost small message rebuilt into reassembly, and the MESSAGE_ACK that
 * tells the sender.
 */
import { describe, expect, it } from 'vitest';
import { Reassembly } from '../../src/core/receive/reassembly.js';
import { creditOf } from '../../src/core/credit.js';
import { encodeRepair, repairSymbolSize } from '../../src/core/repair/repair-code.js';
import { RepairReceiver } from '../../src/core/repair/repair-receiver.js';
import { KEEP_SPAN } from '../../src/core/repair/repair-decoder.js';
import type { Frame, RepairFrame } from '../../src/wire/frame.js';
import { framesIn, writerWithRoom } from './fixtures.js';

const data = (id: number): Uint8Array => new Uint8Array(8).fill(id + 1);

/** The REPAIR frame a sender puts in packet `pn` over messages `baseId`… */
function repair(pn: number, baseId: number, count: number): RepairFrame {
  const out = new Uint8Array(256);
  const messages = Array.from({ length: count }, (_, i) => data(baseId + i));
  const shape = encodeRepair(pn, baseId, messages, out);
  return { type: 'repair', baseId, count, uniform: shape.uniform, symbol: out.slice(0, repairSymbolSize(shape)) };
}

/** Delivers whole message `id` as a packet's MESSAGE frame would. */
function arrive(r: Reassembly, rr: RepairReceiver, id: number): void {
  expect(r.accept({ type: 'fragment', messageId: id, messageLength: 8, offset: 0, data: data(id) })).toBe('new');
  rr.onWholeMessage(id, data(id));
}

/** The MESSAGE_ACK written into a packet with `room` bytes, if one is owed. */
function messageAck(rr: RepairReceiver, room = 100): Frame[] {
  const w = writerWithRoom(room);
  rr.writeMessageAckIfDue(w);
  return framesIn(w);
}

describe('RepairReceiver', () => {
  it('rebuilds a lost message from a repair, hands it to reassembly, and owes a MESSAGE_ACK', () => {
    const r = new Reassembly(1 << 20);
    const rr = new RepairReceiver(r);
    const f = repair(9, 0, 3);
    rr.prepare(true);
    arrive(r, rr, 0);
    arrive(r, rr, 2);
    expect(messageAck(rr)).toEqual([]);
    rr.onRepair(10, 9, f);
    expect(rr.recovered).toBe(1);
    expect([r.pop(), r.pop(), r.pop()]).toEqual([data(0), data(1), data(2)]);
    // Every message below 3 is whole here; said in two packets (one may be lost), then no more.
    expect(messageAck(rr)).toEqual([{ type: 'message-ack', next: 3 }]);
    expect(messageAck(rr)).toEqual([{ type: 'message-ack', next: 3 }]);
    expect(messageAck(rr)).toEqual([]);
  });

  it('a MESSAGE_ACK that does not fit stays owed', () => {
    const r = new Reassembly(1 << 20);
    const rr = new RepairReceiver(r);
    const f = repair(9, 0, 2);
    rr.prepare(true);
    arrive(r, rr, 1);
    rr.onRepair(10, 9, f);
    expect(messageAck(rr, 8)).toEqual([]);
    expect(messageAck(rr, 9)).toEqual([{ type: 'message-ack', next: 2 }]);
  });

  it('keeps nothing before the first repair: a message that arrived earlier cannot help', () => {
    const r = new Reassembly(1 << 20);
    const rr = new RepairReceiver(r);
    arrive(r, rr, 0);
    const f = repair(9, 0, 2);
    rr.prepare(true);
    rr.onRepair(10, 9, f);
    expect(rr.recovered).toBe(0);
    // Without any repair frame in sight there is no decoder at all: a repair over one lost message
    // (enough on its own) is not even looked at.
    const idle = new RepairReceiver(new Reassembly(1 << 20));
    idle.prepare(false);
    idle.onRepair(0, 9, repair(9, 0, 1));
    expect(idle.recovered).toBe(0);
    const ready = new RepairReceiver(new Reassembly(1 << 20));
    ready.prepare(true);
    ready.onRepair(0, 9, repair(9, 0, 1));
    expect(ready.recovered).toBe(1);
  });

  it('drops the decoder more than a second after the last repair (the path is clean again)', () => {
    const f = repair(9, 5, 2);
    const outcome = (idleUntil: number): number => {
      const r = new Reassembly(1 << 20);
      const rr = new RepairReceiver(r);
      rr.prepare(true);
      rr.onRepair(500, 8, repair(8, 40, 2));
      rr.expireIfIdle(idleUntil);
      arrive(r, rr, 5);
      rr.onRepair(idleUntil, 9, f);
      return rr.recovered;
    };
    // At exactly one second the decoder still holds message 5, and the repair rebuilds 6 from it.
    expect(outcome(1_500)).toBe(1);
    expect(outcome(1_501)).toBe(0);
  });

  it('one decoder for as long as repairs keep coming: what it kept survives the next packet with a repair', () => {
    const r = new Reassembly(1 << 20);
    const rr = new RepairReceiver(r);
    const first = repair(8, 40, 2);
    // A packet with a message and a repair creates the decoder.
    rr.prepare(true);
    rr.onRepair(0, 8, first);
    arrive(r, rr, 0);
    const f = repair(9, 0, 2);
    rr.prepare(true);
    rr.onRepair(1, 9, f);
    expect(rr.recovered).toBe(1);
    expect(messageAck(rr)).toEqual([{ type: 'message-ack', next: 2 }]);
  });

  it('a rebuilt message that reassembly refuses (its window is full) counts for nothing and owes no MESSAGE_ACK', () => {
    // Room for one message of the size arrive() sends, and not two.
    const r = new Reassembly(creditOf(8) + 8);
    const rr = new RepairReceiver(r);
    const f = repair(9, 0, 2);
    rr.prepare(true);
    arrive(r, rr, 0);
    rr.onRepair(1, 9, f);
    expect(rr.recovered).toBe(0);
    expect(messageAck(rr)).toEqual([]);
  });

  it('a repair over a message whose bytes were never kept is not used', () => {
    const r = new Reassembly(1 << 20);
    const rr = new RepairReceiver(r);
    // Message 0 arrived before any repair: whole, but not kept.
    arrive(r, rr, 0);
    const a = repair(9, 0, 2);
    const b = repair(10, 0, 2);
    rr.prepare(true);
    rr.onRepair(1, 9, a);
    rr.onRepair(2, 10, b);
    // Two repairs over two messages would solve both, were message 0 taken as unknown.
    expect(rr.recovered).toBe(0);
  });

  it('ignores a repair far from the messages that arrived (forged or corrupt)', () => {
    const rr = new RepairReceiver(new Reassembly(1 << 20));
    const far = repair(9, 1_000, 1);
    rr.prepare(true);
    rr.onRepair(0, 9, far);
    expect(rr.recovered).toBe(0);
    const near = repair(9, 60, 1);
    rr.onRepair(0, 9, near);
    expect(rr.recovered).toBe(1);
  });
});

describe('RepairReceiver: a decoder a gap started', () => {
  it('goes once KEEP_SPAN messages passed with no repair: any repair for that gap would be refused by then', () => {
    const r = new Reassembly(1 << 20);
    const rr = new RepairReceiver(r);
    // Packet numbers jumped (a loss, or the sender's skipped number): messages are kept from here.
    rr.prepare(false, 0);
    expect(rr.keeping).toBe(true);
    for (let id = 1; id <= 1 + KEEP_SPAN; id++) arrive(r, rr, id);
    expect(rr.keeping).toBe(true);
    // Before: kept until a second without repairs passed, copying every message (a third of the CPU
    // of a loopback stream of 64-byte messages, whose sender skips a number every 128-1023 packets).
    arrive(r, rr, 2 + KEEP_SPAN);
    expect(rr.keeping).toBe(false);
  });

  it('stays once a repair came, and rebuilds the lost message', () => {
    const r = new Reassembly(1 << 20);
    const rr = new RepairReceiver(r);
    rr.prepare(false, 0);
    for (let id = 1; id <= 4; id++) arrive(r, rr, id);
    rr.onRepair(10, 9, repair(9, 0, 5));
    expect(rr.recovered).toBe(1);
    for (let id = 5; id <= 5 + 2 * KEEP_SPAN; id++) arrive(r, rr, id);
    expect(rr.keeping).toBe(true);
  });
});
