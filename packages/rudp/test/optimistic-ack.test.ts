/**
 * Optimistic ACKs (RFC 9000 §21.4): a peer that completed the handshake
 * acknowledges packets it never received (in flight, or dropped by the
 * bottleneck), so the sender sees no loss, a near-zero RTT and a path far
 * faster than it is. Before the defence, a receiver acknowledging
 * [1, largest received + 4096] drove the sender to 48× a 10 Mbit/s
 * bottleneck (607 MB in 10 s against 12.6 MB honestly). The sender now
 * skips a packet number every few hundred and closes a connection whose
 * peer acknowledges a skipped number, or (encrypted) any number above the
 * largest it sent. Every test here but the honest runs failed before
 * (checked on the commit before the defence: no close, 48.5× the bottleneck).
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../src/core/connection.js';
import { LossDetection } from '../src/core/recovery/loss-detection.js';
import { SKIP_MIN_GAP } from '../src/core/recovery/packet-number-skips.js';
import { RttEstimator } from '../src/core/recovery/rtt.js';
import { type PnRange, writeAck } from '../src/wire/ack-frame.js';
import type { PacketWriter } from '../src/wire/packet.js';
import type { LinkConfig } from '../src/testing/impairment.js';
import { CLIENT, SERVER, makePair, messagesOf, type Pair } from './helpers/pair.js';
import { RecordingController } from './unit/fixtures.js';

const BOTTLENECK_BPS = 10_000_000;

/** The parts of a connection's ACK generation an attacker replaces (private in the class). */
interface AckInternals {
  largest: number;
  readonly received: { list(): readonly PnRange[] };
  ackDue: number | undefined;
  ackElicitingUnacked: number;
  write(now: number, w: PacketWriter, room: number): number;
  onPacket(now: number, pn: number, previousLargest: number, ackEliciting: boolean, carriesRepair: boolean): void;
}

function acksOf(conn: Connection): AckInternals {
  return (conn as unknown as { acks: AckInternals }).acks;
}

/**
 * Turns `conn` into a liar: every ACK it writes claims [1, largest received
 * + `ahead`], and one is due on every packet (the attack's repro in
 * attack/hostile.ts). `ahead` 0 claims only what the bottleneck dropped.
 */
function makeOptimisticAcker(conn: Connection, ahead: number): void {
  const acks = acksOf(conn);
  const write = acks.write.bind(acks);
  acks.write = (now, w, room) => {
    const largest = acks.largest;
    if (largest < 0) return write(now, w, room);
    const ranges: PnRange[] = [{ lo: 1, hi: largest + ahead }];
    writeAck(w, ranges, 0);
    acks.ackDue = undefined;
    acks.ackElicitingUnacked = 0;
    return largest;
  };
  const onPacket = acks.onPacket.bind(acks);
  acks.onPacket = (now, pn, prev, elic, rep) => {
    onPacket(now, pn, prev, elic, rep);
    acks.ackDue = now;
  };
}

interface BulkRun {
  readonly serverBytesOut: number;
  /** Server bytes out ÷ what the bottleneck carries in the run. */
  readonly offeredOverCapacity: number;
  readonly state: string;
  readonly closeCode: number | undefined;
  readonly closeMessage: string | undefined;
  readonly closedAt: number | undefined;
}

/** The server keeps ~8 MiB queued for the client over a 10 Mbit/s, 64 KB-queue, 25 ms path for `runMs`. */
function serverBulk(liar: number | ((conn: Connection) => void) | undefined, plaintext = false, runMs = 5_000): BulkRun {
  const p = makePair({ seed: 7, link: { delayMs: 25 }, client: { receiveWindow: 2 ** 39, plaintext }, server: { plaintext } });
  p.sim.setLink(SERVER, CLIENT, { delayMs: 25, bandwidthBps: BOTTLENECK_BPS, queueBytes: 64 * 1024 });
  p.sim.runFor(500);
  const server = p.serverConn() as Connection;
  expect(server.state).toBe('established');
  // The client grants the most it can at once (a raised window is granted whole), so flow control never
  // holds the server back: a grant growing only as the client reads would, a liar's above all.
  p.conn.raiseReceiveWindow(2 ** 40);
  if (typeof liar === 'function') liar(p.conn);
  else if (liar !== undefined) makeOptimisticAcker(p.conn, liar);
  let closedAt: number | undefined;
  p.onServerEvent = (e, now) => {
    if (e.type === 'closed') closedAt ??= now;
  };
  const chunk = new Uint8Array(64 * 1024);
  const topUp = (): void => {
    if (server.state !== 'established') return;
    while (server.bufferedAmount < 8 * 1024 * 1024) server.send(chunk);
    p.sim.wake(SERVER);
  };
  const start = p.sim.now;
  const startSent = server.stats().bytesSent;
  for (let t = 0; t < runMs; t += 10) p.sim.schedule(start + t, topUp);
  p.sim.runFor(runMs);
  const serverBytesOut = server.stats().bytesSent - startSent;
  return {
    serverBytesOut,
    offeredOverCapacity: serverBytesOut / ((BOTTLENECK_BPS / 8) * (runMs / 1000)),
    state: server.state,
    closeCode: server.closeReason?.code,
    closeMessage: server.closeReason?.message,
    closedAt,
  };
}

