/**
 * The sender's redundancy policy: no redundancy on a clean path, one tail
 * copy from the loss threshold and `maxCopies` from the high threshold,
 * repairs on a share of packets that follows the loss rate, over the recent
 * unacknowledged small messages.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONNECTION_CONFIG } from '../../src/core/config.js';
import { RttEstimator } from '../../src/core/recovery/rtt.js';
import { RepairPolicy, type RepairPolicyConfig, autoCopyShare } from '../../src/core/repair/repair-policy.js';
import { type ChunkRef, DetachedBytesError, OutgoingMessage } from '../../src/core/send/outgoing-message.js';
import { RetransmitQueue } from '../../src/core/send/retransmit-queue.js';
import type { RepairFrame } from '../../src/wire/frame.js';
import { framesIn, writerWithRoom } from './fixtures.js';

/** Defaults: repairs and one tail copy from 2 % loss, two copies and a repair every packet from 5 %. */
/** The defaults, with repairs alone at high loss (the previous copies the loss rate earns have tests of their own below). */
const CONFIG: RepairPolicyConfig = { ...DEFAULT_CONNECTION_CONFIG, redundancy: { ...DEFAULT_CONNECTION_CONFIG.redundancy, previousCopyShare: 0 } };

function policy(config: RepairPolicyConfig = CONFIG): { p: RepairPolicy; rtt: RttEstimator } {
  const rtt = new RttEstimator();
  rtt.update(40, 0);
  return { p: new RepairPolicy(config, rtt), rtt };
}

/** `p` after a long clean history: its loss estimate is the plain moving average. */
function settled(p: RepairPolicy): RepairPolicy {
  for (let i = 0; i < 2_000; i++) p.onPacketAcked();
  return p;
}

const msg = (id: number, length = 10): OutgoingMessage => new OutgoingMessage(id, new Uint8Array(length).fill(id + 1), 0, 1_000);
const ref = (m: OutgoingMessage): ChunkRef => ({ message: m, index: 0, notBefore: 0 });

/** Tail copies `p` queues for one small message sent at `now`, as their times. */
function tailCopies(p: RepairPolicy, now = 0): number[] {
  const q = new RetransmitQueue({ redundantCopies: 0, redundantSpacingMs: 0 }, { inFlight: () => false });
  const m = msg(0);
  p.queueTailCopies(now, [ref(m)], q);
  const times: number[] = [];
  for (let i = 0; i < 10 && q.length > 0; i++) {
    const t = q.earliest();
    q.fill(t, writerWithRoom(100), [], false);
    times.push(t);
  }
  return times;
}

/** The REPAIR `p` writes into packet `pn` at `now`, if any. */
function repairIn(p: RepairPolicy, now: number, pn: number, chunks: readonly ChunkRef[] = []): RepairFrame | undefined {
  const w = writerWithRoom(1_000);
  const wrote = p.fillRepair(now, pn, w, [...chunks]);
  const f = framesIn(w).find((x): x is RepairFrame => x.type === 'repair');
  expect(wrote).toBe(f !== undefined);
  return f;
}

