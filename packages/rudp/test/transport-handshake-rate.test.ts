/**
 * `handshakesPerHostPerSecond`, in the simulator: a host past its rate is
 * refused before the key exchange (its INITIALs past the burst cost the
 * server no X25519), other hosts are not, the rate refills with time, an
 * IPv6 /56 and /48 count at 4 and 16 times, and the table of buckets
 * forgets hosts that went quiet.
 */
import { describe, expect, it } from 'vitest';
import { Endpoint, type EndpointConfig } from '../src/core/endpoint.js';
import type { Connection } from '../src/core/connection.js';
import type { CryptoProvider } from '../src/crypto/index.js';
import { SimNetwork } from '../src/testing/sim-network.js';
import { deterministicCrypto } from '../src/testing/deterministic-crypto.js';
import { nodeCryptoProvider } from '../src/node/crypto-provider.js';
import { UNAUTHENTICATED_REFUSAL } from '../src/core/connect-attempt.js';

const SERVER = '10.0.0.2:4000';
const RATE_REFUSED = `the server at ${SERVER} refused the connection: too many new connections from this address; try again in a few seconds${UNAUTHENTICATED_REFUSAL}`;

/** A server whose X25519 operations are counted, and client endpoints made on first use; events drained as they come. */
function network(server: Partial<EndpointConfig>) {
  const sim = new SimNetwork({ seed: 5, defaultLink: { delayMs: 35, jitterMs: 5 } });
  const crypto = (label: string) => deterministicCrypto(nodeCryptoProvider, sim.random(`${label}-crypto`));
  const base = crypto('server');
  const work = { dh: 0 };
  // Every handshake the server starts does X25519 (its `dh`): counting them counts Noise work.
  const counted: CryptoProvider = { ...base, dh: (priv, pub) => (work.dh++, base.dh(priv, pub)) };
  const serverEp = new Endpoint({ random: sim.random('server'), acceptIncoming: true, crypto: counted, ...server });
  sim.addNode(SERVER, serverEp, { onActivity: () => void drain(serverEp) });
  const clients = new Map<string, Endpoint>();
  const connect = (address: string): Connection => {
    let ep = clients.get(address);
    if (ep === undefined) {
      const made = new Endpoint({ random: sim.random(address), crypto: crypto(address) });
      sim.addNode(address, made, { onActivity: () => void drain(made) });
      clients.set(address, made);
      ep = made;
    }
    const conn = ep.connect(sim.now, SERVER);
    sim.wake(address);
    return conn;
  };
  return { sim, server: serverEp, work, connect };
}

function drain(ep: Endpoint): void {
  while (ep.pollEvent() !== undefined);
}

const states = (conns: readonly Connection[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const c of conns) out[c.state] = (out[c.state] ?? 0) + 1;
  return out;
};

/** A client address in /64 number `sub` of the /48 2001:db8:`site`::/48 (/64s 0-0xff are one /56, 0x100-0x1ff the next, …). */
const inSite = (site: number, sub: number): string => `[2001:db8:${site.toString(16)}:${sub.toString(16)}::10]:5000`;