describe('optimistic ACKs close the connection', () => {
  it('an honest receiver: the sender fills the bottleneck and no more, and is not closed', () => {
    const r = serverBulk(undefined);
    expect(r.state).toBe('established');
    expect(r.offeredOverCapacity).toBeGreaterThan(0.9);
    expect(r.offeredOverCapacity).toBeLessThan(1.1);
  });

  it('a receiver acknowledging 4096 packets past what it got (encrypted): closed on its first lie, as a protocol violation', () => {
    const r = serverBulk(4096);
    expect(r.state).toBe('closed');
    expect(r.closeCode).toBe(3);
    expect(r.closeMessage).toMatch(/never sent/);
    // Closed within the first round trips; before: 48× the bottleneck for the whole run.
    expect(r.closedAt).toBeLessThan(1_000);
    expect(r.offeredOverCapacity).toBeLessThan(1);
  });

  it('a receiver acknowledging only up to what it got (also what the queue dropped): closed at a skipped number, having sent no more than the bottleneck carries', () => {
    const r = serverBulk(0);
    expect(r.state).toBe('closed');
    expect(r.closeCode).toBe(3);
    expect(r.closeMessage).toMatch(/skipped packet number/);
    expect(r.offeredOverCapacity).toBeLessThan(1);
  });

  it('plaintext: ranges above the largest sent are clipped (a forged packet may put them there), but the skipped numbers still catch the liar', () => {
    const r = serverBulk(4096, true);
    expect(r.state).toBe('closed');
    expect(r.closeCode).toBe(3);
    expect(r.closeMessage).toMatch(/skipped packet number/);
    expect(r.offeredOverCapacity).toBeLessThan(1);
  });

  /** The client's next ACK claims one packet past everything it received (all the server sent). */
  function ackOnePastAll(p: Pair): void {
    const acks = acksOf(p.conn);
    const write = acks.write.bind(acks);
    let once = true;
    acks.write = (now, w, room) => {
      if (!once) return write(now, w, room);
      once = false;
      writeAck(w, [{ lo: 1, hi: acks.largest + 1 }], 0);
      acks.ackDue = undefined;
      acks.ackElicitingUnacked = 0;
      return acks.largest;
    };
  }

  for (const plaintext of [false, true]) {
    it(`one ACK of a packet above the largest sent: ${plaintext ? 'plaintext keeps the connection (clipped)' : 'encrypted closes it'}`, () => {
      const p = makePair({ seed: 3, link: { delayMs: 10 }, client: { plaintext }, server: { plaintext } });
      p.sim.runFor(200);
      const server = p.serverConn() as Connection;
      server.send(new Uint8Array(100));
      p.sim.wake(SERVER);
      p.sim.runFor(200);
      ackOnePastAll(p);
      server.send(new Uint8Array(100));
      p.sim.wake(SERVER);
      p.sim.runFor(200);
      if (plaintext) {
        expect(server.state).toBe('established');
        p.conn.send(new Uint8Array(10));
        p.sim.wake(CLIENT);
        p.sim.runFor(200);
        expect(messagesOf(p.serverEvents)).toHaveLength(1);
      } else {
        expect(server.closeReason).toEqual({ kind: 'local', code: 3, message: 'protocol violation: the peer acknowledged a packet never sent' });
        // The peer hears why.
        expect(p.conn.closeReason).toMatchObject({ kind: 'peer', code: 3 });
      }
    });
  }
});

/**
 * A careful liar (attack/optimistic-ack.ts window:N): a gap of one number in
 * what it received is a skip (this path loses nothing), and the next skip is
 * at least `SKIP_MIN_GAP` later, so it claims up to `ahead` packets past what
 * it got but never past the last gap + 127: no skip is ever covered.
 */
function makeWindowLiar(ahead: number): (conn: Connection) => void {
  return (conn) => {
    const acks = acksOf(conn);
    acks.write = (_now, w) => {
      const got = acks.received.list();
      let lastGap = 0;
      for (let i = 0; i + 1 < got.length; i++) if ((got[i] as PnRange).lo - (got[i + 1] as PnRange).hi === 2) lastGap = Math.max(lastGap, (got[i + 1] as PnRange).hi + 1);
      const top = got[0] as PnRange;
      const claim = Math.max(top.hi, Math.min(top.hi + ahead, lastGap + SKIP_MIN_GAP - 1));
      writeAck(w, [{ lo: top.lo, hi: claim }, ...got.slice(1)], 0);
      acks.ackDue = undefined;
      acks.ackElicitingUnacked = 0;
      return acks.largest;
    };
  };
}