describe('RepairPolicy: how much redundancy the loss rate earns', () => {
  it('an unmeasured path gets the most tail copies (no repairs) until the first packet outcome', () => {
    const { p } = policy();
    p.rememberSmall(0, msg(0));
    expect(tailCopies(p)).toEqual([20, 40]);
    expect(repairIn(p, 0, 5)).toBeUndefined();
    p.onPacketAcked();
    expect(tailCopies(p)).toEqual([]);
  });

  it('a clean path gets none', () => {
    const { p } = policy();
    p.onPacketAcked();
    p.rememberSmall(0, msg(0));
    expect(tailCopies(p)).toEqual([]);
    expect(repairIn(p, 0, 5)).toBeUndefined();
  });

  it('one loss in an otherwise clean history (2 %) earns one tail copy; three (5.9 %) earn two', () => {
    const p = settled(policy().p);
    p.onPacketLost();
    // Spacing: max(3 ms, min(srtt / 2, 25 ms)) = 20 ms.
    expect(tailCopies(p, 100)).toEqual([120]);
    p.onPacketLost();
    p.onPacketLost();
    expect(tailCopies(p, 100)).toEqual([120, 140]);
  });

  it('acknowledged packets bring the rate back down', () => {
    const p = settled(policy().p);
    p.onPacketLost();
    p.onPacketAcked();
    // 0.02 · 0.98 < 0.02.
    expect(tailCopies(p)).toEqual([]);
  });

  it('tail copies only for one-chunk messages within maxMessageBytes', () => {
    const p = settled(policy().p);
    p.onPacketLost();
    const q = new RetransmitQueue({ redundantCopies: 0, redundantSpacingMs: 0 }, { inFlight: () => false });
    const big = new OutgoingMessage(1, new Uint8Array(300), 0, 1_000);
    const multi = new OutgoingMessage(2, new Uint8Array(100), 0, 50);
    p.queueTailCopies(0, [ref(big), { message: multi, index: 0, notBefore: 0 }, ref(msg(3, 256))], q);
    expect(q.length).toBe(1);
  });

  it('maxCopies 0 turns everything off, at any loss', () => {
    const { p } = policy({ ...CONFIG, redundancy: { ...CONFIG.redundancy, maxCopies: 0 } });
    for (let i = 0; i < 50; i++) p.onPacketLost();
    p.rememberSmall(0, msg(0));
    expect(tailCopies(p)).toEqual([]);
    expect(repairIn(p, 0, 5)).toBeUndefined();
  });

  it('the handshake seed counts, capped at 50 %, unless data losses were already seen', () => {
    const seeded = policy().p;
    seeded.seed(0.03, false);
    expect(tailCopies(seeded)).toEqual([20]);
    const ignored = policy().p;
    ignored.onPacketAcked();
    ignored.seed(0.9, true);
    expect(tailCopies(ignored)).toEqual([]);
    // Capped at 0.5, seen by its decay once a data loss confirmed it: 0.5 · 0.98 + 0.02, then · 0.98^n,
    // drops below the 5 % threshold at n = 115 (0.9 uncapped would take 144).
    const capped = policy().p;
    capped.seed(0.9, false);
    capped.onPacketLost();
    for (let i = 0; i < 114; i++) capped.onPacketAcked();
    expect(tailCopies(capped)).toHaveLength(2);
    capped.onPacketAcked();
    expect(tailCopies(capped)).toHaveLength(1);
  });

  it('retires the handshake guess after 8 packets acknowledged without a data loss (a slow server, not a lossy path)', () => {
    const { p } = policy();
    p.seed(0.2, false);
    for (let i = 0; i < 7; i++) p.onPacketAcked();
    expect(tailCopies(p)).toHaveLength(2);
    p.onPacketAcked();
    expect(tailCopies(p)).toEqual([]);
  });

  it('keeps the guess when a data packet is lost during the trial, even one found in the same ACK after the 8th', () => {
    const early = policy().p;
    early.seed(0.2, false);
    for (let i = 0; i < 7; i++) early.onPacketAcked();
    early.onPacketLost();
    expect(tailCopies(early)).toHaveLength(2);
    const sameAck = policy().p;
    sameAck.seed(0.2, false);
    for (let i = 0; i < 8; i++) sameAck.onPacketAcked();
    expect(tailCopies(sameAck)).toEqual([]);
    sameAck.onPacketLost();
    expect(tailCopies(sameAck)).toHaveLength(2);
    // After 8 more clean acknowledgements the guess is forgotten: a loss then is one measured loss.
    const later = policy().p;
    later.seed(0.2, false);
    for (let i = 0; i < 16; i++) later.onPacketAcked();
    later.onPacketLost();
    expect(tailCopies(later)).toHaveLength(1);
  });

  it('puts the guess back on trial when every loss that ended it turns out spurious (the RTT grew after the handshake)', () => {
    const undone = policy().p;
    undone.seed(0.2, false);
    for (let i = 0; i < 3; i++) undone.onPacketAcked();
    // Two packets declared lost together, both acknowledged later: the trial goes on where it stood.
    undone.onPacketLost(5);
    undone.onPacketLost(6);
    undone.onLossUndone(6);
    expect(tailCopies(undone)).toHaveLength(2);
    undone.onLossUndone(5);
    for (let i = 0; i < 4; i++) undone.onPacketAcked();
    expect(tailCopies(undone)).toHaveLength(2);
    undone.onPacketAcked();
    expect(tailCopies(undone)).toEqual([]);
    // One of them really lost: the guess stands.
    const real = policy().p;
    real.seed(0.2, false);
    real.onPacketLost(5);
    real.onPacketLost(6);
    real.onLossUndone(6);
    for (let i = 0; i < 16; i++) real.onPacketAcked();
    expect(tailCopies(real)).toHaveLength(2);
  });
});

