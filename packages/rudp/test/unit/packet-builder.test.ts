/**
 * The packet builder's order and fitting: the due ACK in front (kept small
 * when data follows), owed credit, resends, new data, the ACK state again
 * where room is left, and a PING only when nothing else elicits an ACK.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONNECTION_CONFIG } from '../../src/core/config.js';
import { FlowControl } from '../../src/core/flow-control.js';
import { AckTracker } from '../../src/core/receive/ack-generation.js';
import { Reassembly } from '../../src/core/receive/reassembly.js';
import { RttEstimator } from '../../src/core/recovery/rtt.js';
import { RepairPolicy } from '../../src/core/repair/repair-policy.js';
import { RepairReceiver } from '../../src/core/repair/repair-receiver.js';
import { type PacketPlan, type PacketSources, populateDataPacket } from '../../src/core/send/packet-builder.js';
import type { OutgoingMessage } from '../../src/core/send/outgoing-message.js';
import { RetransmitQueue } from '../../src/core/send/retransmit-queue.js';
import { SendQueue } from '../../src/core/send/send-queue.js';
import { encodeRepair, repairSymbolSize } from '../../src/core/repair/repair-code.js';
import type { Frame, RepairFrame } from '../../src/wire/frame.js';
import { framesIn, writerWithRoom } from './fixtures.js';

const ROOM = 200;

function sources(): PacketSources & { flow: FlowControl; acks: AckTracker } {
  const flow = new FlowControl(1_000, 1 << 20);
  const acks = new AckTracker(DEFAULT_CONNECTION_CONFIG);
  const rtt = new RttEstimator();
  return {
    acks,
    repairReceiver: new RepairReceiver(new Reassembly(1 << 20)),
    flow,
    retransmits: new RetransmitQueue(DEFAULT_CONNECTION_CONFIG, { inFlight: () => false }),
    sendQueue: new SendQueue(flow, ROOM),
    // Repairs alone at high loss: the previous copies the loss rate earns are repair-policy.test.ts's.
    repairPolicy: new RepairPolicy({ ...DEFAULT_CONNECTION_CONFIG, redundancy: { ...DEFAULT_CONNECTION_CONFIG.redundancy, previousCopyShare: 0 } }, rtt),
  };
}

/** Received packets 1–3 and 5 (two ranges), ack-eliciting. */
function receive(acks: AckTracker, pns: readonly number[] = [1, 2, 3, 5]): void {
  for (const pn of pns) {
    const before = acks.largest;
    acks.record(pn);
    acks.onPacket(0, pn, before, true, false);
  }
}

const plan = (p: Partial<PacketPlan>): PacketPlan => ({ ack: false, data: false, newData: false, ping: false, resends: true, ...p });
const kinds = (frames: readonly Frame[]): string[] => frames.map((f) => f.type);

function build(s: PacketSources, p: PacketPlan, room = ROOM, now = 0): { frames: Frame[]; contents: ReturnType<typeof populateDataPacket> } {
  const w = writerWithRoom(room);
  const contents = populateDataPacket(now, 10, w, s, p);
  return { frames: framesIn(w), contents };
}

/** Sends message 0 (5 bytes) in packet 1 and declares that packet lost: a resend is queued. */
function sendThenLose(s: PacketSources): void {
  const id = s.sendQueue.push(new Uint8Array(5).fill(1));
  s.sendQueue.fillNewData(writerWithRoom(ROOM), [], 0, { rememberSmall: () => undefined });
  const m = s.sendQueue.message(id) as OutgoingMessage;
  s.retransmits.requeueLost(0, { pn: 1, timeSent: 0, size: 50, chunks: [{ message: m, index: 0, notBefore: 0 }], retransmission: false, ackLargest: -1, carriedMaxData: false, carriedBlocked: false, delivered: 0, deliveredTime: 0, firstSentTime: 0, appLimited: false, leftQueueEmpty: false, pingOnly: false });
}

