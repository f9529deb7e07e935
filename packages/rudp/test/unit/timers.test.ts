/**
 * The connection's timer table: the next wake-up is the earliest armed
 * timer, expiry runs kind by kind in TIMER_ORDER (loss detection before the
 * probe it can make moot), and the probe timer backs off.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONNECTION_CONFIG, type ConnectionConfig } from '../../src/core/config.js';
import { Connection } from '../../src/core/connection.js';
import { DatagramScratch } from '../../src/core/datagram-scratch.js';
import type { EndpointEvent } from '../../src/core/events.js';
import { TIMER_COUNT, TIMER_ORDER, Timer } from '../../src/core/timers.js';
import { writeMessage } from '../../src/wire/frame.js';
import { writeAck } from '../../src/wire/ack-frame.js';
import { HEADER_SIZE, MAX_DATAGRAM, PacketType, type PacketWriter, parseHeader } from '../../src/wire/packet.js';
import { QuietHost, RecordingController, writerWithRoom } from './fixtures.js';

/** Records what the connection emits. */
class Host extends QuietHost {
  readonly events: EndpointEvent[] = [];
  override emit(event: EndpointEvent): void {
    this.events.push(event);
  }
}

/** Tail copies off: every timer here is the probe's, the ACK's or the keep-alive's, not a copy's. */
const NO_COPIES = { maxCopies: 0, maxMessageBytes: 256, lossThreshold: 0.02, highLossThreshold: 0.05 };

function connection(role: 'client' | 'server', config: Partial<ConnectionConfig> = {}): { c: Connection; host: Host } {
  const host = new Host();
  const cfg: ConnectionConfig = { ...DEFAULT_CONNECTION_CONFIG, keepAliveMs: 0, idleTimeoutMs: 60_000, congestion: () => new RecordingController(), redundancy: NO_COPIES, ...config };
  return { c: new Connection(host, cfg, role, 1, 2, '10.0.0.1:1', 0, 1 << 20), host };
}

const scratch = new DatagramScratch(MAX_DATAGRAM);

/** Every datagram `c` sends at `now`, as their packet types. */
function drain(c: Connection, now: number): number[] {
  const types: number[] = [];
  for (let i = 0; i < 50; i++) {
    const d = c.pollTransmit(now, scratch);
    if (d === undefined) break;
    const h = parseHeader(d);
    if (typeof h === 'string') throw new Error(h);
    types.push(h.type);
  }
  return types;
}

/** A server connection that sent its ACCEPT at 0 (and its copy, 3 ms later). */
function server(config: Partial<ConnectionConfig> = {}): { c: Connection; host: Host } {
  const s = connection('server', config);
  expect(drain(s.c, 0)).toHaveLength(1);
  expect(s.c.nextTimeout()).toBe(3);
  expect(drain(s.c, 3)).toEqual([PacketType.Accept]);
  return s;
}

/** A packet from the peer, numbered `pn`, with the frames `write` puts in. */
function fromPeer(c: Connection, now: number, pn: number, write: (w: PacketWriter) => void): void {
  const w = writerWithRoom(500);
  write(w);
  const header = { type: PacketType.Data, dcid: 0, pn, pnBytes: 4, epoch: 0, datagram: w.buf.slice(0, w.pos), payloadStart: HEADER_SIZE, payloadEnd: w.pos } as const;
  expect(c.handlePacket(now, header, w.pos + 4)).toBe('ok');
}

describe('TIMER_ORDER', () => {
  it('lists every timer kind once', () => {
    const kinds = Object.values(Timer).filter((v): v is Timer => typeof v === 'number');
    expect(TIMER_COUNT).toBe(kinds.length);
    expect([...TIMER_ORDER].sort((a, b) => a - b)).toEqual(kinds.sort((a, b) => a - b));
  });

  it('ends the connection first, and runs loss detection before the probe', () => {
    expect(TIMER_ORDER.slice(0, 3)).toEqual([Timer.HandshakeTimeout, Timer.Drain, Timer.Idle]);
    expect(TIMER_ORDER.indexOf(Timer.LossDetection)).toBeLessThan(TIMER_ORDER.indexOf(Timer.Probe));
  });
});