describe('RepairPolicy: repairs', () => {
  it('at high loss every packet of new data carries a repair over the recent unacknowledged small messages', () => {
    const { p } = policy();
    p.seed(0.2, false);
    const ms = [msg(0), msg(1), msg(2)];
    for (const m of ms) p.rememberSmall(10, m);
    const f = repairIn(p, 20, 7);
    expect(f).toMatchObject({ baseId: 0, count: 3, uniform: true });
    expect(repairIn(p, 21, 8)).toMatchObject({ baseId: 0, count: 3 });
    // The first two repairs are the ones a lost message's resend waits for.
    expect(repairIn(p, 22, 9)).toBeDefined();
    expect(ms.map((m) => [m.repairs, m.lastRepairPn])).toEqual([
      [3, 8],
      [3, 8],
      [3, 8],
    ]);
  });

  it('leaves out the messages of the packet itself and acknowledged ones at either end', () => {
    const { p } = policy();
    p.seed(0.2, false);
    const ms = [0, 1, 2, 3, 4].map((id) => msg(id));
    for (const m of ms) p.rememberSmall(10, m);
    (ms[0] as OutgoingMessage).ack(0);
    (ms[3] as OutgoingMessage).ack(0);
    // Message 4 rides in this packet; 3 is acknowledged at the top end, 0 at the bottom.
    expect(repairIn(p, 20, 7, [ref(ms[4] as OutgoingMessage)])).toMatchObject({ baseId: 1, count: 2 });
  });

  it('covers only a run of consecutive ids sent within two round trips', () => {
    const { p } = policy();
    p.seed(0.2, false);
    // srtt 40, max ACK delay 25: the horizon is 130 ms back.
    p.rememberSmall(0, msg(0));
    p.rememberSmall(100, msg(1));
    p.rememberSmall(100, msg(3));
    p.rememberSmall(200, msg(4));
    expect(repairIn(p, 230, 7)).toMatchObject({ baseId: 3, count: 2 });
    expect(repairIn(p, 330, 8)).toMatchObject({ baseId: 4, count: 1 });
    expect(repairIn(p, 331, 9)).toBeUndefined();
  });

  it('below the high threshold, a share of packets in proportion to the loss rate', () => {
    const { p } = policy();
    // 2.5 % of the 5 % threshold: every second packet.
    p.seed(0.025, false);
    p.rememberSmall(0, msg(0));
    const carried = [1, 2, 3, 4, 5, 6].map((pn) => repairIn(p, 1, pn) !== undefined);
    expect(carried).toEqual([false, true, false, true, false, true]);
  });

  it('remembers only one-chunk messages within min(maxMessageBytes, 255), the last 16', () => {
    const { p } = policy();
    p.seed(0.2, false);
    p.rememberSmall(0, new OutgoingMessage(0, new Uint8Array(100), 0, 50));
    p.rememberSmall(0, msg(1, 256));
    expect(repairIn(p, 1, 5)).toBeUndefined();
    for (let id = 2; id < 40; id++) p.rememberSmall(0, msg(id));
    expect(repairIn(p, 1, 6)).toMatchObject({ baseId: 24, count: 16 });
  });

  it('no repair when every recent message rides in this packet, or all were acknowledged', () => {
    const { p } = policy();
    p.seed(0.2, false);
    const a = msg(0);
    p.rememberSmall(0, a);
    expect(repairIn(p, 1, 5, [ref(a)])).toBeUndefined();
    const b = msg(1);
    p.rememberSmall(0, b);
    a.ack(0);
    b.ack(0);
    expect(repairIn(p, 1, 6)).toBeUndefined();
  });

  it('a repair that does not fit is not written, and its credit waits for the next packet', () => {
    const { p } = policy();
    // Half the threshold: one repair per two packets of new data.
    p.seed(0.025, false);
    p.rememberSmall(0, msg(0));
    expect(repairIn(p, 1, 5)).toBeUndefined();
    const w = writerWithRoom(5);
    expect(p.fillRepair(1, 6, w, [])).toBe(false);
    // REPAIR type, base id, count, width, then the 10-byte symbol: 14 bytes exactly.
    const fits = writerWithRoom(14);
    expect(p.fillRepair(1, 7, fits, [])).toBe(true);
    expect(fits.room()).toBe(0);
  });

  it('packets with no small message to cover earn no credit', () => {
    const { p } = policy();
    p.seed(0.025, false);
    expect(repairIn(p, 1, 5)).toBeUndefined();
    p.rememberSmall(1, msg(0));
    expect(repairIn(p, 1, 6)).toBeUndefined();
    expect(repairIn(p, 1, 7)).toBeDefined();
  });

  it('a message of exactly min(maxMessageBytes, 255) bytes is covered', () => {
    const { p } = policy();
    p.seed(0.2, false);
    p.rememberSmall(0, msg(0, 255));
    expect(repairIn(p, 1, 5)).toMatchObject({ baseId: 0, count: 1 });
  });
});

