/**
 * The unacknowledged timer per message (connection/timeouts.ts, `owedSince`): a peer that acknowledges
 * every packet but those that carry one message is closed an idle timeout after that message first
 * left, once it has let `UNACKNOWLEDGED_LOST_TRIES` tries of it pass; a message lost a few times on a
 * slow path, owed longer than the idle timeout, is not that.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONNECTION_CONFIG, type ConnectionConfig } from '../../src/core/config.js';
import { Connection } from '../../src/core/connection.js';
import { UNACKNOWLEDGED_LOST_TRIES } from '../../src/core/connection/timeouts.js';
import { DatagramScratch } from '../../src/core/datagram-scratch.js';
import type { EndpointEvent } from '../../src/core/events.js';
import type { PnRange } from '../../src/wire/ack-frame.js';
import { writeAck } from '../../src/wire/ack-frame.js';
import { type Frame, parseFrames } from '../../src/wire/frame.js';
import { HEADER_SIZE, MAX_DATAGRAM, PacketType, parseHeader } from '../../src/wire/packet.js';
import { QuietHost, RecordingController, writerWithRoom } from './fixtures.js';

const IDLE = 10_000;

class Host extends QuietHost {
  readonly events: EndpointEvent[] = [];
  override emit(event: EndpointEvent): void {
    this.events.push(event);
  }
}

const scratch = new DatagramScratch(MAX_DATAGRAM);

/**
 * A server connection past its ACCEPT (tail copies off, no keep-alive), and a peer that acknowledges
 * each of its DATA packets but those with a frame `withheld` (at the time it left). `round(now)` runs
 * the timers due, sends a message of `size(i)` bytes (the `i`th round) and takes the peer's ACK 20 ms later.
 */
function rig(withheld: (f: Frame, now: number) => boolean, size: (i: number) => number = () => 10): { readonly c: Connection; readonly host: Host; round(now: number): void } {
  const host = new Host();
  const cfg: ConnectionConfig = {
    ...DEFAULT_CONNECTION_CONFIG,
    keepAliveMs: 0,
    idleTimeoutMs: IDLE,
    congestion: () => new RecordingController(),
    redundancy: { maxCopies: 0, maxMessageBytes: 256, lossThreshold: 0.02, highLossThreshold: 0.05 },
  };
  const c = new Connection(host, cfg, 'server', 1, 2, '10.0.0.1:1', 0, 1 << 20);
  c.pollTransmit(0, scratch);
  c.handleTimeout(3);
  c.pollTransmit(3, scratch);
  const acked: number[] = [];
  let peerPn = 1;
  let rounds = 0;
    const send = (now: number): number[] => {
    const got: number[] = [];
    for (let d = c.pollTransmit(now, scratch); d !== undefined; d = c.pollTransmit(now, scratch)) {
      const h = parseHeader(d);
      if (typeof h === 'string' || h.type !== PacketType.Data) continue;
      const frames = parseFrames(h.payload) ?? [];
      if (!frames.some((f) => withheld(f, now))) got.push(h.pn);
    }
    return got;
  };
  const ack = (now: number): void => {
    if (c.state === 'closed') return;
    const ranges: PnRange[] = [];
    for (const pn of [...acked].sort((a, b) => b - a)) {
      const top = ranges.at(-1);
      if (top !== undefined && top.lo === pn + 1) ranges[ranges.length - 1] = { lo: pn, hi: top.hi };
      else ranges.push({ lo: pn, hi: pn });
    }
    const w = writerWithRoom(500);
    writeAck(w, ranges.slice(0, 32), 0);
    const header = { type: PacketType.Data, dcid: 0, pn: peerPn++, pnBytes: 4, epoch: 0, datagram: w.buf.slice(0, w.pos), payloadStart: HEADER_SIZE, payloadEnd: w.pos } as const;
    expect(c.handlePacket(now, header, w.pos + 4)).toBe('ok');
  };
  return {
    c,
    host,
    round(now: number): void {
      for (let t = c.nextTimeout(); t <= now && c.state !== 'closed'; t = c.nextTimeout()) {
        c.handleTimeout(t);
        acked.push(...send(t));
      }
      if (c.state === 'closed') return;
      c.send(new Uint8Array(size(rounds++)));
      acked.push(...send(now));
      ack(now + 20);
      acked.push(...send(now + 20));
    },
  };
}

