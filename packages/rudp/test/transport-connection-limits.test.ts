/**
 * A server's connection limits, in the simulator: `maxConnectionsPerHost`
 * keeps one machine (any number of its ports) from taking every connection
 * the server can hold, and both limits refuse a client at once with a
 * `Busy` ACCEPT instead of leaving it to time out.
 */
import { describe, expect, it } from 'vitest';
import { Endpoint, type EndpointConfig } from '../src/core/endpoint.js';
import type { Connection } from '../src/core/connection.js';
import { SimNetwork } from '../src/testing/sim-network.js';
import { deterministicCrypto } from '../src/testing/deterministic-crypto.js';
import { nodeCryptoProvider } from '../src/node/crypto-provider.js';
import { AcceptKind, BusyReason, MAX_DATAGRAM, decodeAccept, encodeAccept, parseHeader, PacketType } from '../src/wire/packet.js';
import { UNAUTHENTICATED_REFUSAL } from '../src/core/connect-attempt.js';

const SERVER = '10.0.0.2:4000';

/** A server and any number of client endpoints on one simulated network; every endpoint's events are drained as they come. */
function network(server: Partial<EndpointConfig>) {
  const sim = new SimNetwork({ seed: 3, defaultLink: { delayMs: 35, jitterMs: 5 } });
  const crypto = (label: string) => deterministicCrypto(nodeCryptoProvider, sim.random(`${label}-crypto`));
  const accepted: Connection[] = [];
  const serverEp = new Endpoint({ random: sim.random('server'), acceptIncoming: true, crypto: crypto('server'), ...server });
  sim.addNode(SERVER, serverEp, {
    onActivity: () => {
      for (let e = serverEp.pollEvent(); e; e = serverEp.pollEvent()) if (e.type === 'incoming') accepted.push(e.connection);
    },
  });
  const clients = new Map<string, Endpoint>();
  /** Opens a connection from `address` (its endpoint made on first use). */
  const connect = (address: string): Connection => {
    let ep = clients.get(address);
    if (ep === undefined) {
      const made = new Endpoint({ random: sim.random(address), crypto: crypto(address) });
      sim.addNode(address, made, { onActivity: () => void drainEvents(made) });
      clients.set(address, made);
      ep = made;
    }
    const conn = ep.connect(sim.now, SERVER);
    sim.wake(address);
    return conn;
  };
  return { sim, server: serverEp, accepted, connect };
}

function drainEvents(ep: Endpoint): void {
  while (ep.pollEvent() !== undefined);
}