describe('RepairPolicy: the loss-rate average', () => {
  const at = (lossThreshold: number, highLossThreshold: number): RepairPolicyConfig => ({ ...CONFIG, redundancy: { ...CONFIG.redundancy, lossThreshold, highLossThreshold } });
  const ONE = 1 - 0.98;
  const TWO = ONE * 0.98 + ONE;

  it('each loss moves it 2 % of the way to 1: two losses after a long clean history make 1 − 0.98² of the outcomes', () => {
    const below = settled(policy(at(TWO + 1e-12, 0.5)).p);
    below.onPacketLost();
    below.onPacketLost();
    expect(tailCopies(below)).toEqual([]);
    const atIt = settled(policy(at(TWO, 0.5)).p);
    atIt.onPacketLost();
    atIt.onPacketLost();
    expect(tailCopies(atIt)).toEqual([20]);
  });

  it('a new path counts its first outcomes against ten clean packets, not against nothing', () => {
    // Two losses and no other outcome: (1 − 0.98²) / (10 · 0.02) = 19.8 %.
    const below = policy(at(TWO / (10 * ONE) + 1e-9, 0.9)).p;
    below.onPacketLost();
    below.onPacketLost();
    expect(tailCopies(below)).toEqual([]);
    const atIt = policy(at(TWO / (10 * ONE) - 1e-9, 0.9)).p;
    atIt.onPacketLost();
    atIt.onPacketLost();
    expect(tailCopies(atIt)).toEqual([20]);
  });

  it('a loss among the first packets of a path turns a repair on in every packet at once (not after ~50 packets)', () => {
    // 1 loss in 5 outcomes reads as 10 % (≥ the 5 % high threshold); a plain average from zero read
    // 2 % and earned a repair on every third packet only.
    const { p } = policy();
    for (let i = 0; i < 4; i++) p.onPacketAcked();
    p.onPacketLost();
    for (let id = 0; id < 3; id++) {
      p.rememberSmall(id, msg(id));
      expect(repairIn(p, id, 10 + id), `packet ${id}`).toBeDefined();
    }
  });

  it('after the prior, the estimate is the plain average of what was seen', () => {
    // 2 losses in 20 outcomes: about 10 % (decay weighs the older ones a little less).
    const p = policy(at(0.09, 0.11)).p;
    for (let i = 0; i < 9; i++) p.onPacketAcked();
    p.onPacketLost();
    for (let i = 0; i < 9; i++) p.onPacketAcked();
    p.onPacketLost();
    expect(tailCopies(p)).toEqual([20]);
  });

  it('on a path that keeps losing 10 %, a stretch of 40 clean packets still leaves a repair in every packet (the long average holds the rate up), unless losses come in runs', () => {
    // The short average alone reads about 4 % after the stretch, under the 5 % high threshold: every
    // other packet went without a repair. The long one reads about 8 %.
    const missing = (lost: (pn: number) => boolean): number => {
      const { p } = policy();
      for (let pn = 0; pn < 3_000; pn++) {
        if (lost(pn)) p.onPacketLost(pn);
        else p.onPacketAcked();
      }
      for (let i = 0; i < 40; i++) p.onPacketAcked();
      p.rememberSmall(0, msg(0));
      return Array.from({ length: 20 }, (_, i) => repairIn(p, 1, 4_000 + i)).filter((f) => f === undefined).length;
    };
    expect(missing((pn) => pn % 10 === 0)).toBe(0);
    // Runs of three every 30 packets (10 %): the clean stretches between runs are real, and earn the
    // short average's share.
    expect(missing((pn) => pn % 30 < 3)).toBeGreaterThan(0);
  });

  it('the thresholds count from the rate reaching them', () => {
    const p = policy(at(ONE, ONE)).p;
    p.onPacketLost();
    expect(tailCopies(p)).toEqual([20, 40]);
  });
});


