/**
 * A client whose IP address changes (Wi-Fi to cellular, a NAT that changed
 * its public address), after RFC 9000 §9 (core/connection/migration.ts,
 * core/path-validation.ts): the server finds the connection by its id from
 * the new address, sends there at once within 3x what came from there,
 * validates it with padded PATH_CHALLENGEs where that limit allows
 * (§8.2.1), and once validated starts the new path's congestion control,
 * RTT and path MTU afresh (§9.4) and counts the connection against its new
 * host. An attacker who rewrites the source of the client's packets, or a
 * client that spoofs a third address, diverts nothing for longer than a
 * validation and gets no more than 3x toward that address; a host at its
 * connection limit takes no connection that moves there.
 */
import { describe, expect, it } from 'vitest';
import { expectSameByteLists } from '../../../test-support/same-bytes.js';
import type { Connection } from '../src/core/connection.js';
import { CAUTION_PTOS } from '../src/core/connection/migration.js';
import { Endpoint } from '../src/core/endpoint.js';
import type { EndpointEvent } from '../src/core/events.js';
import { PATH_PROBE_BYTES, PathValidation, VALIDATION_PTOS } from '../src/core/path-validation.js';
import { INITIAL_RTT_MS } from '../src/core/recovery/rtt.js';
import type { PeerAddress } from '../src/core/sans-io.js';
import { SimNetwork } from '../src/testing/sim-network.js';
import { deterministicCrypto } from '../src/testing/deterministic-crypto.js';
import { nodeCryptoProvider } from '../src/node/crypto-provider.js';
import { CLIENT, SERVER, type Pair, ackedOf, makePair, messagesOf } from './helpers/pair.js';
import { echoPair, intercept, messages, protectedPacket, recordSends } from './helpers/rebinding.js';
import { expectPlaintextNotFollowed } from './helpers/plaintext-not-followed.js';

/** The client's address after its IP address changed: another host. */
const MOVED = '10.0.0.7:5000';
/** The new path: longer than the old one's 35 ms each way (cellular after Wi-Fi). */
const NEW_PATH = { delayMs: 60, jitterMs: 5 };
/** The probe timeout of a path with no sample (250 ms initial RTT, 4 x 125 ms variation, the 25 ms default max ack delay). */
const INITIAL_PTO = INITIAL_RTT_MS + 4 * (INITIAL_RTT_MS / 2) + 25;

type Sc = Connection;

/** Every datagram `endpoint` got and sent, in order, and which ones it sent were PATH_CHALLENGEs. */
function trafficLog(endpoint: Endpoint): { readonly dir: 'in' | 'out'; readonly peer: PeerAddress; readonly at: number; readonly size: number; readonly challenge: boolean }[] {
  const log: { dir: 'in' | 'out'; peer: PeerAddress; at: number; size: number; challenge: boolean }[] = [];
  intercept(endpoint, (now, data, from, deliver) => {
    log.push({ dir: 'in', peer: from, at: now, size: data.length, challenge: false });
    deliver(data);
  });
  // A challenge is the datagram returned by the poll during which a validation recorded one.
  let challenged = false;
  const onProbeSent = PathValidation.prototype.onProbeSent;
  const spyTarget = PathValidation.prototype as { onProbeSent: typeof onProbeSent };
  spyTarget.onProbeSent = function (this: PathValidation, now, data) {
    challenged = true;
    onProbeSent.call(this, now, data);
  };
  const poll = endpoint.pollTransmit.bind(endpoint);
  endpoint.pollTransmit = (now) => {
    challenged = false;
    const t = poll(now);
    if (t !== undefined) log.push({ dir: 'out', peer: t.to, at: now, size: t.data.length, challenge: challenged });
    return t;
  };
  return log;
}

/** Restores what `trafficLog` replaced on the prototype (each test that logs calls it). */
function restorePrototype(original: PathValidation['onProbeSent']): void {
  (PathValidation.prototype as { onProbeSent: PathValidation['onProbeSent'] }).onProbeSent = original;
}