describe('populateDataPacket', () => {
  it('orders the frames: ACK, MAX_DATA, resends, new data', () => {
    const s = sources();
    receive(s.acks);
    s.flow.onRead(500);
    sendThenLose(s);
    s.sendQueue.push(new Uint8Array(5).fill(2));
    const { frames, contents } = build(s, plan({ ack: true, data: true, newData: true }));
    expect(kinds(frames)).toEqual(['ack', 'max-data', 'fragment', 'fragment']);
    expect(frames.map((f) => (f.type === 'fragment' ? f.messageId : -1))).toEqual([-1, -1, 0, 1]);
    expect(contents).toMatchObject({ ackLargest: 5, carriedMaxData: true, retransmission: true, ackEliciting: true, repairSent: false });
    expect(contents.chunks.map((c) => c.message.id)).toEqual([0, 1]);
  });

  it('packets built back to back: each keeps its own chunks, and no field of the packet before', () => {
    const a = sources();
    receive(a.acks);
    a.flow.onRead(500);
    sendThenLose(a);
    a.sendQueue.push(new Uint8Array(5).fill(2));
    const first = build(a, plan({ ack: true, data: true, newData: true })).contents;
    const firstChunks = first.chunks;
    const firstMessages = firstChunks.map((c) => c.message);
    expect(first).toMatchObject({ ackLargest: 5, carriedMaxData: true, retransmission: true, ackEliciting: true });
    // Another connection's packet: new data only.
    const b = sources();
    const id = b.sendQueue.push(new Uint8Array(5).fill(3));
    const second = build(b, plan({ data: true, newData: true })).contents;
    const m = b.sendQueue.message(id);
    expect(second).toMatchObject({ ackLargest: -1, carriedMaxData: false, retransmission: false, ackEliciting: true, repairSent: false });
    expect(second.chunks.map((c) => c.message)).toEqual([m]);
    expect(second.chunks).not.toBe(firstChunks);
    // The first packet's chunks are still its own.
    expect(firstChunks.map((c) => c.message)).toEqual(firstMessages);
    expect(firstChunks.map((c) => c.message.id)).toEqual([0, 1]);
    // A packet with nothing in it carries no chunk of those before.
    const third = build(sources(), plan({ data: true })).contents;
    expect(third).toEqual({ ackLargest: -1, chunks: [], carriedMaxData: false, carriedBlocked: false, retransmission: false, ackEliciting: false, pingOnly: false, repairSent: false });
    expect(firstChunks).toHaveLength(2);
  });

  it('an ACK alone when no data may go, with the full room for ranges', () => {
    const s = sources();
    // Many ranges: more than the 16 bytes an ACK gets in front of data.
    receive(s.acks, Array.from({ length: 20 }, (_, i) => 3 * i));
    s.sendQueue.push(new Uint8Array(5));
    const { frames, contents } = build(s, plan({ ack: true, newData: true }));
    expect(kinds(frames)).toEqual(['ack']);
    expect(frames[0]?.type === 'ack' && frames[0].ranges.length).toBe(20);
    expect(contents).toEqual({ ackLargest: 57, ackEliciting: false, pingOnly: false, chunks: [], carriedMaxData: false, carriedBlocked: false, retransmission: false, repairSent: false });
  });

  it('in front of data the ACK keeps to 16 bytes (oldest ranges dropped)', () => {
    const s = sources();
    receive(s.acks, Array.from({ length: 20 }, (_, i) => 3 * i));
    s.sendQueue.push(new Uint8Array(5));
    const { frames } = build(s, plan({ ack: true, data: true, newData: true }));
    expect(kinds(frames)).toEqual(['ack', 'fragment']);
    const ack = frames[0];
    expect(ack?.type === 'ack' && ack.ranges.length).toBeLessThan(20);
    expect(ack?.type === 'ack' && ack.ranges[0]).toEqual({ lo: 57, hi: 57 });
  });

  it('repeats the ACK state after data where room is left, while the peer may lack it', () => {
    const s = sources();
    receive(s.acks);
    s.sendQueue.push(new Uint8Array(5));
    expect(kinds(build(s, plan({ data: true, newData: true })).frames)).toEqual(['fragment', 'ack']);
    // Once the peer acknowledged an ACK covering all of it: no repeat.
    s.acks.onAckAcknowledged(5);
    s.sendQueue.push(new Uint8Array(5));
    expect(kinds(build(s, plan({ data: true, newData: true })).frames)).toEqual(['fragment']);
  });

  it('a PING only when the packet must elicit an ACK and nothing else does', () => {
    const s = sources();
    const ping = build(s, plan({ data: true, ping: true }));
    expect(kinds(ping.frames)).toEqual(['ping']);
    expect(ping.contents.ackEliciting).toBe(true);
    // Marked as such: a bare PING does not restart the idle timer (connection/timeouts.ts).
    expect(ping.contents.pingOnly).toBe(true);
    s.sendQueue.push(new Uint8Array(5));
    const data = build(s, plan({ data: true, newData: true, ping: true }));
    expect(kinds(data.frames)).toEqual(['fragment']);
    expect(data.contents.pingOnly).toBe(false);
    // Without data allowed, not even a PING.
    expect(kinds(build(s, plan({ ping: true })).frames)).toEqual([]);
  });

  it('owed credit alone makes the packet ack-eliciting', () => {
    const s = sources();
    s.flow.onRead(500);
    const { frames, contents } = build(s, plan({ data: true }));
    expect(kinds(frames)).toEqual(['max-data']);
    expect(contents).toMatchObject({ carriedMaxData: true, carriedBlocked: false, ackEliciting: true, retransmission: false });
  });

  it('a packet with BLOCKED alone is marked as carrying BLOCKED, not MAX_DATA', () => {
    const s = sources();
    // The peer's limit (1 MiB, of a 4 MiB window) does not take a message of 2 MiB: looking at its
    // queue, the sender finds it owes BLOCKED, which the next packet carries.
    s.flow.setPeerWindow(4 << 20, 1 << 20);
    s.sendQueue.push(new Uint8Array(2 << 20));
    expect(kinds(build(s, plan({ data: true, newData: true })).frames)).toEqual([]);
    expect(s.flow.due).toBe(true);
    const { frames, contents } = build(s, plan({ data: true, newData: true }));
    expect(kinds(frames)).toEqual(['blocked']);
    // Before: carriedMaxData true, so its loss owed an unchanged MAX_DATA and its ACK ended a raise's repeats.
    expect(contents).toMatchObject({ carriedMaxData: false, carriedBlocked: true, ackEliciting: true });
    s.flow.onRead(500);
    s.flow.onMaxDataLost();
    s.flow.onBlockedLost();
    const both = build(s, plan({ data: true, newData: true }));
    expect(kinds(both.frames)).toEqual(['max-data', 'blocked']);
    expect(both.contents).toMatchObject({ carriedMaxData: true, carriedBlocked: true });
  });

  it('on a lossy path, new data carries a repair, and the last small messages get tail copies', () => {
    const s = sources();
    s.repairPolicy.seed(0.2, false);
    s.sendQueue.push(new Uint8Array(5).fill(1));
    build(s, plan({ data: true, newData: true }));
    expect(s.retransmits.length).toBe(2);
    s.sendQueue.push(new Uint8Array(5).fill(2));
    const { frames, contents } = build(s, plan({ data: true, newData: true }));
    expect(kinds(frames)).toEqual(['fragment', 'repair']);
    expect(contents.repairSent).toBe(true);
  });

  it('a packet without new data carries no repair and leaves tail copies alone', () => {
    const s = sources();
    s.repairPolicy.seed(0.2, false);
    s.sendQueue.push(new Uint8Array(5).fill(1));
    build(s, plan({ data: true, newData: true }));
    expect(s.retransmits.length).toBe(2);
    s.flow.onRead(500);
    const { frames, contents } = build(s, plan({ data: true }));
    expect(kinds(frames)).toEqual(['max-data']);
    expect(contents.repairSent).toBe(false);
    // The tail copies of message 0 still have their purpose (no new data left after it).
    expect(s.retransmits.pruneAndCheckReady(1_000)).toBe(true);
    expect(s.retransmits.length).toBe(2);
  });

  it('tail copies only once the send queue is empty, and only for the new messages of the packet', () => {
    const s = sources();
    s.repairPolicy.seed(0.2, false);
    // Message 0 was lost: a resend (and one spaced copy) are queued.
    sendThenLose(s);
    s.sendQueue.push(new Uint8Array(5).fill(2));
    s.sendQueue.push(new Uint8Array(150).fill(3));
    // Room for the resend and message 1 only: message 2 still waits, so no tail copies yet.
    const first = build(s, plan({ data: true, newData: true }), 30);
    expect(first.contents.chunks.map((c) => c.message.id)).toEqual([0, 1]);
    expect(s.retransmits.length).toBe(1);
    const second = build(s, plan({ data: true, newData: true }));
    expect(second.contents.chunks.map((c) => c.message.id)).toEqual([2]);
    // Message 2 gets its two tail copies; message 0's spaced resend copy is still queued; nothing for 0 or 1 else.
    expect(s.retransmits.length).toBe(1 + 2);
  });

  it('tail copies go to the new messages, not to a resend in the same packet', () => {
    const s = sources();
    s.repairPolicy.seed(0.2, false);
    sendThenLose(s);
    s.sendQueue.push(new Uint8Array(5).fill(2));
    const { contents } = build(s, plan({ data: true, newData: true }));
    expect(contents.chunks.map((c) => c.message.id)).toEqual([0, 1]);
    // Message 0's spaced resend copy, and two tail copies of message 1.
    expect(s.retransmits.length).toBe(1 + 2);
  });

  it('after a due ACK in front, no second ACK frame behind the data', () => {
    const s = sources();
    receive(s.acks, [0]);
    s.sendQueue.push(new Uint8Array(5));
    expect(kinds(build(s, plan({ ack: true, data: true, newData: true })).frames)).toEqual(['ack', 'fragment']);
  });

  it('a MESSAGE_ACK owed for rebuilt messages rides behind an ACK frame, only when the ACK fitted', () => {
    /** Sources whose repair receiver rebuilt message 1 from message 0 and a repair. */
    const owing = (pns?: readonly number[]): PacketSources => {
      const s = sources();
      receive(s.acks, pns);
      const reassembly = (s.repairReceiver as unknown as { reassembly: Reassembly }).reassembly;
      const out = new Uint8Array(256);
      const messages = [new Uint8Array(4).fill(1), new Uint8Array(4).fill(2)];
      const shape = encodeRepair(9, 0, messages, out);
      const f: RepairFrame = { type: 'repair', baseId: 0, count: 2, uniform: shape.uniform, symbol: out.slice(0, repairSymbolSize(shape)) };
      s.repairReceiver.prepare(true);
      reassembly.accept({ type: 'fragment', messageId: 0, messageLength: 4, offset: 0, data: messages[0] as Uint8Array });
      s.repairReceiver.onWholeMessage(0, messages[0] as Uint8Array);
      s.repairReceiver.onRepair(0, 9, f);
      expect(s.repairReceiver.recovered).toBe(1);
      return s;
    };
    expect(build(owing(), plan({ ack: true })).frames).toEqual([
      { type: 'ack', ranges: [{ lo: 5, hi: 5 }, { lo: 1, hi: 3 }], delayMicros: 0 },
      { type: 'message-ack', next: 2 },
    ]);
    // No room for even the ACK: no MESSAGE_ACK either.
    expect(kinds(build(owing(), plan({ ack: true }), 2).frames)).toEqual([]);
    // An ACK of packet 0 alone still counts as an ACK.
    expect(kinds(build(owing([0]), plan({ ack: true })).frames)).toEqual(['ack', 'message-ack']);
    // An ACK too big for its 16 bytes in front of data (a 2^30 packet number, a 9,000 s delay) is
    // left for after the data; the MESSAGE_ACK follows it there, not in front.
    expect(kinds(build(owing([2 ** 30 + 1]), plan({ ack: true, data: true }), ROOM, 9_000_000).frames)).toEqual(['ack', 'message-ack']);
  });
});