function closeReason(host: Host): string | undefined {
  const e = host.events.find((x) => x.type === 'closed');
  return e?.type === 'closed' ? e.reason.message : undefined;
}

/** Whether `f` carries a piece of message `id`. */
const of = (f: Frame, id: number): boolean => f.type === 'fragment' && f.messageId === id;

describe('Connection: the unacknowledged timer counts per message', () => {
  it('a peer that acknowledges everything but message 0 is closed an idle timeout after it first left', () => {
    const { c, host, round } = rig((f) => of(f, 0));
    // A message every 100 ms, message 0 first at 1,000; every other packet is acknowledged 20 ms after it left.
    for (let t = 1_000; t < 1_000 + IDLE; t += 100) round(t);
    expect(c.state).toBe('established');
    for (let t = 1_000 + IDLE; t < 3 * IDLE && c.state !== 'closed'; t += 100) round(t);
    expect(c.state).toBe('closed');
    expect(closeReason(host)).toMatch(new RegExp(`^no acknowledgement of message 0 from 10.0.0.1:1 for ${IDLE} ms \\(lost (\\d+) times while later packets were acknowledged\\)$`));
    const tries = Number(/lost (\d+) times/.exec(closeReason(host) ?? '')?.[1]);
    expect(tries).toBeGreaterThanOrEqual(UNACKNOWLEDGED_LOST_TRIES);
    expect(host.events.some((e) => e.type === 'acked' && e.messageId > 0)).toBe(true);
  });

  it('a message of several chunks is owed from the last of its chunks acknowledged', () => {
    // Message 0, 5,000 bytes in 4 chunks: its first chunk is never acknowledged, the others only from 5,000 ms.
    const { c, host, round } = rig((f, now) => f.type === 'fragment' && f.messageId === 0 && (f.offset === 0 || now < 5_000), (i) => (i === 0 ? 5_000 : 10));
    for (let t = 1_000; t < 5_000 + IDLE; t += 100) round(t);
    expect(c.state).toBe('established');
    for (let t = 5_000 + IDLE; t < 3 * IDLE && c.state !== 'closed'; t += 100) round(t);
    expect(c.state).toBe('closed');
    // The chunks acknowledged at 5,020 (the ACK of the round at 5,000): owed the idle timeout from then.
    expect(closeReason(host)).toMatch(new RegExp(`^no acknowledgement of message 0 from 10.0.0.1:1 for ${IDLE} ms `));
  });

  it('progress on a message of several chunks counts its tries afresh: a slow path after it keeps the connection', () => {
    // Message 0, 5,000 bytes in 4 chunks, withheld whole while the peer answers every 100 ms (its tries
    // pass the limit); from 5,000 the peer answers every 3 s, acknowledging all but its first chunk,
    // which gets through 1.5 idle timeouts later. The other chunks' acknowledgement (at 8,020) is
    // progress: the tries lost before it no longer count, and the few lost after it are too few.
    const holdFirstUntil = 5_000 + 1.5 * IDLE;
    const { c, host, round } = rig((f, now) => of(f, 0) && (now < 5_000 || (f.type === 'fragment' && f.offset === 0 && now < holdFirstUntil)), (i) => (i === 0 ? 5_000 : 10));
    for (let t = 1_000; t < 5_000; t += 100) round(t);
    expect(c.sendQueue.oldestUnacknowledged()?.lostTries).toBeGreaterThanOrEqual(UNACKNOWLEDGED_LOST_TRIES);
    for (let t = 5_000; t < 3 * IDLE; t += 3_000) round(t);
    expect(closeReason(host)).toBeUndefined();
    expect(c.state).toBe('established');
    expect(host.events.some((e) => e.type === 'acked' && e.messageId === 0)).toBe(true);
  });

  it('a message lost once a round on a slow path, owed past the idle timeout, keeps the connection: too few tries', () => {
    // The peer answers every 3 s; message 0's copies are lost until 1.5 idle timeouts after it first left.
    const { c, host, round } = rig((f, now) => of(f, 0) && now < 1_000 + 1.5 * IDLE);
    for (let t = 1_000; t < 3 * IDLE; t += 3_000) round(t);
    expect(closeReason(host)).toBeUndefined();
    expect(c.state).toBe('established');
    expect(host.events.some((e) => e.type === 'acked' && e.messageId === 0)).toBe(true);
  });
});
