/**
 * Path validation by PATH_CHALLENGE and PATH_RESPONSE (core/path-validation.ts,
 * core/connection/migration.ts, core/connection/path-response.ts): a client's
 * new port is validated only by a PATH_RESPONSE that comes from it and echoes
 * a challenge the server sent there in this validation (RFC 9000 §8.2). An
 * ACK is the client's word: a hostile client whose packets reach the server
 * from another user's port acknowledged what went there unseen and had its
 * connection moved onto that user. A client answers the latest challenge
 * only, at most once per packet received; a client that does not know the
 * frames is never validated, and the server falls back as for a port that
 * never answers.
 */
import { describe, expect, it } from 'vitest';
import { expectSameByteLists } from '../../../test-support/same-bytes.js';
import { DatagramScratch } from '../src/core/datagram-scratch.js';
import { dataPacketType, sealDatagram } from '../src/core/packet-sealing.js';
import { writePathChallenge } from '../src/wire/frame.js';
import { type HeaderFields, TAG_SIZE, packetNumberLength, parseHeader } from '../src/wire/packet.js';
import { CLIENT, SERVER, type Pair, makePair, messagesOf } from './helpers/pair.js';
import { REBOUND, echoPair, intercept, messages, protectedPacket, recordSends } from './helpers/rebinding.js';
import { MAX_ACKS_PER_BATCH } from '../src/core/receive/ack-generation.js';

type ServerConnection = NonNullable<ReturnType<Pair['serverConn']>>;

/** A PING alone in a sealed packet: what the server sends to the address a validation left. */
const PING = 9 + 1 + TAG_SIZE;
/** A third port of the client's host. */
const OTHER = '10.0.0.1:7777';

const hex = (d: Uint8Array): string => Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('hex');

/** The datagrams the client sent that were its PATH_RESPONSE (each the poll that took the response owed), as hex. */
function recordResponses(p: Pair): Set<string> {
  const responses = new Set<string>();
  const poll = p.client.pollTransmit.bind(p.client);
  p.client.pollTransmit = (now) => {
    const due = p.conn.pathResponseDue;
    const t = poll(now);
    if (due && !p.conn.pathResponseDue && t !== undefined) responses.add(hex(t.data));
    return t;
  };
  return responses;
}

/** The client, at `REBOUND`, sends a short message every `everyMs` until `until` (a client that keeps talking starts a validation again after each one fails). */
function chatter(p: Pair, everyMs: number, until: number): void {
  const tick = (at: number): void => {
    if (at >= until || p.conn.state !== 'established') return;
    p.conn.send(new TextEncoder().encode(`tick ${at}`));
    p.sim.wake(REBOUND);
    p.sim.schedule(at + everyMs, tick);
  };
  p.sim.schedule(p.sim.now + everyMs, tick);
}