/** How many times, before `until`, what went to `to` exceeded 3x what had come from it (RFC 9000 §8, §9.3.1). */
function overLimit(log: ReturnType<typeof trafficLog>, to: PeerAddress, until = Number.POSITIVE_INFINITY): number {
  let inBytes = 0;
  let outBytes = 0;
  let over = 0;
  for (const e of log) {
    if (e.at >= until) break;
    if (e.peer !== to) continue;
    if (e.dir === 'in') inBytes += e.size;
    else outBytes += e.size;
    if (outBytes > 3 * inBytes) over++;
  }
  return over;
}

/** Each challenge `log` sent to `to` before `until`: its size, and whether 3x what had come from `to` left room for a full 1,200-byte one. */
function challengesTo(log: ReturnType<typeof trafficLog>, to: PeerAddress, until = Number.POSITIVE_INFINITY): { size: number; roomForFull: boolean }[] {
  let inBytes = 0;
  let outBytes = 0;
  const out: { size: number; roomForFull: boolean }[] = [];
  for (const e of log) {
    if (e.at >= until) break;
    if (e.peer !== to) continue;
    if (e.dir === 'in') inBytes += e.size;
    else {
      if (e.challenge) out.push({ size: e.size, roomForFull: outBytes + 1200 <= 3 * inBytes });
      outBytes += e.size;
    }
  }
  return out;
}

const migratedAt = (p: Pair): number | undefined => p.serverEvents.find((r) => r.event.type === 'migrated')?.at;