describe('handshakes per host per second', () => {
  it('refuses a host past its burst before any key exchange, and not another host', () => {
    const net = network({ handshakesPerHostPerSecond: 1, handshakeBurstPerHost: 4 });
    // What one handshake costs the server, measured: its X25519 operations.
    const probe = net.connect('10.0.0.7:5000');
    net.sim.runFor(400);
    expect(probe.state).toBe('established');
    const perHandshake = net.work.dh;
    expect(perHandshake).toBeGreaterThan(0);

    const attacker = Array.from({ length: 10 }, (_, i) => net.connect(`10.0.0.1:${5000 + i}`));
    const neighbour = net.connect('10.0.0.9:5000');
    // Two round trips (the cookie, then the handshake or the refusal): far from the handshake timeout.
    net.sim.runFor(400);
    expect(states(attacker)).toEqual({ established: 4, closed: 6 });
    for (const c of attacker.filter((c) => c.state === 'closed')) expect(c.closeReason).toEqual({ kind: 'refused', code: 0, message: RATE_REFUSED });
    expect(neighbour.state).toBe('established');
    // The six refused did no Noise work: the server ran the probe's, four of the host's and the neighbour's.
    expect(net.work.dh).toBe(6 * perHandshake);
    // Counted once a refused INITIAL (the client sends each twice).
    expect(net.server.stats().dropped.hostRate).toBeGreaterThanOrEqual(6);
    expect(net.server.stats().dropped.hostFull).toBe(0);
    expect(net.server.connectionCount).toBe(6);
  });

  it('lets the host in again as its bucket refills with time', () => {
    const net = network({ handshakesPerHostPerSecond: 1, handshakeBurstPerHost: 4 });
    const first = Array.from({ length: 6 }, (_, i) => net.connect(`10.0.0.1:${5000 + i}`));
    net.sim.runFor(400);
    expect(states(first)).toEqual({ established: 4, closed: 2 });
    // 2.5 s later the bucket holds about 2.5 handshakes: two more pass, a third is refused.
    net.sim.runFor(2100);
    const later = Array.from({ length: 3 }, (_, i) => net.connect(`10.0.0.1:${6000 + i}`));
    net.sim.runFor(400);
    expect(states(later)).toEqual({ established: 2, closed: 1 });
    // Refused INITIALs took nothing: after a full refill the whole burst passes again.
    net.sim.runFor(10_000);
    const refilled = Array.from({ length: 4 }, (_, i) => net.connect(`10.0.0.1:${7000 + i}`));
    net.sim.runFor(400);
    expect(states(refilled)).toEqual({ established: 4 });
  });

  it('counts an IPv6 client also against its /56 (4 times the burst) and its /48 (16 times)', () => {
    // A slow refill, so the few ms between the clients' INITIALs add nothing.
    const net = network({ handshakesPerHostPerSecond: 0.01, handshakeBurstPerHost: 1 });
    // Five /64s of one /56, which may start 4.
    const fullSlash56 = [0, 1, 2, 3, 4].map((sub) => net.connect(inSite(1, sub)));
    net.sim.runFor(400);
    expect(states(fullSlash56)).toEqual({ established: 4, closed: 1 });
    // Four more /56s of the same /48, four /64s each: each /56 within its 4, but the /48 has 12 of its 16 left.
    const rest = [0x100, 0x200, 0x300, 0x400].flatMap((s) => [0, 1, 2, 3].map((i) => net.connect(inSite(1, s + i))));
    const otherSite = net.connect(inSite(2, 0));
    const v4 = net.connect('10.0.0.1:5000');
    net.sim.runFor(400);
    expect(states(rest)).toEqual({ established: 12, closed: 4 });
    for (const c of [...fullSlash56, ...rest].filter((c) => c.state === 'closed')) expect(c.closeReason?.message).toBe(RATE_REFUSED);
    expect([otherSite.state, v4.state]).toEqual(['established', 'established']);
  });

  it('forgets the buckets of hosts gone quiet: the table holds the hosts of the last refill time', () => {
    const net = network({ handshakesPerHostPerSecond: 2, handshakeBurstPerHost: 1 });
    const rate = net.server.handshakeRate;
    if (rate === undefined) throw new Error('no handshake rate');
    const many = Array.from({ length: 120 }, (_, i) => net.connect(`10.1.${i >> 8}.${i & 0xff}:5000`));
    net.sim.runFor(400);
    expect(states(many)).toEqual({ established: 120 });
    // Each bucket is full again half a second after its one handshake; the next charges sweep them.
    const peak = rate.size;
    expect(peak).toBeGreaterThan(100);
    net.sim.runFor(1000);
    const one = Array.from({ length: 40 }, (_, i) => net.connect(`10.2.0.${i}:5000`));
    net.sim.runFor(400);
    expect(states(one)).toEqual({ established: 40 });
    // 40 charges forget up to 4 full buckets each: every one of the 120, and the 40 new ones are kept.
    expect(rate.size).toBeLessThanOrEqual(40);
  });

  it('is off with 0, and refuses a bad value', () => {
    const net = network({ handshakesPerHostPerSecond: 0, handshakeBurstPerHost: 1 });
    const conns = Array.from({ length: 8 }, (_, i) => net.connect(`10.0.0.1:${5000 + i}`));
    net.sim.runFor(400);
    expect(states(conns)).toEqual({ established: 8 });
    const random = () => 1;
    expect(() => new Endpoint({ random, plaintext: true, handshakesPerHostPerSecond: -1 })).toThrow(RangeError);
    expect(() => new Endpoint({ random, plaintext: true, handshakeBurstPerHost: 0.5 })).toThrow(RangeError);
  });
});