describe('Connection.nextTimeout: the earliest armed timer', () => {
  it('client in handshake: the INITIAL, else the handshake timeout', () => {
    const { c } = connection('client', { handshakeTimeoutMs: 300 });
    expect(c.nextTimeout()).toBe(0);
    drain(c, 0);
    // The INITIAL's copy, then the resend.
    expect(c.nextTimeout()).toBe(3);
    drain(c, 3);
    expect(c.nextTimeout()).toBe(250);
    drain(c, 250);
    drain(c, 253);
    expect(c.nextTimeout()).toBe(300);
  });

  it('the handshake timeout closes the connection as unreachable', () => {
    const { c, host } = connection('client', { handshakeTimeoutMs: 300 });
    drain(c, 0);
    drain(c, 250);
    c.handleTimeout(300);
    expect(c.state).toBe('closed');
    expect(host.events.map((e) => (e.type === 'closed' ? e.reason.kind : e.type))).toEqual(['unreachable']);
    expect(c.nextTimeout()).toBe(Number.POSITIVE_INFINITY);
  });

  it('idle connection: the keep-alive if enabled, else the idle timeout', () => {
    expect(server({ idleTimeoutMs: 10_000 }).c.nextTimeout()).toBe(10_000);
    const { c } = server({ idleTimeoutMs: 10_000, keepAliveMs: 3_000 });
    expect(c.nextTimeout()).toBe(3_000);
    // The keep-alive fires: a PING goes out, and the next keep-alive counts from it.
    c.handleTimeout(3_000);
    expect(drain(c, 3_000)).toHaveLength(1);
    expect(c.nextTimeout()).toBe(Math.min(6_000, 3_000 + 775));
  });

  it('data in flight: the probe timeout comes first; an ACK owed: its delay', () => {
    const { c } = server({ idleTimeoutMs: 10_000, keepAliveMs: 3_000 });
    c.send(new Uint8Array(10));
    drain(c, 10);
    // PTO before any RTT sample: 250 + 4 · 125 + 25.
    expect(c.nextTimeout()).toBe(10 + 775);
    // The peer's first packet (number 1, after none) is a gap: ACK at once.
    fromPeer(c, 20, 1, (w) => writeMessage(w, 0, new Uint8Array(3)));
    expect(c.nextTimeout()).toBe(20);
    drain(c, 20);
    // That packet also timed our ACCEPT (sent at 0): RTT 20 ms, so the PTO is 20 + 40 + 25.
    expect(c.nextTimeout()).toBe(10 + 85);
    // The next in order: within the ACK delay.
    fromPeer(c, 30, 2, (w) => writeMessage(w, 1, new Uint8Array(3)));
    expect(c.nextTimeout()).toBe(30 + 25);
  });

  it('the idle timeout closes the connection, and nothing else runs after it', () => {
    const { c, host } = server({ idleTimeoutMs: 500 });
    c.send(new Uint8Array(10));
    drain(c, 0);
    c.handleTimeout(1_000);
    expect(c.state).toBe('closed');
    expect(host.events.map((e) => (e.type === 'closed' ? e.reason.kind : e.type))).toEqual(['timeout']);
    expect(drain(c, 1_000)).toEqual([]);
  });
});