describe('IP address change: the server follows its client to another host', () => {
  it.each([1, 2, 3, 4, 5])('a transfer in progress continues across the change, nothing lost or duplicated, both ways; the new path gets padded challenges within 3x and starts its congestion control, RTT and path MTU afresh (seed %i)', (seed) => {
    const original = PathValidation.prototype.onProbeSent;
    try {
      const { p, sent } = echoPair(150, seed);
      const log = trafficLog(p.server);
      p.sim.runFor(400);
      const sc = p.serverConn() as Sc;
      const before = messagesOf(p.serverEvents).length;
      expect(before).toBeGreaterThan(0);
      expect(before).toBeLessThan(sent.length);
      const oldController = sc.cc;
      // The old path's state: measured RTT near its 70 ms.
      expect(sc.stats().srttMs).toBeLessThan(120);
      p.sim.rebind(CLIENT, MOVED);
      p.sim.setLinks(MOVED, SERVER, NEW_PATH);
      const changeAt = p.sim.now;
      let atMove: { srtt: number; hasSample: boolean; cc: unknown; datagramSize: number } | undefined;
      p.onServerEvent = (e) => {
        if (e.type === 'message') e.connection.send(e.data);
        if (e.type === 'migrated') atMove = { srtt: sc.rtt.srtt, hasSample: sc.rtt.hasSample, cc: sc.cc, datagramSize: sc.pmtu.current };
      };
      p.sim.runFor(20_000);
      expectSameByteLists(messagesOf(p.serverEvents), sent);
      expectSameByteLists(messagesOf(p.clientEvents), sent);
      expect(ackedOf(p.clientEvents).map((a) => a.id)).toEqual(sent.map((_, i) => i));
      expect(sc.state).toBe('established');
      expect(sc.remote).toBe(MOVED);
      expect(p.serverEvents.flatMap((r) => (r.event.type === 'migrated' ? [r.event.previous] : []))).toEqual([CLIENT]);
      const movedAt = migratedAt(p) as number;
      // Validated within a round trip or two of the new path (120 ms) after the client's first packet from there.
      const firstIn = log.find((e) => e.dir === 'in' && e.peer === MOVED) as { at: number };
      expect(movedAt - firstIn.at).toBeLessThan(400);
      expect(movedAt - changeAt).toBeLessThan(600);
      // The server sent to the new address at the instant the first packet from there arrived (§9.3).
      expect((log.find((e) => e.dir === 'out' && e.peer === MOVED) as { at: number }).at).toBe(firstIn.at);
      // Never more than 3x what came from the new address until it was validated, challenges and padding included.
      expect(overLimit(log, MOVED, movedAt)).toBe(0);
      // Each challenge was 1,200 bytes where 3x left room for it, the challenge alone (at most 34 bytes) where not (§8.2.1).
      const challenges = challengesTo(log, MOVED, movedAt);
      expect(challenges.length).toBeGreaterThan(0);
      for (const c of challenges) expect(c.roomForFull ? c.size === 1200 : c.size <= PATH_PROBE_BYTES).toBe(true);
      // §9.4: a new controller, RTT estimation from the initial values seeded by the challenge's round trip
      // (the new path's 120 ms, not the old 70), the path MTU back at the base 1,200 bytes.
      const m = atMove as NonNullable<typeof atMove>;
      expect(m.cc).not.toBe(oldController);
      expect(m.hasSample).toBe(false);
      expect(m.srtt).toBeGreaterThanOrEqual(110);
      expect(m.srtt).toBeLessThan(250);
      expect(m.datagramSize).toBe(1200);
      expect(sc.stats().minRttMs).toBeGreaterThanOrEqual(110);
      const st = p.server.stats();
      expect({ validations: st.pathValidations, abandoned: st.pathValidationsAbandoned, refused: st.pathValidationsRefused, migrations: st.migrations, hostMigrations: st.hostMigrations }).toEqual({
        validations: 1,
        abandoned: 0,
        refused: 0,
        migrations: 1,
        hostMigrations: 1,
      });
      // The per-host tally moved with the connection; once it closes, nothing is left behind.
      expect({ old: p.server.hosts.count('10.0.0.1'), moved: p.server.hosts.count('10.0.0.7') }).toEqual({ old: 0, moved: 1 });
      p.conn.close(p.sim.now);
      p.sim.wake(MOVED);
      p.sim.runFor(5_000);
      expect(sc.state).toBe('closed');
      expect(p.server.byClient.size).toBe(0);
      expect(p.server.hosts.size).toBe(0);
    } finally {
      restorePrototype(original);
    }
  });

  it('path MTU discovery searches again on the new path: a larger MTU found on the old one is not carried onto a path that drops it', () => {
    const p = makePair({ link: { delayMs: 35, jitterMs: 5, mtu: 1500 } });
    p.onServerEvent = (e) => {
      if (e.type === 'message') e.connection.send(e.data);
    };
    const sent = messages(300);
    for (const m of sent) p.conn.send(m);
    p.sim.wake(CLIENT);
    p.sim.runFor(1_500);
    const sc = p.serverConn() as Sc;
    // Discovery found the old path's larger MTU.
    expect(sc.stats().datagramSize).toBeGreaterThan(1400);
    p.sim.rebind(CLIENT, MOVED);
    // The new path carries at most 1,300 bytes.
    p.sim.setLinks(MOVED, SERVER, { ...NEW_PATH, mtu: 1300 });
    p.sim.runFor(30_000);
    expect(sc.remote).toBe(MOVED);
    expectSameByteLists(messagesOf(p.clientEvents), sent);
    const st = sc.stats();
    expect(st.datagramSize).toBeLessThanOrEqual(1300);
    expect(st.mtuBlackHoles).toBe(0);
  });

  it.each([1, 2, 3])('a download resumes on the new path the moment it is validated: the old path\'s packets still in flight are resent there and hold neither the new controller\'s window nor its probe backoff (RFC 9000 §9.4: packets sent on the old path do not count for the new one) (seed %i)', (seed) => {
    // A 20 Mbit/s path, and a full window in flight on it when the client's address changes.
    const link = { delayMs: 20, jitterMs: 2, bandwidthBps: 20_000_000, queueBytes: 200_000 };
    // What was in flight to the old address is lost, so the client is found by what it sends next: an ACK
    // it owed at the move if the timing had it owe one, else its keep-alive (1 s here, within the run).
    const p = makePair({ seed, link, client: { keepAliveMs: 1_000 } });
    p.sim.runFor(300);
    const sc = p.serverConn() as Sc;
    const sent = Array.from({ length: 3000 }, (_, i) => new Uint8Array(1000).fill(i & 0xff));
    for (const m of sent) sc.send(m);
    p.sim.wake(SERVER);
    p.sim.runFor(400);
    expect(sc.recovery.bytesInFlight).toBeGreaterThan(100_000);
    const sends = recordSends(p.server);
    let atMove: { at: number; inFlight: number; ptoCount: number } | undefined;
    const migrated = p.server.migrated.bind(p.server);
    p.server.migrated = (conn, previous) => {
      atMove = { at: p.sim.now, inFlight: conn.recovery.bytesInFlight, ptoCount: conn.recovery.ptoCount };
      migrated(conn, previous);
    };
    p.sim.rebind(CLIENT, MOVED);
    p.sim.setLinks(MOVED, SERVER, { ...link, ...NEW_PATH });
    p.sim.runFor(10_000);
    expectSameByteLists(messagesOf(p.clientEvents), sent);
    expect(sc.remote).toBe(MOVED);
    const m = atMove as NonNullable<typeof atMove>;
    // Nothing but challenges went to the new address before it was validated (3x a keep-alive leaves no room for data).
    expect({ inFlight: m.inFlight, ptoCount: m.ptoCount }).toEqual({ inFlight: 0, ptoCount: 0 });
    // Within a round trip of the new path (120 ms) the new controller's initial window left, not a probe or two.
    const data = sends.filter((s) => s.to === MOVED && s.at >= m.at && s.at < m.at + 100 && s.size >= 1000);
    expect(data.length).toBeGreaterThanOrEqual(20);
  });

  it('a client that only receives (a download) is found at its new address by its keep-alive; 3x its small packet leaves no room for 1,200 bytes, so the challenge goes unpadded and still validates', () => {
    const original = PathValidation.prototype.onProbeSent;
    try {
      const idle = { idleTimeoutMs: 10_000 };
      const p = makePair({ client: idle, server: idle });
      p.sim.runFor(300);
      const sc = p.serverConn() as Sc;
      const log = trafficLog(p.server);
      const sent = messages(200);
      for (const m of sent) sc.send(m);
      p.sim.wake(SERVER);
      p.sim.runFor(150);
      while (p.conn.acks.deadline() !== Number.POSITIVE_INFINITY) expect(p.sim.step()).toBe(true);
      expect(messagesOf(p.clientEvents).length).toBeLessThan(sent.length);
      p.sim.rebind(CLIENT, MOVED);
      p.sim.setLinks(MOVED, SERVER, NEW_PATH);
      p.sim.runFor(20_000);
      expectSameByteLists(messagesOf(p.clientEvents), sent);
      expect(sc.remote).toBe(MOVED);
      const movedAt = migratedAt(p) as number;
      const firstIn = log.find((e) => e.dir === 'in' && e.peer === MOVED) as { size: number };
      expect(3 * firstIn.size).toBeLessThan(1200);
      const challenges = challengesTo(log, MOVED, movedAt);
      expect(challenges[0]?.roomForFull).toBe(false);
      expect(challenges[0]?.size).toBeLessThanOrEqual(PATH_PROBE_BYTES);
      for (const c of challenges) expect(c.roomForFull ? c.size === 1200 : c.size <= PATH_PROBE_BYTES).toBe(true);
      expect(overLimit(log, MOVED, movedAt)).toBe(0);
    } finally {
      restorePrototype(original);
    }
  });

  it('a plaintext connection is still not followed: packets from the new address are dropped unopened', () => {
    expectPlaintextNotFollowed(MOVED);
  });
});