describe('connection limits', () => {
  it('refuses a host over maxConnectionsPerHost at once, on any of its ports, and no other host', () => {
    const net = network({ maxConnectionsPerHost: 2 });
    const first = [net.connect('10.0.0.1:5000'), net.connect('10.0.0.1:5000')];
    net.sim.runFor(1000);
    expect(first.map((c) => c.state)).toEqual(['established', 'established']);

    const samePort = net.connect('10.0.0.1:5000');
    const otherPort = net.connect('10.0.0.1:6000');
    const otherHost = net.connect('10.0.0.9:5000');
    // Two round trips (the cookie exchange, then the refusal): far from the handshake timeout.
    net.sim.runFor(400);
    for (const c of [samePort, otherPort]) {
      expect(c.state).toBe('closed');
      expect(c.closeReason?.kind).toBe('refused');
      expect(c.closeReason?.message).toBe(`the server at ${SERVER} refused the connection: it has too many connections from this address${UNAUTHENTICATED_REFUSAL}`);
    }
    expect(otherHost.state).toBe('established');
    expect(net.server.stats().dropped.hostFull).toBeGreaterThanOrEqual(2);
    expect(net.server.connectionCount).toBe(3);
    expect(first.map((c) => c.state)).toEqual(['established', 'established']);
  });

  it('gives a host its place back when one of its connections ends', () => {
    const net = network({ maxConnectionsPerHost: 1 });
    const one = net.connect('10.0.0.1:5000');
    net.sim.runFor(1000);
    expect(one.state).toBe('established');
    expect(net.connect('10.0.0.1:5001').state).not.toBe('established');
    net.sim.runFor(1000);

    one.close(net.sim.now);
    net.sim.wake('10.0.0.1:5000');
    // The server's side drains for three probe timeouts after the peer's CLOSE, then goes.
    net.sim.runFor(5000);
    expect(net.server.connectionCount).toBe(0);
    const again = net.connect('10.0.0.1:5002');
    net.sim.runFor(1000);
    expect(again.state).toBe('established');
  });

  it('gives a host its place back as soon as the server closes one of its connections, not when draining ends', () => {
    // An application making room within a host (the forum closes the host's oldest connection that
    // never logged in for its newcomer) was refused while the closed one drained: 3 probe timeouts.
    const net = network({ maxConnectionsPerHost: 1 });
    const one = net.connect('10.0.0.1:5000');
    net.sim.runFor(1000);
    const served = net.accepted[0] as Connection;
    served.destroy(net.sim.now, 1, 'making room');
    net.sim.wake(SERVER);
    net.sim.runFor(1);
    expect(served.state).toBe('draining');
    expect(net.server.connectionCount).toBe(1);
    const newcomer = net.connect('10.0.0.1:5001');
    // The cookie exchange and the handshake: two round trips of ~70 ms, well inside the drain.
    net.sim.runFor(300);
    expect(newcomer.state).toBe('established');
    expect(net.server.stats().dropped.hostFull).toBe(0);
    expect(one.state).not.toBe('established');
    // Once, not again when the drained connection goes: the host's one place is the newcomer's.
    net.sim.runFor(5000);
    expect(net.server.connectionCount).toBe(1);
    expect(net.connect('10.0.0.1:5002').state).not.toBe('established');
    net.sim.runFor(300);
    expect(net.server.stats().dropped.hostFull).toBeGreaterThanOrEqual(1);
  });

  it('one host cannot fill the server with its connections draining: the oldest drain makes room', () => {
    // A host's place comes back when its connection closes, so a host reconnecting faster than its
    // closed connections drain held more of the server than maxConnectionsPerHost.
    const net = network({ maxConnectionsPerHost: 2, maxConnections: 4 });
    const first = [net.connect('10.0.0.1:5000'), net.connect('10.0.0.1:5001')];
    net.sim.runFor(400);
    expect(first.map((c) => c.state)).toEqual(['established', 'established']);
    // The host closes both (as a client that reconnects at once would) and opens two more.
    for (const c of first) c.destroy(net.sim.now, 0, 'bye');
    net.sim.wake('10.0.0.1:5000');
    net.sim.wake('10.0.0.1:5001');
    net.sim.runFor(60);
    const second = [net.connect('10.0.0.1:5002'), net.connect('10.0.0.1:5003')];
    net.sim.runFor(300);
    const neighbour = net.connect('10.0.0.9:5000');
    net.sim.runFor(300);
    // The host's places are its own again at once (its closed ones drain, uncounted): the server is full.
    expect(second.map((c) => c.state)).toEqual(['established', 'established']);
    expect(net.server.connectionCount).toBe(4);
    // On the session's code, 'closed': refused as the server full (4 of 4, two of them draining).
    expect(neighbour.state).toBe('established');
    expect(net.server.stats().dropped.full).toBe(0);
  });

  it('at maxConnections, a hello the server refuses (pinned to another key) ends no drain; the next that is answered ends the oldest', () => {
    const net = network({ maxConnections: 1 });
    const one = net.connect('10.0.0.1:5000');
    net.sim.runFor(400);
    expect(one.state).toBe('established');
    const served = net.accepted[0] as Connection;
    served.destroy(net.sim.now, 0, 'bye');
    net.sim.wake(SERVER);
    net.sim.runFor(1);
    expect(served.state).toBe('draining');
    // A client that expects another server key: its hello is answered statelessly with ours, no connection made.
    const pinned = new Endpoint({ random: net.sim.random('pinned'), crypto: deterministicCrypto(nodeCryptoProvider, net.sim.random('pinned-crypto')) });
    net.sim.addNode('10.0.0.7:5000', pinned, { onActivity: () => void drainEvents(pinned) });
    const wrong = pinned.connect(net.sim.now, SERVER, { serverKey: new Uint8Array(32).fill(9) });
    net.sim.wake('10.0.0.7:5000');
    // The cookie exchange and the refused hello: two round trips of ~70 ms, well inside the drain.
    net.sim.runFor(300);
    expect(wrong.state).not.toBe('established');
    expect(net.server.stats().connectionsAccepted).toBe(1);
    expect(served.state).toBe('draining');
    expect(net.server.connectionCount).toBe(1);
    // A newcomer the server answers takes the drain's place.
    const newcomer = net.connect('10.0.0.9:5000');
    net.sim.runFor(300);
    expect(newcomer.state).toBe('established');
    expect(served.state).toBe('closed');
    expect(net.server.connectionCount).toBe(1);
  });

  it('counts IPv6 clients by their /64 and IPv4-mapped ones as IPv4', () => {
    const net = network({ maxConnectionsPerHost: 1 });
    const a = net.connect('[2001:db8:1:2::10]:5000');
    const v4 = net.connect('10.0.0.1:5000');
    net.sim.runFor(1000);
    const sameSubnet = net.connect('[2001:db8:1:2:ffff::1]:5000');
    const otherSubnet = net.connect('[2001:db8:1:3::10]:5000');
    const mapped = net.connect('[::ffff:10.0.0.1]:7000');
    net.sim.runFor(1000);
    expect([a.state, v4.state, otherSubnet.state]).toEqual(['established', 'established', 'established']);
    expect([sameSubnet.closeReason?.kind, mapped.closeReason?.kind]).toEqual(['refused', 'refused']);
  });

  /** A client address in /64 number `sub` (0-0xffff) of the /48 2001:db8:`site`::/48; /64s 0-0xff are one /56, 0x100-0x1ff the next, and so on. */
  const inSite = (site: number, sub: number): string => `[2001:db8:${site.toString(16)}:${sub.toString(16)}::10]:5000`;
  const REFUSED = `the server at ${SERVER} refused the connection: it has too many connections from this address${UNAUTHENTICATED_REFUSAL}`;

  it('counts an IPv6 client also against its /56 (4 hosts) and its /48 (16 hosts), refusing past either as past its host', () => {
    const net = network({ maxConnectionsPerHost: 1 });
    // Four /64s of the /56 2001:db8:1::/56, each at its own limit of 1.
    const first56 = [0, 1, 2, 0xff].map((sub) => net.connect(inSite(1, sub)));
    net.sim.runFor(1000);
    expect(first56.map((c) => c.state)).toEqual(Array(4).fill('established'));
    const fifthOf56 = net.connect(inSite(1, 3));
    net.sim.runFor(1000);
    expect(fifthOf56.closeReason).toEqual({ kind: 'refused', code: 0, message: REFUSED });
    // Counted as a full host (once per copy of the client's INITIAL).
    const refusedAt56 = net.server.stats().dropped.hostFull;
    expect(refusedAt56).toBeGreaterThanOrEqual(1);

    // Three more /56s of the /48 fill it (4 × 4 = 16); then a fifth /56, whose own count is 0, is refused.
    const rest = [0x100, 0x200, 0x300].flatMap((s) => [0, 1, 2, 3].map((i) => net.connect(inSite(1, s + i))));
    net.sim.runFor(1000);
    expect(rest.every((c) => c.state === 'established')).toBe(true);
    const fifth56 = net.connect(inSite(1, 0x400));
    const otherSite = net.connect(inSite(2, 0));
    const v4 = net.connect('10.0.0.1:5000');
    net.sim.runFor(1000);
    expect(fifth56.closeReason).toEqual({ kind: 'refused', code: 0, message: REFUSED });
    expect([otherSite.state, v4.state]).toEqual(['established', 'established']);
    expect(net.server.stats().dropped.hostFull).toBeGreaterThan(refusedAt56);
    expect(net.server.stats().dropped.full).toBe(0);
    expect(net.server.connectionCount).toBe(18);
  });

  it('gives back the host, its /56 and its /48 when connections end: a full /48 emptied fills again to the same limit', () => {
    const net = network({ maxConnectionsPerHost: 1 });
    for (let round = 0; round < 2; round++) {
      // Other /64s each round (the same four /56s): what must come back is the /56s' and the /48's counts.
      const addresses = [0, 0x100, 0x200, 0x300].flatMap((s) => [0, 1, 2, 3].map((i) => inSite(1, s + i + round * 0x10)));
      const conns = addresses.map((a) => net.connect(a));
      net.sim.runFor(1000);
      expect(conns.every((c) => c.state === 'established')).toBe(true);
      const over = net.connect(inSite(1, 0xff00));
      net.sim.runFor(1000);
      expect(over.closeReason?.kind).toBe('refused');
      for (const c of conns) c.close(net.sim.now);
      for (const a of addresses) net.sim.wake(a);
      net.sim.runFor(5000);
      expect(net.server.connectionCount).toBe(0);
    }
  });

  it('refuses every client past maxConnections, saying the server is full', () => {
    const net = network({ maxConnections: 1 });
    const first = net.connect('10.0.0.1:5000');
    net.sim.runFor(1000);
    const second = net.connect('10.0.0.9:5000');
    net.sim.runFor(400);
    expect(first.state).toBe('established');
    expect(second.closeReason).toEqual({ kind: 'refused', code: 0, message: `the server at ${SERVER} refused the connection: it has too many connections${UNAUTHENTICATED_REFUSAL}` });
    expect(net.server.stats().dropped.full).toBeGreaterThanOrEqual(1);
  });

  it('ignores a refusal that arrives after the handshake completed', () => {
    const net = network({});
    const conn = net.connect('10.0.0.1:5000');
    net.sim.runFor(1000);
    expect(conn.state).toBe('established');
    const busy = encodeAccept(new Uint8Array(64), conn.localCid, { scid: 0, params: { receiveWindow: 0, initialLimit: 0 }, kind: AcceptKind.Busy, handshake: Uint8Array.of(BusyReason.ServerFull) });
    const client = net.sim.endpoint('10.0.0.1:5000') as Endpoint;
    client.handleDatagram(net.sim.now, busy.slice(), SERVER);
    net.sim.runFor(1000);
    expect(conn.state).toBe('established');
  });

  it('ignores a refusal before its cookie INITIAL was sent (the server refuses only those): a forged early one cannot end the handshake', () => {
    const net = network({});
    const conn = net.connect('10.0.0.1:5000');
    const client = net.sim.endpoint('10.0.0.1:5000') as Endpoint;
    const busy = encodeAccept(new Uint8Array(64), conn.localCid, { scid: 0, params: { receiveWindow: 0, initialLimit: 0 }, kind: AcceptKind.Busy, handshake: Uint8Array.of(BusyReason.HostFull) });
    client.handleDatagram(net.sim.now, busy.slice(), SERVER);
    expect(client.stats().dropped.malformed).toBe(1);
    net.sim.runFor(1000);
    expect(conn.state).toBe('established');
  });

  it('encodes a refusal small, naming no connection of the server', () => {
    const busy = encodeAccept(new Uint8Array(MAX_DATAGRAM), 77, { scid: 0, params: { receiveWindow: 0, initialLimit: 0 }, kind: AcceptKind.Busy, handshake: Uint8Array.of(BusyReason.HostFull) });
    expect(busy.length).toBeLessThan(MAX_DATAGRAM / 20);
    const h = parseHeader(busy);
    if (typeof h === 'string') throw new Error(h);
    expect(h.type).toBe(PacketType.Accept);
    expect(decodeAccept(h.payload)).toMatchObject({ scid: 0, kind: AcceptKind.Busy, handshake: Uint8Array.of(BusyReason.HostFull) });
  });
});