describe('Connection: the probe timer', () => {
  it('with every packet lost, probes are spaced 775, 1500 (three in flight: no ACK-delay allowance), then the 2 s cap', () => {
    const { c } = server();
    c.send(new Uint8Array(10));
    drain(c, 0);
    const probes: number[] = [];
    let sent = 1;
    for (let i = 0; i < 50; i++) {
      const t = c.nextTimeout();
      if (t > 10_000) break;
      c.handleTimeout(t);
      const n = drain(c, t).length;
      if (n > 0) probes.push(t);
      sent += n;
    }
    expect(probes).toEqual([775, 775 + 1_500, 2_275 + 2_000, 4_275 + 2_000, 6_275 + 2_000]);
    // Two probe packets each time.
    expect(sent).toBe(1 + 2 * 5);
  });

  it('loss detection runs before the probe: a packet declared lost makes the probe moot', () => {
    const { c } = server();
    c.send(new Uint8Array(10));
    drain(c, 0);
    c.send(new Uint8Array(10));
    drain(c, 1);
    // The peer acknowledges the second packet at 41: RTT 40, the first is lost 45 ms after it left;
    // the probe would fire at 1 + 40 + 80 + 25 = 146.
    fromPeer(c, 41, 1, (w) => writeAck(w, [{ lo: 2, hi: 2 }], 0));
    expect(c.nextTimeout()).toBe(45);
    // A late wake-up with both due: the loss empties the flight, so only the resend goes.
    c.handleTimeout(200);
    expect(c.stats().packetsLost).toBe(1);
    expect(drain(c, 200)).toHaveLength(1);
  });

  it('an ACK resets the backoff', () => {
    const { c } = server();
    c.send(new Uint8Array(10));
    drain(c, 0);
    c.handleTimeout(775);
    drain(c, 775);
    // Doubled, without the 25 ms ACK-delay allowance: the two probes are in flight too (the peer owes an immediate ACK).
    expect(c.nextTimeout()).toBe(775 + 1_500);
    c.send(new Uint8Array(10));
    drain(c, 790);
    expect(c.nextTimeout()).toBe(790 + 1_500);
    fromPeer(c, 800, 1, (w) => writeAck(w, [{ lo: 1, hi: 3 }], 0));
    // Sample 25 ms (the probe): srtt 25, rttvar 12.5, so 25 + 50 + 25 after the last send, not doubled.
    expect(c.nextTimeout()).toBe(790 + 100);
  });
});

describe('Connection: the peer heard again after a silence (the unacknowledged timer counts from then)', () => {
  const idle = 60_000;
  it('a fresh packet after half the idle timeout of silence counts; a copy of an old one (a replay) does not', () => {
    for (const replay of [false, true]) {
      const { c } = server();
      fromPeer(c, 10, 1, (w) => writeMessage(w, 0, new Uint8Array(3)));
      expect(c.heardAgainAt).toBe(0);
      // Anyone on the path can copy the peer's packet 1 and send it again later: it proves nothing of the
      // peer, and on ca16db0 it restarted the count (a vanished peer's connection held up to two idle
      // timeouts after our oldest packet, not one).
      fromPeer(c, 10 + idle / 2, replay ? 1 : 2, (w) => writeMessage(w, replay ? 0 : 1, new Uint8Array(3)));
      expect(c.heardAgainAt).toBe(replay ? 0 : 10 + idle / 2);
    }
  });

  it('a copy of an old packet does not restart the idle timer: a vanished peer\'s connection still ends', () => {
    /** Runs `c`'s timers (the ACKs its packets ask for) up to `until`, sending what they send. */
    const settle = (c: Connection, until: number): void => {
      for (let t = c.nextTimeout(); t < until; t = c.nextTimeout()) {
        c.handleTimeout(t);
        drain(c, t);
      }
    };
    for (const replay of [false, true]) {
      const { c } = server({ idleTimeoutMs: 10_000 });
      fromPeer(c, 10, 1, (w) => writeMessage(w, 0, new Uint8Array(3)));
      settle(c, 9_000);
      expect(c.nextTimeout()).toBe(10 + 10_000);
      // Plaintext takes a copy this far (an encrypted connection's replay window refuses it first): on
      // 427e7c4 each copy moved the idle deadline, so copies sent every few seconds held the connection for ever.
      fromPeer(c, 9_000, replay ? 1 : 2, (w) => writeMessage(w, replay ? 0 : 1, new Uint8Array(3)));
      settle(c, 9_500);
      const deadline = (replay ? 10 : 9_000) + 10_000;
      expect(c.nextTimeout()).toBe(deadline);
      c.handleTimeout(deadline);
      expect(c.state).toBe('closed');
    }
  });
});