describe('PATH_CHALLENGE: only the echo from the new port validates it', () => {
  it('a hostile client whose packets reach the server from another user\'s port, and that acknowledges what went there unseen, is not moved there (the reviewer\'s reproduction, seed 1)', () => {
    const p = makePair({ seed: 1 });
    p.onServerEvent = (e) => {
      if (e.type === 'message') e.connection.send(e.data);
    };
    for (const m of messages(200)) p.conn.send(m);
    p.sim.wake(CLIENT);
    p.sim.runFor(300);
    const sc = p.serverConn() as ServerConnection;
    const sends = recordSends(p.server);
    // The packet numbers the server sent to the victim's port.
    const toVictimPns = new Set<number>();
    const poll = p.server.pollTransmit.bind(p.server);
    p.server.pollTransmit = (now) => {
      const before = sc.nextPn;
      const t = poll(now);
      if (t?.to === OTHER) for (let pn = before; pn < sc.nextPn; pn++) toVictimPns.add(pn);
      return t;
    };
    // From 300 ms on, every packet of the hostile client reaches the server from the victim's port (nobody there
    // answers the server: another user's mapping of the same IP address).
    let injectedAt = Number.NaN;
    let fromVictim = 0;
    intercept(p.server, (now, data, from, deliver) => {
      if (from === CLIENT && protectedPacket(data)) {
        if (Number.isNaN(injectedAt)) injectedAt = now;
        fromVictim += data.length;
        deliver(data, OTHER);
        return;
      }
      deliver(data);
    });
    // The first PING the hostile client gets at its own address after that names, by its number less one, the packet
    // that went to the victim's port; it records that number as received, so its ACKs cover it.
    let forged = Number.NaN;
    intercept(p.client, (now, data, _from, deliver) => {
      deliver(data);
      if (!Number.isNaN(injectedAt) && Number.isNaN(forged) && protectedPacket(data) && data.length <= PING) {
        const h = parseHeader(data) as unknown as HeaderFields;
        forged = p.conn.acks.expand(h.pn, h.pnBytes) - 1;
        p.conn.acks.record(forged);
        p.conn.acks.onPacket(now, forged, p.conn.acks.largest, true, false);
        p.sim.wake(CLIENT);
      }
    });
    p.sim.runFor(3_000);
    // The attack ran: it acknowledged a packet that went only to the victim (before this version: moved at 392 ms).
    expect(toVictimPns.has(forged)).toBe(true);
    const st = p.server.stats();
    expect(st.pathValidations).toBeGreaterThan(0);
    expect(st.migrations).toBe(0);
    expect(p.serverEvents.filter((r) => r.event.type === 'migrated')).toEqual([]);
    expect(sc.remote).toBe(CLIENT);
    // What went to the victim stayed within 3x what came "from" it (RFC 9000 §9.3.1).
    const toVictim = sends.filter((s) => s.to === OTHER).reduce((n, s) => n + s.size, 0);
    expect(toVictim).toBeGreaterThan(0);
    expect(toVictim).toBeLessThanOrEqual(3 * fromVictim);
  });

  it('the echo arriving from another address than the candidate validates nothing (RFC 9000 §8.2.2); from the candidate, it does', () => {
    const { p, sent } = echoPair(150);
    const responses = recordResponses(p);
    p.sim.runFor(400);
    p.sim.rebind(CLIENT, REBOUND);
    chatter(p, 200, p.sim.now + 6_000);
    let diverting = true;
    let diverted = 0;
    const held: Uint8Array[] = [];
    intercept(p.server, (_now, data, from, deliver) => {
      if (diverting && from === REBOUND && responses.has(hex(data))) {
        held.push(data);
        return;
      }
      deliver(data);
      // Behind the client's next packet from its new port, so not the newest: the new port stays the candidate.
      if (from === REBOUND) {
        for (const d of held) deliver(d, OTHER);
        diverted += held.length;
        held.length = 0;
      }
    });
    p.sim.runFor(3_000);
    expect(diverted).toBeGreaterThanOrEqual(3);
    let st = p.server.stats();
    expect(st.pathValidations).toBeGreaterThanOrEqual(2);
    expect(st.migrations).toBe(0);
    expect(p.serverConn()?.remote).toBe(CLIENT);
    diverting = false;
    const answeredAt = p.sim.now;
    p.sim.runFor(20_000);
    st = p.server.stats();
    expect(st.migrations).toBe(1);
    expect(p.serverConn()?.remote).toBe(REBOUND);
    expect((p.serverEvents.find((r) => r.event.type === 'migrated')?.at as number) - answeredAt).toBeLessThan(1_000);
    expectSameByteLists(messagesOf(p.clientEvents).slice(0, sent.length), sent);
  });

  it('a wrong echo, or the echo of a challenge of an earlier validation, validates nothing', () => {
    const { p, sent } = echoPair(150);
    p.sim.runFor(400);
    p.sim.rebind(CLIENT, REBOUND);
    chatter(p, 200, p.sim.now + 8_000);
    let tamper = true;
    let first: Uint8Array | undefined;
    let firstValidation = 0;
    let wrong = 0;
    let stale = 0;
    const poll = p.client.pollTransmit.bind(p.client);
    p.client.pollTransmit = (now) => {
      const echo = p.conn.pathResponse;
      if (tamper && p.conn.pathResponseDue && echo !== undefined) {
        const validation = p.server.stats().pathValidations;
        if (first === undefined) {
          first = echo.slice();
          firstValidation = validation;
        }
        if (validation === firstValidation) {
          // One bit off.
          echo[7] = (echo[7] as number) ^ 1;
          wrong++;
        } else {
          // The first challenge of the first validation, right then and stale now.
          echo.set(first);
          stale++;
        }
      }
      return poll(now);
    };
    p.sim.runFor(5_000);
    expect(wrong).toBeGreaterThanOrEqual(1);
    expect(stale).toBeGreaterThanOrEqual(1);
    let st = p.server.stats();
    expect(st.pathValidations).toBeGreaterThanOrEqual(2);
    expect(st.migrations).toBe(0);
    expect(p.serverConn()?.remote).toBe(CLIENT);
    tamper = false;
    p.sim.runFor(20_000);
    st = p.server.stats();
    expect(st.migrations).toBe(1);
    expect(p.serverConn()?.remote).toBe(REBOUND);
    expectSameByteLists(messagesOf(p.clientEvents).slice(0, sent.length), sent);
  });
});

