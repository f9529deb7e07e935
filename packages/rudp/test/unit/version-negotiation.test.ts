/**
 * The VERSION packet's rule, endpoint by endpoint (no simulator): a server
 * answers a whole INITIAL of another version, and nothing else, within its
 * stateless queue; a client ends only an attempt still in its handshake with
 * the address it dialled, when the answer does not name its own version.
 * Here, not beside the simulated case (transport-version-negotiation.test.ts),
 * so the named mutants of the rule (scripts/named-mutants-list.mjs) run it.
 * The other version's INITIAL is ours with its version nibble changed (the
 * INITIAL's layout is the invariant version-packet.ts names).
 */
import { describe, expect, it } from 'vitest';
import { Endpoint } from '../../src/core/endpoint.js';
import type { EndpointConfig } from '../../src/core/endpoint/endpoint-config.js';
import { crc32c } from '../../src/wire/crc32c.js';
import { MAX_DATAGRAM, PROTOCOL_VERSION, TRAILER_SIZE } from '../../src/wire/packet.js';
import { readU32, writeU32 } from '../../src/wire/varint.js';
import { decodeVersionPacket, encodeVersionPacket, otherVersionInitialCid } from '../../src/wire/version-packet.js';
import { asVersion, drain } from '../helpers/other-version.js';
import { UNAUTHENTICATED_REFUSAL } from '../../src/core/connect-attempt.js';

const SERVER = '10.0.0.2:4000';
const CLIENT = '10.0.0.1:5000';