describe('IP address change: attackers', () => {
  it('an on-path attacker rewriting the source of every client packet to a third host diverts the connection for at most one validation (3x the initial PTO) in each caution period; the transfer completes and the path state is never reset', () => {
    const original = PathValidation.prototype.onProbeSent;
    try {
      const third = '10.0.0.66:5000';
      const { p, sent } = echoPair(150);
      p.sim.runFor(300);
      const sc = p.serverConn() as Sc;
      const controller = sc.cc;
      const log = trafficLog(p.server);
      const started: { at: number; moved: boolean }[] = [];
      const ended: number[] = [];
      const note = p.server.pathValidation.bind(p.server);
      p.server.pathValidation = (outcome) => {
        if (outcome === 'started') started.push({ at: p.sim.now, moved: sc.path?.moved === true });
        if (outcome === 'abandoned') ended.push(p.sim.now);
        note(outcome);
      };
      // Every client packet from now on arrives as from the third host; the original never does.
      const real = p.server.handleDatagram.bind(p.server);
      p.server.handleDatagram = (now, data, from) => real(now, data, from === CLIENT && protectedPacket(data) ? third : from);
      p.sim.runFor(30_000);
      // The connection lives on at the client's address: the server's data reaches it, its packets arrive rewritten.
      expectSameByteLists(messagesOf(p.clientEvents), sent);
      expect(sc.remote).toBe(CLIENT);
      expect(sc.cc).toBe(controller);
      const st = p.server.stats();
      expect({ migrations: st.migrations, hostMigrations: st.hostMigrations }).toEqual({ migrations: 0, hostMigrations: 0 });
      // Each validation of the third host ended by its timeout, at most 3x the initial PTO after it started.
      expect(started.length).toBeGreaterThan(0);
      for (let i = 0; i < ended.length; i++) expect((ended[i] as number) - (started[i] as { at: number }).at).toBeLessThanOrEqual(VALIDATION_PTOS * INITIAL_PTO + 1);
      // Only the first moved there at once; each later one started in a caution period (CAUTION_PTOS of at least the
      // initial PTO after the last failure) or after it, never sooner.
      const moved = started.filter((s) => s.moved);
      expect(moved[0]).toBe(started[0]);
      // Each failure renews the caution: while the rewriting goes on, the connection is diverted once.
      expect(moved).toHaveLength(1);
      for (let i = 1; i < started.length; i++) {
        const s = started[i] as { at: number; moved: boolean };
        if (s.moved) expect(s.at - (ended[i - 1] as number)).toBeGreaterThanOrEqual(CAUTION_PTOS * INITIAL_PTO);
      }
      // What went to the third host outside moved validations: challenges only.
      const movedWindows = moved.map((s) => [s.at, ended[started.indexOf(s)] ?? Number.POSITIVE_INFINITY] as const);
      const stray = log.filter((e) => e.dir === 'out' && e.peer === third && !e.challenge && !movedWindows.some(([a, b]) => e.at >= a && e.at <= b));
      expect(stray).toEqual([]);
      // Diverted at most (3x the initial PTO) in each (caution + validation) span of the 30 s.
      const diverted = movedWindows.reduce((sum, [a, b]) => sum + Math.min(b, p.sim.now) - a, 0);
      expect(diverted).toBeLessThanOrEqual(Math.ceil(30_000 / (CAUTION_PTOS * INITIAL_PTO)) * VALIDATION_PTOS * INITIAL_PTO);
      expect(overLimit(log, third)).toBe(0);
    } finally {
      restorePrototype(original);
    }
  });

  it('a client (with the keys) that sends its packets as from third hosts gets no more than 3x what it sent toward each: the amplification bound holds for every victim, padded challenges included', () => {
    const original = PathValidation.prototype.onProbeSent;
    try {
      const p = makePair();
      p.sim.runFor(300);
      const sc = p.serverConn() as Sc;
      // A download the server would gladly send anywhere.
      for (const m of messages(400)) sc.send(m);
      p.sim.wake(SERVER);
      const log = trafficLog(p.server);
      const victims = new Set<PeerAddress>();
      let k = 0;
      const real = p.server.handleDatagram.bind(p.server);
      // Each client packet as from one of 20 victims in turn.
      p.server.handleDatagram = (now, data, from) => {
        if (from !== CLIENT || !protectedPacket(data)) return real(now, data, from);
        const victim = `192.0.2.${1 + (k++ % 20)}:9000`;
        victims.add(victim);
        real(now, data, victim);
      };
      p.sim.runFor(20_000);
      expect(victims.size).toBe(20);
      for (const v of victims) expect(overLimit(log, v)).toBe(0);
      // A padded challenge only where 3x what came from the victim (over the whole run: a validation counts only its own) left room.
      for (const v of victims) for (const c of challengesTo(log, v)) expect(c.size <= PATH_PROBE_BYTES || (c.size === 1200 && c.roomForFull)).toBe(true);
      const toVictims = log.filter((e) => e.dir === 'out' && victims.has(e.peer)).reduce((s, e) => s + e.size, 0);
      const fromVictims = log.filter((e) => e.dir === 'in' && victims.has(e.peer)).reduce((s, e) => s + e.size, 0);
      expect(toVictims).toBeGreaterThan(0);
      expect(toVictims).toBeLessThanOrEqual(3 * fromVictims);
      // No victim answered a challenge: the connection never moved.
      expect(sc.remote).toBe(CLIENT);
      expect(p.server.stats().migrations).toBe(0);
    } finally {
      restorePrototype(original);
    }
  });

  it('a client that spoofs a third host while the server has data in flight gets no busy loop: the probe timer waits while the amplification limit holds every datagram back (RFC 9002 §6.2.2.1), and fires once the validation is given up', () => {
    const p = makePair();
    p.sim.runFor(300);
    const sc = p.serverConn() as Sc;
    // A download: the server always has data in flight.
    for (const m of messages(400)) sc.send(m);
    p.sim.wake(SERVER);
    p.sim.runFor(200);
    const third = '192.0.2.9:9000';
    // From now on the client's packets arrive only once more, as from a third host (its own address goes quiet).
    let spoofed = 0;
    intercept(p.server, (_now, data, from, deliver) => {
      if (from !== CLIENT || !protectedPacket(data)) return deliver(data);
      if (spoofed++ === 0) deliver(data, third);
    });
    let timeouts = 0;
    const handle = p.server.handleTimeout.bind(p.server);
    p.server.handleTimeout = (now) => {
      timeouts++;
      handle(now);
    };
    expect(sc.recovery.bytesInFlight).toBeGreaterThan(0);
    // On the old code the sim stopped here: the capped probe timer came due again at once, thousands of times a millisecond.
    p.sim.runFor(3_000);
    expect(spoofed).toBeGreaterThan(1);
    const st = p.server.stats();
    expect({ validations: st.pathValidations, abandoned: st.pathValidationsAbandoned, migrations: st.migrations }).toEqual({ validations: 1, abandoned: 1, migrations: 0 });
    // A probe after the validation went to the client's address again: the timer was only held, not lost.
    expect(sc.recovery.ptoCount).toBeGreaterThan(0);
    // A wake-up per timer that had something to do, not one per microsecond.
    expect(timeouts).toBeLessThan(100);
  });

  it('a client met at another address is not followed to a loopback address (RFC 9000 §21.5.6: request forgery toward the server host\'s own services): nothing goes there, its packets are still handled', () => {
    const { p, sent } = echoPair(40);
    p.sim.runFor(200);
    const local = '127.0.0.1:11211';
    const sends = recordSends(p.server);
    let rewritten = 0;
    intercept(p.server, (_now, data, from, deliver) => {
      if (from === CLIENT && protectedPacket(data) && rewritten < 5) {
        rewritten++;
        deliver(data, local);
      } else deliver(data);
    });
    p.sim.runFor(10_000);
    expect(rewritten).toBe(5);
    expect(sends.filter((s) => s.to === local)).toEqual([]);
    const st = p.server.stats();
    expect(st.pathValidationsRefused).toBeGreaterThan(0);
    expect({ validations: st.pathValidations, migrations: st.migrations }).toEqual({ validations: 0, migrations: 0 });
    expectSameByteLists(messagesOf(p.clientEvents), sent);
  });

  it('a genuine packet copied ahead from a third host starts a validation its original, arriving next from the client\'s address, ends at once', () => {
    const { p, sent } = echoPair(40);
    const third = '10.0.0.66:5000';
    let raced = 0;
    intercept(p.server, (_now, data, from, deliver) => {
      if (from === CLIENT && protectedPacket(data) && raced === 0 && p.sim.now > 300) {
        raced++;
        deliver(data.slice(), third);
      }
      deliver(data);
    });
    p.sim.runFor(10_000);
    expect(raced).toBe(1);
    const st = p.server.stats();
    expect({ validations: st.pathValidations, abandoned: st.pathValidationsAbandoned, migrations: st.migrations }).toEqual({ validations: 1, abandoned: 1, migrations: 0 });
    expect(p.serverConn()?.remote).toBe(CLIENT);
    expectSameByteLists(messagesOf(p.clientEvents), sent);
  });
});