describe('RepairPolicy: previous copies (redundancy.previousCopyShare)', () => {
  const withShare = (share: number | undefined): RepairPolicyConfig => ({ ...CONFIG, redundancy: { ...CONFIG.redundancy, previousCopyShare: share } });

  /** What `p` adds to packet `pn` carrying message `id` (sent at `now`): the copied message id (or -1) and the repair's range. */
  function packet(p: RepairPolicy, now: number, pn: number, id: number): { copy: number; redundant: boolean; repair: [number, number] | undefined } {
    const m = msg(id);
    p.rememberSmall(now, m);
    const w = writerWithRoom(1_000);
    const chunks: ChunkRef[] = [ref(m)];
    p.fillRepair(now, pn, w, chunks);
    const frames = framesIn(w);
    const copy = frames.find((f) => f.type === 'fragment');
    const repair = frames.find((f): f is RepairFrame => f.type === 'repair');
    return {
      copy: copy?.type === 'fragment' ? copy.messageId : -1,
      redundant: chunks.slice(1).every((c) => c.redundant === true) && chunks.length === (copy ? 2 : 1),
      repair: repair && [repair.baseId, repair.baseId + repair.count - 1],
    };
  }

  function highLoss(config: RepairPolicyConfig): RepairPolicy {
    const p = policy(config).p;
    p.seed(0.2, false);
    return p;
  }

  it('by default none at a measured loss of 10 % or less: one repair per packet over the messages before it', () => {
    const p = policy(withShare(undefined)).p;
    p.seed(0.1, false);
    packet(p, 0, 10, 0);
    expect(packet(p, 20, 11, 1)).toEqual({ copy: -1, redundant: true, repair: [0, 0] });
    expect(packet(p, 40, 12, 2)).toEqual({ copy: -1, redundant: true, repair: [0, 1] });
  });

  it('by default half of the packets from a measured loss of 15 % on (rising from 10 %), none where losses come in runs', () => {
    expect([0.05, 0.1, 0.125, 0.15, 0.3].map(autoCopyShare)).toEqual([0, 0, 0.25, 0.5, 0.5]);
    const p = highLoss(withShare(undefined));
    packet(p, 0, 10, 0);
    expect([1, 2, 3, 4].map((id) => packet(p, 20 * id, 10 + id, id).copy)).toEqual([0, -1, 2, -1]);
    // Losses in runs: a copy in the very next packet would fall in the same run.
    const bursty = highLoss(withShare(undefined));
    for (let pn = 100; pn < 120; pn++) bursty.onPacketLost(pn);
    expect(bursty.bursty()).toBe(true);
    packet(bursty, 0, 10, 0);
    expect([1, 2, 3, 4].map((id) => packet(bursty, 20 * id, 10 + id, id).copy)).toEqual([-1, -1, -1, -1]);
  });

  it('share 0.75: three packets in four (an unspent credit is not capped at the share of ½)', () => {
    const p = highLoss(withShare(0.75));
    packet(p, 0, 10, 0);
    expect([1, 2, 3, 4, 5].map((id) => packet(p, 20 * id, 10 + id, id).copy)).toEqual([0, 1, 2, -1, 4]);
  });

  it('share 1: every packet of new data carries the previous message as a redundant chunk, and the repair covers the ones before it', () => {
    const p = highLoss(withShare(1));
    expect(packet(p, 0, 10, 0).copy).toBe(-1);
    expect(packet(p, 20, 11, 1)).toEqual({ copy: 0, redundant: true, repair: undefined });
    expect(packet(p, 40, 12, 2)).toEqual({ copy: 1, redundant: true, repair: [0, 0] });
    expect(packet(p, 60, 13, 3)).toEqual({ copy: 2, redundant: true, repair: [0, 1] });
  });

  it('share 0.5: every other packet', () => {
    const p = highLoss(withShare(0.5));
    packet(p, 0, 10, 0);
    const copies = [1, 2, 3, 4].map((id) => packet(p, 20 * id, 10 + id, id).copy);
    expect(copies).toEqual([0, -1, 2, -1]);
  });

  it('none below the high-loss threshold, nor of an acknowledged message', () => {
    const low = policy(withShare(1)).p;
    low.seed(0.03, false);
    packet(low, 0, 10, 0);
    expect(packet(low, 20, 11, 1).copy).toBe(-1);
    const p = highLoss(withShare(1));
    const first = msg(0);
    p.rememberSmall(0, first);
    first.ack(0);
    expect(packet(p, 20, 11, 1).copy).toBe(-1);
  });
});

