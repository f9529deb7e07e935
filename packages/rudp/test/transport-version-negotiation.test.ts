/**
 * Peers of different protocol versions (attack round 20): a server answers
 * an INITIAL of another version with a VERSION packet, and a client whose
 * attempt gets one ends it as refused, saying why, where before both dropped
 * the other's packets and the client waited its whole handshake timeout.
 * The other version's INITIAL is ours with its version nibble changed (the
 * INITIAL's layout is the invariant version-packet.ts names).
 */
import { describe, expect, it } from 'vitest';
import { Endpoint } from '../src/core/endpoint.js';
import { SimNetwork } from '../src/testing/sim-network.js';
import { deterministicCrypto } from '../src/testing/deterministic-crypto.js';
import { nodeCryptoProvider } from '../src/node/crypto-provider.js';
import { crc32c } from '../src/wire/crc32c.js';
import { PROTOCOL_VERSION, TRAILER_SIZE } from '../src/wire/packet.js';
import { readU32, writeU32 } from '../src/wire/varint.js';
import { decodeVersionPacket, encodeVersionPacket } from '../src/wire/version-packet.js';

const SERVER = '10.0.0.2:4000';
const CLIENT = '10.0.0.1:5000';

function endpoints() {
  const sim = new SimNetwork({ seed: 20 });
  const crypto = (label: string) => deterministicCrypto(nodeCryptoProvider, sim.random(`${label}-crypto`));
  const server = new Endpoint({ random: sim.random('server'), acceptIncoming: true, crypto: crypto('server') });
  const client = new Endpoint({ random: sim.random('client'), crypto: crypto('client') });
  return { server, client };
}

/** `datagram` (a plain packet) as a peer of protocol `version` would send it: the nibble changed, the checksum made good. */
const asVersion = (datagram: Uint8Array, version: number): Uint8Array => {
  const d = Uint8Array.from(datagram);
  d[0] = (version << 4) | ((d[0] as number) & 0x0f);
  writeU32(d, d.length - TRAILER_SIZE, crc32c(d, 0, d.length - TRAILER_SIZE));
  return d;
};

const drain = (ep: Endpoint, now: number): Uint8Array[] => {
  const out: Uint8Array[] = [];
  for (let t = ep.pollTransmit(now); t !== undefined; t = ep.pollTransmit(now)) out.push(t.data);
  return out;
};

describe('protocol version negotiation', () => {
  it("a server answers another version's INITIAL with the versions it speaks, echoing the client's id", () => {
    const { server, client } = endpoints();
    client.connect(0, SERVER);
    const initial = drain(client, 0)[0] as Uint8Array;
    const cid = readU32(initial, 7);
    for (const version of [PROTOCOL_VERSION - 1, PROTOCOL_VERSION + 1]) {
      server.handleDatagram(0, asVersion(initial, version), CLIENT);
      const answers = drain(server, 0);
      expect(answers.length).toBe(1);
      expect(decodeVersionPacket(answers[0] as Uint8Array)).toEqual({ clientCid: cid, versions: [PROTOCOL_VERSION] });
      // Far smaller than what asked for it: no amplifier.
      expect((answers[0] as Uint8Array).length).toBeLessThan(initial.length / 50);
    }
    expect(server.stats().dropped.version).toBe(2);
    expect(server.connectionCount).toBe(0);
  });

  it('answers nothing that is not a whole INITIAL of another version', () => {
    const { server, client } = endpoints();
    client.connect(0, SERVER);
    const initial = drain(client, 0)[0] as Uint8Array;
    const other = asVersion(initial, PROTOCOL_VERSION + 1);
    const broken = Uint8Array.from(other);
    broken[20] = (broken[20] as number) ^ 1;
    const short = asVersion(initial.subarray(0, 600), PROTOCOL_VERSION + 1);
    // Not an INITIAL: its type bits say DATA.
    const data = Uint8Array.from(other);
    data[0] = ((data[0] as number) & 0xf0) | 4;
    for (const d of [broken, short, asVersion(data, PROTOCOL_VERSION + 1)]) server.handleDatagram(0, d, CLIENT);
    expect(drain(server, 0)).toEqual([]);
    // A client endpoint answers no one.
    const bystander = endpoints().client;
    bystander.handleDatagram(0, other, CLIENT);
    expect(drain(bystander, 0)).toEqual([]);
  });

  it("a connecting client told the server's versions ends its attempt at once, refused, saying them", () => {
    const { client } = endpoints();
    const conn = client.connect(0, SERVER);
    const cid = readU32(drain(client, 0)[0] as Uint8Array, 7);
    client.handleDatagram(10, encodeVersionPacket(cid, [PROTOCOL_VERSION + 1]), SERVER);
    expect(conn.state).toBe('closed');
    expect(conn.closeReason).toEqual({
      kind: 'refused',
      code: 3,
      message: `the server at ${SERVER} refused the connection: it speaks rudp protocol version ${PROTOCOL_VERSION + 1}, this client version ${PROTOCOL_VERSION} (another release: use a client and server of one protocol version)`,
    });
  });

  it('ignores a VERSION packet from another address, for another attempt, naming its own version, or damaged', () => {
    const { client } = endpoints();
    const conn = client.connect(0, SERVER);
    const cid = readU32(drain(client, 0)[0] as Uint8Array, 7);
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

  it('a server and client of one version connect as before, no VERSION packet between them', () => {
    const sim = new SimNetwork({ seed: 21, defaultLink: { delayMs: 20 } });
    const crypto = (label: string) => deterministicCrypto(nodeCryptoProvider, sim.random(`${label}-crypto`));
    const server = new Endpoint({ random: sim.random('server'), acceptIncoming: true, crypto: crypto('server') });
    const client = new Endpoint({ random: sim.random('client'), crypto: crypto('client') });
    sim.addNode(SERVER, server, { onActivity: () => void drainEvents(server) });
    sim.addNode(CLIENT, client, { onActivity: () => void drainEvents(client) });
    const conn = client.connect(sim.now, SERVER);
    sim.wake(CLIENT);
    sim.runFor(300);
    expect(conn.state).toBe('established');
    expect(server.stats().dropped.version + client.stats().dropped.version).toBe(0);
  });
});

function drainEvents(ep: Endpoint): void {
  while (ep.pollEvent() !== undefined);
}