/** A server, and clients added at will, on one simulated network. */
function serverWithClients(server: { maxConnectionsPerHost: number }): {
  readonly sim: SimNetwork;
  readonly server: Endpoint;
  client(address: PeerAddress): { conn: Connection; events: EndpointEvent[] };
} {
  const sim = new SimNetwork({ seed: 3, defaultLink: { delayMs: 20, jitterMs: 2 } });
  const ep = new Endpoint({ random: sim.random('server'), acceptIncoming: true, crypto: deterministicCrypto(nodeCryptoProvider, sim.random('server-crypto')), ...server });
  sim.addNode(SERVER, ep, {
    onActivity: () => {
      for (let e = ep.pollEvent(); e; e = ep.pollEvent()) {
        if (e.type === 'message') e.connection.send(e.data);
      }
    },
  });
  return {
    sim,
    server: ep,
    client(address) {
      const c = new Endpoint({ random: sim.random(address), crypto: deterministicCrypto(nodeCryptoProvider, sim.random(`${address}-crypto`)) });
      const events: EndpointEvent[] = [];
      sim.addNode(address, c, {
        onActivity: () => {
          for (let e = c.pollEvent(); e; e = c.pollEvent()) events.push(e);
        },
      });
      const conn = c.connect(sim.now, SERVER);
      sim.wake(address);
      return { conn, events };
    },
  };
}