describe('PATH_RESPONSE: what a flood of challenges makes a client send', () => {
  /** A packet of the server's connection carrying `count` challenges, the k-th filled with `base + k`. */
  function challenges(sc: ServerConnection, scratch: DatagramScratch, count: number, base: number): Uint8Array {
    const pn = sc.nextPn++;
    const w = scratch.writer(sc.config.mtu, dataPacketType(sc.protection), sc.remoteCid, pn, packetNumberLength(pn, sc.recovery.largestAcked));
    for (let k = 0; k < count; k++) writePathChallenge(w, new Uint8Array(8).fill((base + k) & 0xff));
    return sealDatagram(sc.protection, w, pn, scratch).slice();
  }

  /** Everything the client sends now: how many datagrams, and which were its PATH_RESPONSE (their sizes, and the data echoed). */
  function drain(p: Pair): { readonly datagrams: number; readonly responses: { readonly size: number; readonly echo: string }[] } {
    let datagrams = 0;
    const responses: { size: number; echo: string }[] = [];
    for (;;) {
      const due = p.conn.pathResponseDue;
      const echo = hex(p.conn.pathResponse ?? new Uint8Array(0));
      const t = p.client.pollTransmit(p.sim.now);
      if (t === undefined) return { datagrams, responses };
      datagrams++;
      if (due && !p.conn.pathResponseDue) responses.push({ size: t.data.length, echo });
    }
  }

  it('a burst of 100 packets of 10 challenges each gets one response, to the latest; one packet at a time, one response each, no larger than the packet; no allocation per challenge', () => {
    const p = makePair();
    p.sim.runFor(300);
    const sc = p.serverConn() as ServerConnection;
    const scratch = new DatagramScratch(2048);
    for (let i = 0; i < 100; i++) p.client.handleDatagram(p.sim.now, challenges(sc, scratch, 10, i * 10), SERVER);
    const burst = drain(p);
    expect(burst.responses.map((r) => r.echo)).toEqual([hex(new Uint8Array(8).fill(999 & 0xff))]);
    // A header (2- or 4-byte packet number), the frame, the tag.
    expect((burst.responses[0] as { size: number }).size).toBeLessThanOrEqual(9 + 9 + TAG_SIZE);
    // The rest are the ACKs the 100 packets are owed: a batch read at once gets the ones it would have
    // drawn packet by packet, one per `ackEveryPackets`, at most MAX_ACKS_PER_BATCH (ack-generation.ts).
    expect(burst.datagrams).toBeLessThanOrEqual(1 + MAX_ACKS_PER_BATCH);
    const buffer = p.conn.pathResponse;
    let received = 0;
    let answered = 0;
    for (let i = 0; i < 100; i++) {
      const packet = challenges(sc, scratch, 1 + (i % 3), i);
      p.client.handleDatagram(p.sim.now, packet, SERVER);
      received++;
      const { responses } = drain(p);
      expect(responses).toHaveLength(1);
      expect((responses[0] as { size: number }).size).toBeLessThanOrEqual(packet.length);
      answered += responses.length;
    }
    expect(answered).toBe(received);
    expect(p.conn.pathResponse).toBe(buffer);
    expect(p.conn.state).toBe('established');
  });
});

describe('PATH_CHALLENGE and a client of an earlier version', () => {
  it('a client that drops every packet carrying a challenge (a frame it does not know: malformed) is never validated: each validation is given up within 3x what came from the new port, and the connection is lost at the idle timeout, as one whose client changed IP address', () => {
    const { p, sent } = echoPair(600);
    const sends = recordSends(p.server);
    const challengeDatagrams = new Set<string>();
    const poll = p.server.pollTransmit.bind(p.server);
    p.server.pollTransmit = (now) => {
      const path = p.serverConn()?.path;
      const due = path?.probeDue(now) === true;
      const t = poll(now);
      if (due && t !== undefined && t.to === path?.candidate) challengeDatagrams.add(hex(t.data));
      return t;
    };
    let dropped = 0;
    intercept(p.client, (_now, data, _from, deliver) => {
      if (challengeDatagrams.has(hex(data))) {
        dropped++;
        return;
      }
      deliver(data);
    });
    let fromNew = 0;
    intercept(p.server, (_now, data, from, deliver) => {
      if (from === REBOUND) fromNew += data.length;
      deliver(data);
    });
    p.sim.runFor(400);
    p.sim.rebind(CLIENT, REBOUND);
    p.sim.runFor(40_000);
    const st = p.server.stats();
    // Every validation sent its challenges (at most 3) into the old client's drops and was given up.
    expect(dropped).toBeGreaterThan(0);
    expect(st.pathValidations).toBeGreaterThanOrEqual(2);
    expect(dropped).toBeLessThanOrEqual(3 * st.pathValidations);
    expect({ abandoned: st.pathValidationsAbandoned, migrations: st.migrations }).toEqual({ abandoned: st.pathValidations, migrations: 0 });
    expect(p.serverEvents.filter((r) => r.event.type === 'migrated')).toEqual([]);
    // Never more to the new port than 3x what came from it.
    const toNew = sends.filter((s) => s.to === REBOUND).reduce((n, s) => n + s.size, 0);
    expect(toNew).toBeGreaterThan(0);
    expect(toNew).toBeLessThanOrEqual(3 * fromNew);
    // The connection is lost as one whose client changed IP address: by the idle timeout on both ends (30 s), with
    // part of the transfer delivered (what went to the new port while the server had moved there).
    const closed = (events: Pair['serverEvents']): string[] => events.flatMap((r) => (r.event.type === 'closed' ? [r.event.reason.kind] : []));
    expect(closed(p.serverEvents)).toEqual(['timeout']);
    expect(closed(p.clientEvents)).toEqual(['timeout']);
    expect(messagesOf(p.clientEvents).length).toBeLessThan(sent.length);
  });
});