describe('RepairPolicy: copies of a resend follow the loss pattern', () => {
  it('losses that come alone at a moderate rate: no copy (bytes for nothing); below the high-loss threshold and from 25 % loss: the configured copies', () => {
    const { p } = policy();
    p.seed(0.2, false);
    for (let pn = 10; pn < 200; pn += 10) p.onPacketLost(pn);
    expect(p.bursty()).toBe(false);
    const moderate = policy().p;
    for (let i = 0; i < 2_000; i++) {
      if (i % 8 === 0) moderate.onPacketLost(i);
      else moderate.onPacketAcked();
    }
    expect(moderate.resendCopies(1)).toBe(0);
    const high = policy().p;
    for (let i = 0; i < 2_000; i++) {
      if (i % 3 === 0) high.onPacketLost(i);
      else high.onPacketAcked();
    }
    expect(high.resendCopies(1)).toBe(1);
    expect(high.resendCopies(0)).toBe(0);
    // 2 %: repairs on a share of packets only, resends rare: their copies cost little.
    const low = policy().p;
    for (let i = 0; i < 2_000; i++) {
      if (i % 50 === 0) low.onPacketLost(i);
      else low.onPacketAcked();
    }
    expect(low.resendCopies(1)).toBe(1);
  });

  it('losses in runs (a packet lost right after a lost one): one copy more for a packet lost in a run that still goes on', () => {
    const { p } = policy();
    // Runs of three: two of every three losses follow a loss.
    for (let i = 0; i < 300; i++) {
      if (i % 30 < 3) p.onPacketLost(i);
      else p.onPacketAcked();
    }
    expect(p.bursty()).toBe(true);
    expect(p.resendCopies(1)).toBe(2);
    expect(p.resendCopies(0)).toBe(0);
    // A loss found because a later packet was acknowledged (not in a run still going on): as configured.
    expect(p.resendCopies(1, false)).toBe(1);
  });

  it('runs are recognised from the first two (a share averaged from zero needed ~18 losses), and a pair among losses that come alone is not a pattern', () => {
    const { p } = policy();
    for (const pn of [10, 11, 12]) p.onPacketLost(pn);
    // One run of three against the prior of losses that came alone: not yet.
    expect(p.bursty()).toBe(false);
    for (const pn of [30, 31, 32]) p.onPacketLost(pn);
    expect(p.bursty()).toBe(true);
    expect(p.resendCopies(1)).toBe(2);
    const alone = policy().p;
    for (const pn of [10, 11, 20, 30, 40, 50]) alone.onPacketLost(pn);
    expect(alone.bursty()).toBe(false);
    // Losses that come alone afterwards wear a recognised pattern down as before.
    for (let pn = 100; pn < 1_000; pn += 10) p.onPacketLost(pn);
    expect(p.bursty()).toBe(false);
  });
});