describe('a liar that never covers a possible skip', () => {
  // Claiming packets still in flight pulls the RTT samples down: the controller's min RTT, and so its
  // window, shrink; the liar gets no more than an honest receiver, and a claim past the largest sent
  // (the flight shrank under it) still closes the connection.
  for (const ahead of [20, 120]) {
    it(`${ahead} ahead within the gap after the last skip: never above the bottleneck`, () => {
      const r = serverBulk(makeWindowLiar(ahead));
      expect(r.offeredOverCapacity).toBeLessThan(1.02);
      if (r.state === 'closed') expect(r.closeMessage).toMatch(/never sent|skipped packet number/);
    });
  }
});

describe('packet-number skipping with honest peers', () => {
  /** Lossy, reordering, jittery: everything that makes an honest receiver's ACKs irregular. */
  const ROUGH: LinkConfig = { delayMs: 15, jitterMs: 5, jitterMode: 'independent', loss: 0.03, reorder: 0.1, reorderHoldMs: 20, bandwidthBps: 20_000_000, queueBytes: 128 * 1024 };

  for (const seed of [1, 2, 3, 4, 5]) {
    it(`seed ${seed}: 12 MiB each way over a lossy, reordering path: never closed, everything delivered, numbers skipped`, () => {
      const p = makePair({ seed, link: ROUGH });
      p.sim.runFor(500);
      const server = p.serverConn() as Connection;
      const count = 192;
      const msg = new Uint8Array(64 * 1024);
      for (let i = 0; i < count; i++) {
        p.conn.send(msg);
        server.send(msg);
      }
      p.sim.wake(CLIENT);
      p.sim.wake(SERVER);
      p.sim.runFor(60_000);
      expect(p.conn.closeReason).toBeUndefined();
      expect(server.closeReason).toBeUndefined();
      expect(messagesOf(p.serverEvents)).toHaveLength(count);
      expect(messagesOf(p.clientEvents)).toHaveLength(count);
      // ~9,000 packets each way: about 15 skips each, 4 remembered.
      for (const c of [p.conn, server]) {
        const skipped = (c as unknown as { recovery: { skipped: readonly number[] } }).recovery.skipped;
        expect(skipped.filter((pn) => pn > 0)).toHaveLength(4);
      }
    });
  }
});

describe('LossDetection.ackViolation', () => {
  const config = { packetThreshold: 3, timeThreshold: 9 / 8, maxAckDelayMs: 25, ackEveryPackets: 2, maxPtoMs: 60_000, idleTimeoutMs: 30_000 };
  const fate = { acked: () => {}, lost: () => {}, spurious: () => {} };
  const make = (): LossDetection => new LossDetection(config, new RttEstimator(), new RecordingController(), fate);

  it('a range above the largest sent is a violation only when strict (encrypted)', () => {
    const ld = make();
    expect(ld.ackViolation([{ lo: 1, hi: 11 }], 10, true)).toBe('acknowledged a packet never sent');
    expect(ld.ackViolation([{ lo: 1, hi: 11 }], 10, false)).toBeUndefined();
    expect(ld.ackViolation([{ lo: 1, hi: 10 }], 10, true)).toBeUndefined();
  });

  it('a range covering a remembered skipped number is a violation; ranges around it are not; only the last four are remembered', () => {
    const ld = make();
    ld.scheduleSkip(0, 5);
    expect(ld.skipAt).toBe(128 + 5);
    ld.onSkipped(133, 0);
    expect(ld.skipAt).toBe(133 + 128);
    expect(ld.ackViolation([{ lo: 134, hi: 200 }, { lo: 1, hi: 132 }], 200, true)).toBeUndefined();
    expect(ld.ackViolation([{ lo: 120, hi: 200 }], 200, false)).toBe('acknowledged a skipped packet number');
    expect(ld.ackViolation([{ lo: 150, hi: 200 }, { lo: 133, hi: 133 }], 200, true)).toBe('acknowledged a skipped packet number');
    for (const pn of [300, 400, 500, 600]) ld.onSkipped(pn, 0);
    expect(ld.ackViolation([{ lo: 133, hi: 133 }], 700, true)).toBeUndefined();
    expect(ld.ackViolation([{ lo: 300, hi: 300 }], 700, true)).toBe('acknowledged a skipped packet number');
  });

  it('the packet rule does not count a skipped number as a packet sent after a lost one', () => {
    const lost: number[] = [];
    const ld = new LossDetection(config, new RttEstimator(), new RecordingController(), { acked: () => {}, lost: (_now, p) => void lost.push(p.pn), spurious: () => {} });
    ld.scheduleSkip(0, 0);
    const send = (pn: number): void =>
      ld.onPacketSent(0, { pn, timeSent: 0, size: 1000, chunks: [], retransmission: false, ackLargest: -1, carriedMaxData: false, carriedBlocked: false, appLimited: false, leftQueueEmpty: false, pingOnly: false });
    // 126, 127, then 128 skipped, then 129, 130: an ACK of 130 is two packets past 127, not three.
    send(126);
    send(127);
    ld.onSkipped(128, 0);
    send(129);
    send(130);
    ld.onAck(1, { type: 'ack', ranges: [{ lo: 129, hi: 130 }], delayMicros: 0 }, 130);
    // 126 has three packets after it (127, 129, 130) and goes; 127 only two (before: also declared lost).
    expect(lost).toEqual([126]);
  });
});