const say = (c: { conn: Connection }, text: string, sim: SimNetwork, at: PeerAddress): void => {
  c.conn.send(new TextEncoder().encode(text));
  sim.wake(at);
};

describe('IP address change: per-host limits', () => {
  it('a moved connection counts against its new host, not its old: the old host has room again, the new one is full, and a host at its limit takes no connection moving there', () => {
    const net = serverWithClients({ maxConnectionsPerHost: 1 });
    const first = net.client('10.0.0.1:5000');
    net.sim.runFor(500);
    expect(first.conn.state).toBe('established');
    expect(net.server.hosts.count('10.0.0.1')).toBe(1);
    // The first client's IP address changes: it counts at 10.0.0.9 from then on.
    net.sim.rebind('10.0.0.1:5000', '10.0.0.9:5000');
    say(first, 'after the change', net.sim, '10.0.0.9:5000');
    net.sim.runFor(2_000);
    const firstOnServer = [...net.server.connections.values()][0] as Connection;
    expect(firstOnServer.remote).toBe('10.0.0.9:5000');
    expect({ old: net.server.hosts.count('10.0.0.1'), moved: net.server.hosts.count('10.0.0.9') }).toEqual({ old: 0, moved: 1 });
    // 10.0.0.1 has room again; 10.0.0.9 is full.
    const second = net.client('10.0.0.1:5001');
    const third = net.client('10.0.0.9:5002');
    net.sim.runFor(2_000);
    expect(second.conn.state).toBe('established');
    expect(third.conn.state).toBe('closed');
    // Refused as full (each copy of its INITIAL counted).
    expect(net.server.stats().dropped.hostFull).toBeGreaterThan(0);
    expect(third.events.find((e) => e.type === 'closed')).toBeDefined();
    // The second client moves to 10.0.0.9 too: refused (its packets are still handled, its address is not validated).
    net.sim.rebind('10.0.0.1:5001', '10.0.0.9:5003');
    say(second, 'from a full host', net.sim, '10.0.0.9:5003');
    net.sim.runFor(2_000);
    const secondOnServer = [...net.server.connections.values()].find((c) => c !== firstOnServer && c.state === 'established') as Connection;
    expect(secondOnServer.remote).toBe('10.0.0.1:5001');
    const st = net.server.stats();
    expect(st.pathValidationsRefused).toBeGreaterThan(0);
    expect({ migrations: st.migrations, hostMigrations: st.hostMigrations }).toEqual({ migrations: 1, hostMigrations: 1 });
    expect({ old: net.server.hosts.count('10.0.0.1'), moved: net.server.hosts.count('10.0.0.9') }).toEqual({ old: 1, moved: 1 });
    // Nothing counted twice, nothing left behind once every connection is gone.
    first.conn.close(net.sim.now);
    second.conn.close(net.sim.now);
    net.sim.wake('10.0.0.9:5000');
    net.sim.wake('10.0.0.9:5003');
    net.sim.runFor(30_000);
    expect(net.server.hosts.size).toBe(0);
  });

  it('a client that keeps sending from a full host costs the tally one look per probe timeout, not one per packet; room that opens there is seen', () => {
    const net = serverWithClients({ maxConnectionsPerHost: 1 });
    const holder = net.client('10.0.0.9:5000');
    const mover = net.client('10.0.0.1:5000');
    net.sim.runFor(500);
    expect([holder.conn.state, mover.conn.state]).toEqual(['established', 'established']);
    let looks = 0;
    const hostRoom = net.server.hostRoom.bind(net.server);
    net.server.hostRoom = (conn, to) => {
      looks++;
      return hostRoom(conn, to);
    };
    let fromFull = 0;
    intercept(net.server, (_now, data, from, deliver) => {
      if (from === '10.0.0.9:5001' && protectedPacket(data)) fromFull++;
      deliver(data);
    });
    net.sim.rebind('10.0.0.1:5000', '10.0.0.9:5001');
    // A message every 10 ms for 2 s from the full host.
    for (let i = 0; i < 200; i++) net.sim.schedule(net.sim.now + 10 * i, () => say(mover, `message ${i}`, net.sim, '10.0.0.9:5001'));
    net.sim.runFor(2_000);
    const sc = [...net.server.connections.values()].find((c) => c.remote === '10.0.0.1:5000') as Connection;
    expect(fromFull).toBeGreaterThan(150);
    expect(net.server.stats().pathValidationsRefused).toBeGreaterThan(150);
    // About one look per probe timeout of the connection (its PTO, some 100 ms here), far fewer than packets.
    expect(looks).toBeLessThanOrEqual(Math.ceil(2_000 / sc.rtt.pto(sc.config.maxAckDelayMs)) + 2);
    expect(looks * 5).toBeLessThan(fromFull);
    // The holder leaves: the mover's next look finds room, and it moves.
    holder.conn.close(net.sim.now);
    net.sim.wake('10.0.0.9:5000');
    net.sim.runFor(1_000);
    say(mover, 'room now', net.sim, '10.0.0.9:5001');
    net.sim.runFor(2_000);
    expect(sc.remote).toBe('10.0.0.9:5001');
  });

  it('a connection moving back and forth between two hosts is counted once, always at the host it is at', () => {
    const net = serverWithClients({ maxConnectionsPerHost: 4 });
    const c = net.client('10.0.0.1:5000');
    net.sim.runFor(500);
    const addresses = ['10.0.0.9:5000', '10.0.0.1:5001', '10.0.0.9:5002', '10.0.0.1:5003'];
    let at = '10.0.0.1:5000';
    for (const next of addresses) {
      net.sim.rebind(at, next);
      at = next;
      say(c, `at ${next}`, net.sim, next);
      net.sim.runFor(3_000);
      const sc = [...net.server.connections.values()][0] as Connection;
      expect(sc.remote).toBe(next);
      const host = next.split(':')[0] as string;
      const other = host === '10.0.0.1' ? '10.0.0.9' : '10.0.0.1';
      expect({ here: net.server.hosts.count(host), there: net.server.hosts.count(other) }).toEqual({ here: 1, there: 0 });
    }
    expect(net.server.stats().hostMigrations).toBe(4);
    expect(c.events.filter((e) => e.type === 'closed')).toEqual([]);
  });
});