describe('RepairPolicy: the bytes of an acknowledged message a repair still covers', () => {
  /** Detaches `buffer` as a transfer to a worker does. */
  const transfer = (buffer: ArrayBufferLike): void => void structuredClone(buffer, { transfer: [buffer as ArrayBuffer] });

  /**
   * Messages 0–2 sent, 1 acknowledged before 0 (0 lost, say): a repair over 0–2 lets the peer rebuild 0 from
   * the bytes of 1 it has. Once 1 is acknowledged its send promise resolves and the application may reuse its
   * buffer (`reuse`), as the README allows; the repair's symbol must stay the one over the bytes the peer has.
   */
  function repairAfter(reuse: (m: OutgoingMessage) => void): RepairFrame | undefined {
    const { p } = policy();
    p.seed(0.2, false);
    const ms = [0, 1, 2].map((id) => msg(id));
    for (const m of ms) p.rememberSmall(10, m);
    (ms[1] as OutgoingMessage).ack(0);
    // As the connection does after every ACK that completed messages, before the application hears of them.
    p.forgetAcknowledged();
    reuse(ms[1] as OutgoingMessage);
    return repairIn(p, 20, 7);
  }

  it('a buffer overwritten after its send resolved leaves the repair over the bytes sent (the peer would rebuild a wrong message)', () => {
    const kept = repairAfter(() => undefined);
    expect(kept).toMatchObject({ baseId: 0, count: 3 });
    expect(repairAfter((m) => m.data.fill(0xee))).toEqual(kept);
  });

  it('a buffer transferred after its send resolved leaves the repair over the bytes sent (it ended the connection)', () => {
    const kept = repairAfter(() => undefined);
    expect(repairAfter((m) => transfer(m.data.buffer))).toEqual(kept);
  });

  it('a buffer transferred before its message was acknowledged is found out: DetachedBytesError (the connection ends), never an empty symbol', () => {
    for (const ackedAfter of [false, true]) {
      const { p } = policy();
      p.seed(0.2, false);
      const ms = [0, 1, 2].map((id) => msg(id));
      for (const m of ms) p.rememberSmall(10, m);
      transfer((ms[1] as OutgoingMessage).data.buffer);
      if (ackedAfter) (ms[1] as OutgoingMessage).ack(0);
      p.forgetAcknowledged();
      expect(() => p.fillRepair(20, 7, writerWithRoom(1_000), [])).toThrow(DetachedBytesError);
    }
  });
});
