/**
 * A peer that acknowledges everything but one message (connection/timeouts.ts, `owedSince`). Each loss
 * declared for that message's packets and each resend put a younger packet in flight, so the
 * unacknowledged timer, counted from the oldest packet in flight alone, never fired: 60 s simulated, the
 * message sent 2,414 times, the connection open and resending it for as long as the peer liked. The
 * limit holds per message now: the oldest message not acknowledged whole, from its first send (or, for
 * a message of several chunks, from the last of its chunks newly acknowledged), once the peer let
 * `UNACKNOWLEDGED_LOST_TRIES` tries of it pass. A message lost again and again for most of an idle
 * timeout that then gets through is not that.
 */
import { describe, expect, it } from 'vitest';
import { UNACKNOWLEDGED_LOST_TRIES } from '../src/core/connection/timeouts.js';
import type { CloseReason } from '../src/core/events.js';
import type { LinkConfig } from '../src/testing/impairment.js';
import { type Frame, parseFrames } from '../src/wire/frame.js';
import { PacketType, parseHeader } from '../src/wire/packet.js';
import { CLIENT, SERVER, type Pair, ackedOf, firstOf, makePair, messagesOf, type Recorded } from './helpers/pair.js';

/** The client's idle timeout, ms: the limit under test. */
const IDLE = 10_000;
/** One message every this many ms, for as long as the connection lasts. */
const INTERVAL = 100;

function framesIn(datagram: Uint8Array): readonly Frame[] {
  const h = parseHeader(datagram);
  if (h === undefined || typeof h === 'string' || h.type !== PacketType.Data) return [];
  return parseFrames(h.payload) ?? [];
}

function reasonOf(events: readonly Recorded[]): CloseReason | undefined {
  const r = firstOf(events, 'closed');
  return r?.event.type === 'closed' ? r.event.reason : undefined;
}

/** A DATA packet the client sent: when, its frames, and whether the link dropped it. */
interface Sent {
  readonly at: number;
  readonly frames: readonly Frame[];
  readonly dropped: boolean;
}

/**
 * A plaintext pair whose client sends a message every `INTERVAL` ms for `seconds` (message `i` of
 * `size(i)` bytes, each its index's low byte), and a link that drops every client packet `withheld` says
 * carries what the peer will not acknowledge (a fragment of it, or a repair that could rebuild it), at
 * the time it leaves, so the server never has it and never acknowledges it, while it has,
 * and acknowledges, everything else. Returns the pair and the client's DATA packets.
 */
function withholding(withheld: (f: Frame, now: number) => boolean, size: (i: number) => number, seconds: number): { readonly p: Pair; readonly sent: Sent[] } {
  const p = makePair({ link: { delayMs: 20 }, client: { plaintext: true, idleTimeoutMs: IDLE }, server: { plaintext: true } });
  const poll = p.client.pollTransmit.bind(p.client);
  const sent: Sent[] = [];
  p.client.pollTransmit = (now) => {
    const t = poll(now);
    if (t === undefined) return t;
    const frames = framesIn(t.data);
    const drop = frames.some((f) => withheld(f, now));
    sent.push({ at: now, frames, dropped: drop });
    if (!drop) return t;
    // Sent to an address nobody holds: the link drops it, the sender is none the wiser.
    return { to: '10.9.9.9:9', data: t.data };
  };
  p.sim.runFor(500);
  expect(p.conn.state).toBe('established');
  for (let i = 0; i < (seconds * 1000) / INTERVAL; i++) {
    p.sim.schedule(p.sim.now + i * INTERVAL, () => {
      if (p.conn.state === 'established') p.conn.send(new Uint8Array(size(i)).fill(i & 0xff));
      p.sim.wake(CLIENT);
    });
  }
  return { p, sent };
}

/** Whether frame `f` carries a piece of message `id` or a repair that covers it. */
const carries = (f: Frame, id: number): boolean => (f.type === 'fragment' && f.messageId === id) || (f.type === 'repair' && f.baseId <= id && id < f.baseId + f.count);