/** A seeded xorshift32: endpoints need uniform 32-bit integers, not secrecy, here. */
const seeded = (seed: number) => {
  let s = seed >>> 0 || 1;
  return (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
};

const endpoint = (seed: number, options: Partial<EndpointConfig> = {}): Endpoint => new Endpoint({ random: seeded(seed), plaintext: true, ...options });
const server = (options: Partial<EndpointConfig> = {}): Endpoint => endpoint(2, { acceptIncoming: true, ...options });

/** A client endpoint, its attempt to SERVER, and that attempt's INITIAL. */
const attempt = () => {
  const client = endpoint(1);
  const conn = client.connect(0, SERVER);
  const initial = drain(client, 0)[0] as Uint8Array;
  return { client, conn, initial, cid: readU32(initial, 7) };
};

describe('VERSION packet: the server side', () => {
  it("answers another version's INITIAL with the versions it speaks, echoing the client's id", () => {
    const s = server();
    const { initial, cid } = attempt();
    expect(initial.length).toBeGreaterThanOrEqual(MAX_DATAGRAM);
    for (const version of [PROTOCOL_VERSION - 1, PROTOCOL_VERSION + 1]) {
      s.handleDatagram(0, asVersion(initial, version), CLIENT);
      const answers = drain(s, 0);
      expect(answers.length).toBe(1);
      expect(decodeVersionPacket(answers[0] as Uint8Array)).toEqual({ clientCid: cid, versions: [PROTOCOL_VERSION] });
      // Far smaller than what asked for it: no amplifier.
      expect((answers[0] as Uint8Array).length).toBeLessThan(initial.length / 50);
    }
    expect(s.stats().dropped.version).toBe(2);
    expect(s.connectionCount).toBe(0);
  });

  it('answers nothing that is not a whole INITIAL of another version', () => {
    const s = server();
    const { initial } = attempt();
    const other = asVersion(initial, PROTOCOL_VERSION + 1);
    const broken = Uint8Array.from(other);
    broken[20] = (broken[20] as number) ^ 1;
    // One byte short of the padded size: an answer to it could be the start of an amplifier.
    const short = asVersion(initial.subarray(0, MAX_DATAGRAM - 1), PROTOCOL_VERSION + 1);
    // Not an INITIAL: its type bits say DATA.
    const data = Uint8Array.from(other);
    data[0] = ((data[0] as number) & 0xf0) | 4;
    // A four-byte packet number would move the client's id: not the INITIAL layout every version keeps.
    const longPn = Uint8Array.from(other);
    longPn[0] = (longPn[0] as number) | 0x08;
    // Version nibble 0 is no version's: never answered, so no server answers one with another.
    const versionZero = asVersion(initial, 0);
    for (const d of [broken, short, asVersion(data, PROTOCOL_VERSION + 1), asVersion(longPn, PROTOCOL_VERSION + 1), versionZero]) s.handleDatagram(0, d, CLIENT);
    expect(drain(s, 0)).toEqual([]);
    // The endpoint drops a bad checksum before asking (\`checksum\`); the exported reader checks it on its own.
    expect([otherVersionInitialCid(other), otherVersionInitialCid(broken)]).toEqual([readU32(initial, 7), undefined]);
    // A client endpoint answers no one.
    const bystander = endpoint(3);
    bystander.handleDatagram(0, other, CLIENT);
    expect(drain(bystander, 0)).toEqual([]);
  });

  it('never answers a VERSION packet: two servers of different versions cannot keep each other talking', () => {
    const s = server();
    const { cid } = attempt();
    s.handleDatagram(0, encodeVersionPacket(cid, [PROTOCOL_VERSION + 1]), '10.0.0.9:4000');
    s.handleDatagram(0, encodeVersionPacket(cid, [PROTOCOL_VERSION]), '10.0.0.9:4000');
    expect(drain(s, 0)).toEqual([]);
    expect(s.stats().dropped.unexpected).toBe(2);
  });

  it('answers a spoofed flood within its stateless queue, one small answer a datagram', () => {
    const s = server({ maxStatelessQueue: 3 });
    const { initial } = attempt();
    const other = asVersion(initial, PROTOCOL_VERSION + 1);
    for (let i = 0; i < 10; i++) s.handleDatagram(0, other, `10.0.1.${i}:5000`);
    const answers = drain(s, 0);
    expect(answers.length).toBe(3);
    expect(s.stats().dropped.statelessQueueFull).toBe(7);
  });
});

describe('VERSION packet: the client side', () => {
  it("a connecting client told the server's versions ends its attempt at once, refused, saying them", () => {
    const { client, conn, cid } = attempt();
    client.handleDatagram(10, encodeVersionPacket(cid, [PROTOCOL_VERSION + 1, PROTOCOL_VERSION + 2]), SERVER);
    expect(conn.state).toBe('closed');
    expect(conn.closeReason).toEqual({
      kind: 'refused',
      code: 3,
      message: `the server at ${SERVER} refused the connection: it speaks rudp protocol versions ${PROTOCOL_VERSION + 1}, ${PROTOCOL_VERSION + 2}, this client version ${PROTOCOL_VERSION} (another release: use a client and server of one protocol version)${UNAUTHENTICATED_REFUSAL}`,
    });
    // Nothing said back: a forged answer makes the client send nothing.
    expect(drain(client, 10)).toEqual([]);
  });

  it('ignores a VERSION packet from another address, for another attempt, naming its own version, or damaged', () => {
    const { client, conn, cid } = attempt();
    const good = encodeVersionPacket(cid, [PROTOCOL_VERSION + 1]);
    const damaged = Uint8Array.from(good);
    damaged[6] = (damaged[6] as number) ^ 1;
    client.handleDatagram(1, good, '10.0.0.3:4000');
    client.handleDatagram(1, encodeVersionPacket((cid + 1) >>> 0, [PROTOCOL_VERSION + 1]), SERVER);
    client.handleDatagram(1, encodeVersionPacket(cid, [PROTOCOL_VERSION + 1, PROTOCOL_VERSION]), SERVER);
    client.handleDatagram(1, damaged, SERVER);
    expect(conn.state).toBe('handshake');
    const dropped = client.stats().dropped;
    expect([dropped.addressMismatch, dropped.unexpected, dropped.malformed]).toEqual([1, 1, 2]);
  });

  it('an attempt that took a RETRY ignores a VERSION packet (the server answered in our version: a forgery)', () => {
    const s = server();
    const { client, conn, initial, cid } = attempt();
    s.handleDatagram(0, initial, CLIENT);
    const answers = drain(s, 0);
    expect(answers.length).toBeGreaterThan(0);
    for (const d of answers) client.handleDatagram(1, d, SERVER);
    expect(conn.state).toBe('handshake');
    // RFC 9000 §6.2: a client discards a Version Negotiation packet once it processed any other packet.
    client.handleDatagram(2, encodeVersionPacket(cid, [PROTOCOL_VERSION + 1]), SERVER);
    expect(conn.state).toBe('handshake');
    expect(client.stats().dropped.unexpected).toBe(1);
  });

  it('an established connection ignores a VERSION packet naming it', () => {
    const s = server();
    const { client, conn } = attempt();
    // The plaintext handshake by hand: INITIAL, RETRY, INITIAL with the cookie, ACCEPT.
    for (let now = 0; now < 100 && conn.state === 'handshake'; now += 10) {
      for (const d of drain(client, now)) s.handleDatagram(now, d, CLIENT);
      for (const d of drain(s, now)) client.handleDatagram(now, d, SERVER);
      const t = client.pollTimeout();
      if (t !== undefined && t <= now + 10) client.handleTimeout(now + 10);
    }
    expect(conn.state).toBe('established');
    client.handleDatagram(200, encodeVersionPacket(conn.localCid, [PROTOCOL_VERSION + 1]), SERVER);
    expect(conn.state).toBe('established');
    expect(client.stats().dropped.unexpected).toBe(1);
  });
});

describe('VERSION packet: the wire', () => {
  it('decodes only a whole one: length, count, versions 1 to 15 and checksum all checked', () => {
    const good = encodeVersionPacket(0x01020304, [4, 15]);
    expect(good.length).toBe(12);
    expect(decodeVersionPacket(good)).toEqual({ clientCid: 0x01020304, versions: [4, 15] });
    const withCrc = (bytes: Uint8Array): Uint8Array => {
      const d = Uint8Array.from(bytes);
      writeU32(d, d.length - TRAILER_SIZE, crc32c(d, 0, d.length - TRAILER_SIZE));
      return d;
    };
    const edited = (at: number, value: number): Uint8Array => {
      const d = Uint8Array.from(good);
      d[at] = value;
      return withCrc(d);
    };
    const bad = [
      good.subarray(0, good.length - 1),
      Uint8Array.of(...good, 0),
      edited(0, 0x01),
      edited(5, 0),
      edited(5, 3),
      edited(6, 0),
      edited(7, 16),
      Uint8Array.from(good).fill(0xff, good.length - 1),
    ];
    for (const d of bad) expect(decodeVersionPacket(d)).toBeUndefined();
    // Sixteen versions would not fit the count the client accepts.
    expect(() => encodeVersionPacket(1, Array.from({ length: 16 }, (_, i) => (i % 15) + 1))).toThrow(RangeError);
    for (const v of [0, 16, 1.5]) expect(() => encodeVersionPacket(1, [v])).toThrow(RangeError);
  });
});