describe('a peer that acknowledges everything but one message', () => {
  it('is closed an idle timeout after that message first left, though later data is acknowledged throughout', () => {
    // Message 5 left first at about 500 + 5 * INTERVAL ms; it used to be resent for as long as the run.
    const { p, sent } = withholding((f) => carries(f, 5), () => 64, (6 * IDLE) / 1000);
    p.sim.runFor(6 * IDLE);
    const drops = sent.filter((s) => s.dropped);
    const first = (drops[0] as Sent).at;
    const closed = firstOf(p.clientEvents, 'closed');
    expect(closed, `still ${p.conn.state} ${p.sim.now - first} ms after message 5 first left, sent ${drops.length} times`).toBeDefined();
    const age = Math.round((closed?.at as number) - first);
    expect(reasonOf(p.clientEvents)).toMatchObject({ kind: 'timeout', message: expect.stringMatching(new RegExp(`^no acknowledgement of message 5 from .* for ${age} ms \\(lost \\d+ times while later packets were acknowledged\\)$`)) });
    // An idle timeout after its first send (the peer was heard all along), not later, and not earlier.
    expect(age).toBe(IDLE);
    // The peer did acknowledge what came after it meanwhile: this is the one message it withholds.
    expect(ackedOf(p.clientEvents).length).toBeGreaterThan(50);
    expect(messagesOf(p.serverEvents)).toHaveLength(5);
  });

  it('withholding one chunk of a message of several: closed an idle timeout after the last of its other chunks was acknowledged', () => {
    // Message 3, 20 KB in 17 chunks: the peer acknowledges all but its first chunk. Its other chunks
    // are progress; an idle timeout after the last of them was acknowledged, it is closed.
    const { p, sent } = withholding((f) => f.type === 'fragment' && f.messageId === 3 && f.offset === 0, (i) => (i === 3 ? 20_000 : 64), (6 * IDLE) / 1000);
    p.sim.runFor(6 * IDLE);
    const closed = firstOf(p.clientEvents, 'closed');
    expect(closed, `still ${p.conn.state}, the first chunk of message 3 sent ${sent.filter((s) => s.dropped).length} times`).toBeDefined();
    expect(reasonOf(p.clientEvents)?.message).toMatch(/^no acknowledgement of message 3 from .* for \d+ ms \(lost \d+ times while later packets were acknowledged\)$/);
    // Its other chunks' last copy that got through: acknowledged one path round trip (and an ACK delay) later.
    const rest = sent.filter((s) => !s.dropped && s.frames.some((f) => f.type === 'fragment' && f.messageId === 3));
    expect(rest.length).toBeGreaterThanOrEqual(16);
    const lastRest = (rest.at(-1) as Sent).at;
    expect(closed?.at).toBeGreaterThanOrEqual(lastRest + 40 + IDLE);
    expect(closed?.at).toBeLessThanOrEqual(lastRest + 40 + 25 + IDLE);
  });

  it('an honest path that loses one message for most of an idle timeout, but not all of it, keeps the connection and delivers it', () => {
    // Every copy of message 5 sent in the first 0.9 idle timeouts after its first is lost, then it gets
    // through: resent, probed and copied again and again meanwhile, while the rest is acknowledged.
    let from: number | undefined;
    const { p, sent } = withholding((f, now) => carries(f, 5) && now < (from ??= now) + 0.9 * IDLE, () => 64, (3 * IDLE) / 1000);
    p.sim.runFor(4 * IDLE);
    const drops = sent.filter((s) => s.dropped);
    expect(drops.length).toBeGreaterThan(100);
    expect(reasonOf(p.clientEvents)).toBeUndefined();
    expect(messagesOf(p.serverEvents)).toHaveLength((3 * IDLE) / INTERVAL);
  });

  it('an honest slow path behind a large queue keeps a connection whose message was owed past the idle timeout: few tries lost (counted by time alone, it was closed)', () => {
    // 64 kbit/s behind 64 KiB, 30 % burst loss: each resend waits out an 8 s queue (seed 2 of
    // test/measure/small-messages-slow-path.ts, closed there by a limit of the idle timeout alone).
    const slow: LinkConfig = { delayMs: 100, bandwidthBps: 64_000, queueBytes: 64 * 1024, loss: 0.3, burst: { meanBurstLength: 3 } };
    const p = makePair({ seed: 2, link: { delayMs: 100 } });
    p.sim.runFor(1_000);
    p.sim.setLinks(CLIENT, SERVER, slow);
    for (let i = 0; i < 1_000; i++) p.conn.send(new Uint8Array(1_000).fill(i & 0xff));
    p.sim.wake(CLIENT);
    let owed = 0;
    let tries = 0;
    const end = p.sim.now + 600_000;
    while (messagesOf(p.serverEvents).length < 1_000 && p.conn.state === 'established' && p.sim.now < end) {
      p.sim.runFor(50);
      const m = p.conn.sendQueue.oldestUnacknowledged();
      if (m !== undefined && m.unacknowledgedSince() !== Number.POSITIVE_INFINITY) {
        owed = Math.max(owed, p.sim.now - m.unacknowledgedSince());
        tries = Math.max(tries, m.lostTries);
      }
    }
    expect(reasonOf(p.clientEvents)).toBeUndefined();
    expect(messagesOf(p.serverEvents)).toHaveLength(1_000);
    expect(owed).toBeGreaterThan(30_000);
    expect(tries).toBeLessThan(UNACKNOWLEDGED_LOST_TRIES);
  });
});
