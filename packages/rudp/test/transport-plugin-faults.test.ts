/**
 * A plug-in the application supplies (a congestion controller, a crypto
 * provider) that throws while a connection works ends that connection alone,
 * with the fault as its close's cause: nothing escapes the endpoint, the
 * other connections carry on, and a plug-in that throws at every call does
 * not make the connection spin (plugin-fault.ts). Seeded simulator.
 */
import { describe, expect, it } from 'vitest';
import { CLIENT, SERVER, firstOf, makePair, messagesOf, type Pair, type Recorded } from './helpers/pair.js';
import { Bbr } from '../src/core/congestion/bbr.js';
import type { CongestionController, CongestionControllerFactory } from '../src/core/congestion/controller.js';
import type { CloseReason, EndpointEvent } from '../src/core/events.js';
import { Endpoint } from '../src/core/endpoint.js';
import type { AeadKey, CryptoProvider } from '../src/crypto/crypto-provider.js';
import { PluginFault } from '../src/crypto/plugin-fault.js';
import { deterministicCrypto } from '../src/testing/deterministic-crypto.js';
import { defaultCryptoProvider, nodeCryptoProvider, packetCipherProviders } from '../src/node/crypto-provider.js';
import { guardProvider } from '../src/crypto/guarded-provider.js';
import { PacketKey } from '../src/crypto/packet-key.js';
import type { PacketProtection } from '../src/crypto/packet-protection.js';
import { SimNetwork } from '../src/testing/sim-network.js';

/** The close reason of the first `closed` event a log holds for connection `localCid` (any, if omitted). */
function closedReason(log: readonly Recorded[], localCid?: number): CloseReason | undefined {
  const r = log.find((x) => x.event.type === 'closed' && (localCid === undefined || x.event.connection.localCid === localCid));
  return r?.event.type === 'closed' ? r.event.reason : undefined;
}

/** The `closed` event of `endpoint`'s log, polling what the pair's hook did not (a close as the endpoint was polled to send). */
function closedEvent(endpoint: Endpoint, log: Recorded[]): Extract<EndpointEvent, { type: 'closed' }> | undefined {
  for (let e = endpoint.pollEvent(); e !== undefined; e = endpoint.pollEvent()) log.push({ at: Number.NaN, event: e });
  const r = log.find((x) => x.event.type === 'closed');
  return r?.event.type === 'closed' ? r.event : undefined;
}

/** BBR whose `method` throws from its `after`-th call on (`after` 0: the factory itself throws). */
function failingAt(method: 'onAck' | 'window' | 'onPacketSent' | 'factory', after: number): CongestionControllerFactory {
  return (mtu) => {
    if (method === 'factory') throw new Error('no controller today');
    const bbr = new Bbr(mtu);
    let calls = 0;
    const trip = (m: string): void => {
      if (m === method && ++calls >= after) throw new Error(`controller broke in ${m}`);
    };
    const cc: CongestionController = {
      name: 'failing',
      window: () => (trip('window'), bbr.window()),
      pacingRate: (srtt) => bbr.pacingRate(srtt),
      onPacketSent: (now, bytes) => (trip('onPacketSent'), bbr.onPacketSent(now, bytes)),
      onAck: (now, sample) => (trip('onAck'), bbr.onAck(now, sample)),
      onLoss: (now, lost, inFlight) => bbr.onLoss(now, lost, inFlight),
      onSpuriousLoss: (now, bytes) => bbr.onSpuriousLoss(now, bytes),
    };
    return cc;
  };
}

/**
 * BBR whose `method` throws `METHOD broke` once `broken()` says so. A plain object that never trips underneath
 * (failingAt's): a spread of a Bbr instance would lose its methods.
 */
function breakingController(method: 'window' | 'onPacketSent', broken: () => boolean): CongestionControllerFactory {
  const healthy = failingAt('onAck', Number.POSITIVE_INFINITY);
  return (mtu) => {
    const cc = healthy(mtu);
    const check = (): void => {
      if (broken()) throw new Error(`${method} broke`);
    };
    return method === 'window' ? { ...cc, window: () => (check(), cc.window()) } : { ...cc, onPacketSent: (now, bytes) => (check(), cc.onPacketSent(now, bytes)) };
  };
}

/** Only the connection made `nth` (counting from 1; the option check made one before any) gets `bad`'s controller. */
/**
 * A working controller that, told of the next packet sent after `destroyNext(destroy)`, calls `destroy` (once),
 * from inside `onPacketSent`: an application's controller ending its own connection.
 */
function destroyingFromOnPacketSent(): { readonly closing: CongestionControllerFactory; readonly destroyNext: (destroy: () => void) => void } {
  let destroyIn: (() => void) | undefined;
  const healthy = failingAt('onAck', Number.POSITIVE_INFINITY);
  const closing: CongestionControllerFactory = (mtu) => {
    const cc = healthy(mtu);
    return {
      ...cc,
      onPacketSent: (now, bytes) => {
        cc.onPacketSent(now, bytes);
        const d = destroyIn;
        destroyIn = undefined;
        d?.();
      },
    };
  };
  return { closing, destroyNext: (destroy) => (destroyIn = destroy) };
}

/** A controller's method (`CongestionController`'s, by name). */
type ControllerMethod = 'window' | 'pacingRate' | 'onPacketSent' | 'onAck' | 'onLoss' | 'onSpuriousLoss';

/**
 * A working controller that, once `destroyNext(destroy)` armed it, calls `destroy` (once) from inside its next call
 * of `method`, after BBR's answer: an application's controller ending its own connection. `callsAfter` names every
 * call it got after that one.
 */
function destroyingFrom(method: ControllerMethod): {
  readonly closing: CongestionControllerFactory;
  readonly destroyNext: (destroy: () => void) => void;
  readonly callsAfter: string[];
} {
  let destroyIn: (() => void) | undefined;
  let destroyed = false;
  const callsAfter: string[] = [];
  const closing: CongestionControllerFactory = (mtu) => {
    const bbr = new Bbr(mtu);
    const call = <T>(m: ControllerMethod, answer: T): T => {
      if (destroyed) callsAfter.push(m);
      if (m === method && destroyIn !== undefined) {
        const d = destroyIn;
        destroyIn = undefined;
        destroyed = true;
        d();
      }
      return answer;
    };
    return {
      name: 'destroying',
      window: () => call('window', bbr.window()),
      pacingRate: (srtt) => call('pacingRate', bbr.pacingRate(srtt)),
      onPacketSent: (now, bytes) => call('onPacketSent', bbr.onPacketSent(now, bytes)),
      onAck: (now, sample) => call('onAck', bbr.onAck(now, sample)),
      onLoss: (now, lost, inFlight) => call('onLoss', bbr.onLoss(now, lost, inFlight)),
      onSpuriousLoss: (now, bytes) => call('onSpuriousLoss', bbr.onSpuriousLoss(now, bytes)),
    };
  };
  return { closing, destroyNext: (destroy) => (destroyIn = destroy), callsAfter };
}

/** The types of `log`'s events after its first `closed` event (all of them if there is none). */
function eventsAfterClosed(log: readonly Recorded[]): string[] {
  const at = log.findIndex((r) => r.event.type === 'closed');
  return log.slice(at + 1).map((r) => r.event.type);
}

function onlyNth(nth: number, bad: CongestionControllerFactory): CongestionControllerFactory {
  let made = 0;
  return (mtu) => (++made === nth ? bad(mtu) : new Bbr(mtu));
}

/** The seeded provider of the pair, its per-packet keys breaking in `method` once `broken()` says so. */
function breakingKeys(seed: string, sim: SimNetwork, method: 'sealInto' | 'openInto', broken: () => boolean): CryptoProvider {
  const base = deterministicCrypto(defaultCryptoProvider, sim.random(seed));
  return {
    ...base,
    aeadKey(key: Uint8Array): AeadKey {
      const k = base.aeadKey(key);
      return {
        sealInto(nonce, ad, plaintext, out) {
          if (method === 'sealInto' && broken()) throw new Error('seal broke');
          k.sealInto(nonce, ad, plaintext, out);
        },
        openInto(nonce, ad, ciphertext, out) {
          if (method === 'openInto' && broken()) throw new Error('open broke');
          return k.openInto(nonce, ad, ciphertext, out);
        },
      };
    },
  };
}

/**
 * A provider (`seed` of `sim`'s randomness) whose AEAD keys made while `armed()` holds throw as they seal ('new keys
 * broke'); keys made before work on. Past the handshake only a key update makes keys. `threw()`: the throws so far.
 */
function newKeysBreaking(seed: string, sim: SimNetwork, armed: () => boolean): { readonly crypto: CryptoProvider; readonly threw: () => number } {
  const base = deterministicCrypto(defaultCryptoProvider, sim.random(seed));
  let threw = 0;
  const crypto: CryptoProvider = {
    ...base,
    aeadKey(key: Uint8Array): AeadKey {
      const k = base.aeadKey(key);
      const broken = armed();
      return {
        sealInto(nonce, ad, plaintext, out) {
          if (broken) {
            threw++;
            throw new Error('new keys broke');
          }
          k.sealInto(nonce, ad, plaintext, out);
        },
        openInto: (nonce, ad, ciphertext, out) => k.openInto(nonce, ad, ciphertext, out),
      };
    },
  };
  return { crypto, threw: () => threw };
}

/**
 * A provider (`seed` of `sim`'s randomness) whose `hmacSha256` throws ('hmac broke') while `broken()` holds:
 * past the handshake only a key update's derivation asks for one. `threw()`: the throws so far.
 */
function hmacBreaking(seed: string, sim: SimNetwork, broken: () => boolean): { readonly crypto: CryptoProvider; readonly threw: () => number } {
  const base = deterministicCrypto(defaultCryptoProvider, sim.random(seed));
  let threw = 0;
  const crypto: CryptoProvider = {
    ...base,
    hmacSha256(key, ...parts) {
      if (broken()) {
        threw++;
        throw new Error('hmac broke');
      }
      return base.hmacSha256(key, ...parts);
    },
  };
  return { crypto, threw: () => threw };
}

/** The client sends one 100-byte message at a time (one packet each), 20 ms apart, until `done()` or `most` messages. */
function sendOneByOne(p: Pair, done: () => boolean, most: number): void {
  for (let i = 0; i < most && !done(); i++) {
    p.conn.send(new Uint8Array(100).fill(i));
    p.sim.wake(CLIENT);
    p.sim.runFor(20);
  }
}

/** The client ends its connection with code 7, 'bye', and the simulation runs a second for the goodbye to travel. */
function sayGoodbye(p: Pair): void {
  p.conn.destroy(p.sim.now, 7, 'bye');
  p.sim.wake(CLIENT);
  p.sim.runFor(1000);
}

/** The server heard the client's goodbye: code 7, 'bye'. */
function expectGoodbyeHeard(p: Pair): void {
  const server = closedReason(p.serverEvents);
  expect([server?.kind, server?.code, server?.message]).toEqual(['peer', 7, 'bye']);
}

/** The server was told the client's crypto provider threw in `method` (the CLOSE reached it). */
function expectPeerToldOfProviderFault(p: Pair, method: string): void {
  const server = closedReason(p.serverEvents);
  expect([server?.kind, server?.message]).toEqual(['peer', `the crypto provider threw in ${method}`]);
}

/** 100 messages of 1,000 B from the client, over three seconds: past `keyUpdateAfterPackets: 32`, so keys update. */
function sendPastKeyUpdates(p: Pair): void {
  for (let i = 0; i < 100; i++) p.conn.send(new Uint8Array(1000).fill(i));
  p.sim.wake(CLIENT);
  p.sim.runFor(3000);
}

const expectFault = (reason: CloseReason | undefined, plugin: string, method: string, thrown: string): void => {
  expect(reason?.kind).toBe('local');
  expect(reason?.message).toBe(`the ${plugin} threw in ${method}`);
  const cause = reason?.cause;
  expect(cause).toBeInstanceOf(PluginFault);
  expect(cause instanceof PluginFault && [cause.plugin, cause.method, (cause.cause as Error).message]).toEqual([plugin, method, thrown]);
};

describe('a plug-in that throws ends its connection alone', () => {
  it('a congestion controller whose onAck throws mid-transfer: that connection ends (the peer told), another on the same endpoint carries on', () => {
    const p = makePair({ client: { congestion: onlyNth(2, failingAt('onAck', 3)) } });
    p.sim.runFor(300);
    for (let i = 0; i < 50; i++) p.conn.send(new Uint8Array(1000).fill(i));
    const other = p.client.connect(p.sim.now, SERVER);
    for (let i = 0; i < 50; i++) other.send(new Uint8Array(1000).fill(i));
    p.sim.wake(CLIENT);
    p.sim.runFor(3000);
    expectFault(closedReason(p.clientEvents, p.conn.localCid), 'congestion controller', 'onAck', 'controller broke in onAck');
    expect(p.conn.state === 'draining' || p.conn.state === 'closed').toBe(true);
    // The server heard the CLOSE: its side of the first connection ended as closed by the peer, with the fault's words only.
    const peerSide = p.serverEvents.find((r) => r.event.type === 'closed' && r.event.reason.kind === 'peer');
    expect(peerSide?.event.type === 'closed' && peerSide.event.reason.message).toBe('the congestion controller threw in onAck');
    // The other connection delivered all 50 messages and is still open.
    expect(other.state).toBe('established');
    expect(messagesOf(p.serverEvents).length).toBeGreaterThanOrEqual(50);
    expect(closedReason(p.clientEvents, other.localCid)).toBeUndefined();
  });

  it('a controller that throws at every call does not make the connection spin: it ends, and sends no more than its goodbye', () => {
    const p = makePair({ client: { congestion: onlyNth(2, failingAt('window', 1)) } });
    // The first poll of an established connection asks for the window: the connection ends as the handshake does.
    p.sim.runFor(300);
    expect(p.conn.state === 'draining' || p.conn.state === 'closed').toBe(true);
    const sent = p.client.stats().datagramsSent;
    p.sim.runFor(5000);
    expectFault(closedReason(p.clientEvents), 'congestion controller', 'window', 'controller broke in window');
    // The drain repeats the CLOSE only in answer to the peer's packets: a handful, not a loop.
    expect(p.client.stats().datagramsSent - sent).toBeLessThan(5);
  });

  it("a controller that throws when stats() asks for its window: stats() still answers, and the connection ends (not left running without control)", () => {
    let broken = false;
    const flaky = breakingController('window', () => broken);
    const p = makePair({ client: { congestion: onlyNth(2, flaky) } });
    p.sim.runFor(300);
    expect(p.conn.state).toBe('established');
    const last = p.conn.stats().cwndBytes;
    expect(last).toBeGreaterThan(0);
    broken = true;
    const now = p.sim.now + 10_000;
    const stats = p.conn.stats(now);
    expect(stats.messagesSent).toBe(0);
    // The last window it gave, not the inert stand-in's 2^53 - 1 (what the old stats() reported).
    expect(stats.cwndBytes).toBe(last);
    expectFault(p.conn.closeReason, 'congestion controller', 'window', 'window broke');
    expect(p.conn.state).toBe('draining');
    // The drain is counted from the time stats() was given, not from the connection's last activity before it.
    expect(p.conn.closing?.drainUntil).toBeGreaterThan(now);
  });

  it("a handshaking client whose controller throws when stats() asks for its window: it ends at once, the fault its close's cause, with no CLOSE (nothing can be sealed before the ACCEPT)", () => {
    let broken = false;
    const flaky = breakingController('window', () => broken);
    // No link: the INITIAL never arrives, so the client is still in its handshake whenever asked.
    const p = makePair({ client: { congestion: onlyNth(2, flaky) }, link: { delayMs: 35, loss: 1 } });
    p.sim.runFor(50);
    expect(p.conn.state).toBe('handshake');
    const sent = p.client.stats().datagramsSent;
    broken = true;
    expect(p.conn.stats(p.sim.now).messagesSent).toBe(0);
    expect(p.conn.state).toBe('closed');
    const closed = closedEvent(p.client, p.clientEvents);
    expectFault(closed?.reason, 'congestion controller', 'window', 'window broke');
    expect(closed?.reason.code).toBe(1);
    p.sim.wake(CLIENT);
    p.sim.runFor(5000);
    // Nothing more left: no CLOSE, no INITIAL again.
    expect(p.client.stats().datagramsSent).toBe(sent);
    expect(p.clientEvents.filter((r) => r.event.type === 'closed').length).toBe(1);
  });

  it("stats() of a draining connection asks its controller nothing (one that would throw now cannot cut the drain short): its window is the last the controller gave, and the drain goes on", () => {
    let broken = false;
    const flaky = breakingController('window', () => broken);
    const p = makePair({ client: { congestion: onlyNth(2, flaky) } });
    p.sim.runFor(300);
    const last = p.conn.stats().cwndBytes;
    p.conn.destroy(p.sim.now, 7, 'bye');
    expect(p.conn.state).toBe('draining');
    broken = true;
    const stats = p.conn.stats();
    expect(stats.messagesSent).toBe(0);
    // Before: asked, it threw, and the guard's inert stand-in answered 2^53 - 1.
    expect([stats.cwndBytes, stats.congestionController]).toEqual([last, 'failing']);
    expect(p.conn.state).toBe('draining');
    expect([p.conn.closeReason?.code, p.conn.closeReason?.message]).toEqual([7, 'bye']);
    p.sim.wake(CLIENT);
    p.sim.runFor(3000);
    expectGoodbyeHeard(p);
    expect(p.conn.state).toBe('closed');
  });

  it("a server's congestion factory that throws for a new connection: it ends at once, the client is told (ACCEPT, then CLOSE)", () => {
    const p = makePair({ server: { congestion: onlyNth(2, failingAt('factory', 0)) } });
    p.sim.runFor(2000);
    expectFault(closedReason(p.serverEvents), 'congestion controller', 'its factory', 'no controller today');
    const client = closedReason(p.clientEvents);
    expect([client?.kind, client?.message]).toEqual(['peer', 'the congestion controller threw in its factory']);
  });

  it('a crypto provider whose key throws when sealing: the connection ends without a goodbye (it cannot seal one), and stops sending', () => {
    const sim = new SimNetwork({ seed: 1, defaultLink: { delayMs: 35, jitterMs: 5 } });
    let broken = false;
    const p = makePair({ client: { crypto: breakingKeys('client-crypto', sim, 'sealInto', () => broken) } });
    p.sim.runFor(300);
    expect(p.conn.state).toBe('established');
    broken = true;
    p.conn.send(new Uint8Array(100));
    p.sim.wake(CLIENT);
    p.sim.runFor(100);
    const sent = p.client.stats().datagramsSent;
    p.sim.runFor(5000);
    // Read from the connection: its `closed` event waits in the endpoint's queue for a poll nothing triggers here.
    expectFault(p.conn.closeReason, 'crypto provider', 'sealInto', 'seal broke');
    expect(p.conn.state).toBe('closed');
    expect(p.client.stats().datagramsSent).toBe(sent);
  });

  it("a message whose packet could not be sealed never left: the close's unsentFrom names it (a send before it, that left, stays below)", () => {
    const sim = new SimNetwork({ seed: 1, defaultLink: { delayMs: 35, jitterMs: 5 } });
    let broken = false;
    const p = makePair({ client: { crypto: breakingKeys('client-crypto', sim, 'sealInto', () => broken) } });
    p.sim.runFor(300);
    const left = p.conn.send(new Uint8Array(100).fill(1));
    p.sim.wake(CLIENT);
    p.sim.runFor(300);
    expect(messagesOf(p.serverEvents).length).toBe(1);
    broken = true;
    const lost = p.conn.send(new Uint8Array(100).fill(2));
    const after = p.conn.send(new Uint8Array(5000).fill(3));
    p.sim.wake(CLIENT);
    p.sim.runFor(100);
    const closed = closedEvent(p.client, p.clientEvents);
    expectFault(closed?.reason, 'crypto provider', 'sealInto', 'seal broke');
    // Both were written into the packet whose sealing threw, and nothing of either went out.
    expect([left, lost, after]).toEqual([0, 1, 2]);
    expect(closed?.unsentFrom).toBe(lost);
  });

  it("a message whose packet a controller's onPacketSent threw for (sealed, not sent) never left: the close's unsentFrom names it", () => {
    let broken = false;
    const flaky = breakingController('onPacketSent', () => broken);
    const p = makePair({ client: { congestion: onlyNth(2, flaky) } });
    p.sim.runFor(300);
    expect(p.conn.state).toBe('established');
    const sentBefore = p.client.stats().datagramsSent;
    broken = true;
    const id = p.conn.send(new Uint8Array(100));
    p.sim.wake(CLIENT);
    p.sim.runFor(100);
    const closed = closedEvent(p.client, p.clientEvents);
    expectFault(closed?.reason, 'congestion controller', 'onPacketSent', 'onPacketSent broke');
    expect(closed?.unsentFrom).toBe(id);
    // What left was the CLOSE alone: the packet of the message was sealed, then dropped.
    expect(p.client.stats().datagramsSent - sentBefore).toBe(1);
  });

  it("a packet a controller's onPacketSent threw for is not counted in the connection's packetsSent and bytesSent (it never reached the socket): they match what the endpoint sent", () => {
    let broken = false;
    const p = makePair({ client: { congestion: onlyNth(2, breakingController('onPacketSent', () => broken)) } });
    p.sim.runFor(300);
    expect(p.conn.state).toBe('established');
    const endpointBefore = p.client.stats();
    const connBefore = p.conn.stats();
    broken = true;
    p.conn.send(new Uint8Array(100));
    p.sim.wake(CLIENT);
    p.sim.runFor(100);
    expectFault(closedEvent(p.client, p.clientEvents)?.reason, 'congestion controller', 'onPacketSent', 'onPacketSent broke');
    const endpointAfter = p.client.stats();
    const connAfter = p.conn.stats();
    // The CLOSE alone, on both counts.
    expect(endpointAfter.datagramsSent - endpointBefore.datagramsSent).toBe(1);
    expect([connAfter.packetsSent - connBefore.packetsSent, connAfter.bytesSent - connBefore.bytesSent]).toEqual([1, endpointAfter.bytesSent - endpointBefore.bytesSent]);
  });

  it("a path MTU probe (no message in it) whose sealing throws right after a message's first packet left: that message stays sent (unsentFrom past it)", () => {
    const sim = new SimNetwork({ seed: 1, defaultLink: { delayMs: 35, jitterMs: 5 } });
    let seals = -1;
    // Armed below: the first seal after it (the message's first, full packet) works, the next one (the probe it made due) throws.
    const p = makePair({ client: { crypto: breakingKeys('client-crypto', sim, 'sealInto', () => seals >= 0 && ++seals > 1) } });
    p.sim.runFor(300);
    expect(p.conn.stats().mtuProbesSent).toBe(0);
    const id = p.conn.send(new Uint8Array(5000).fill(1));
    seals = 0;
    p.sim.wake(CLIENT);
    p.sim.runFor(300);
    const closed = closedEvent(p.client, p.clientEvents);
    expectFault(closed?.reason, 'crypto provider', 'sealInto', 'seal broke');
    // Its first chunk left (a full packet): sent, though the rest never went.
    expect(closed?.unsentFrom).toBe(id + 1);
  });

  it("a controller that destroys its own connection from onPacketSent: the packet it was told of still leaves, so its message is reported sent (unsentFrom past it)", () => {
    const { closing, destroyNext } = destroyingFromOnPacketSent();
    const p = makePair({ client: { congestion: onlyNth(2, closing) } });
    p.sim.runFor(300);
    expect(p.conn.state).toBe('established');
    const id = p.conn.send(new Uint8Array(100).fill(7));
    // The application's controller ends the connection as it hears of the packet carrying the message (sealed, and sent after).
    destroyNext(() => p.conn.destroy(p.sim.now, 1, 'controller gave up'));
    p.sim.wake(CLIENT);
    p.sim.runFor(300);
    const closed = closedEvent(p.client, p.clientEvents);
    expect(closed?.reason.message).toBe('controller gave up');
    // The message's packet left (the server read it): reported sent, not unsent.
    expect(messagesOf(p.serverEvents).length).toBe(1);
    expect(closed?.unsentFrom).toBe(id + 1);
  });

  it("a controller that destroys its own connection from onPacketSent: nothing is left tracked (no packet in flight, no bytes), no timer but the drain's, and the drain ends with nothing thrown", () => {
    const { closing, destroyNext } = destroyingFromOnPacketSent();
    const p = makePair({ client: { congestion: onlyNth(2, closing) } });
    p.sim.runFor(300);
    expect(p.conn.state).toBe('established');
    // Several packets' worth, so more than one would be in flight had the connection lived.
    p.conn.send(new Uint8Array(5000).fill(7));
    destroyNext(() => p.conn.destroy(p.sim.now, 1, 'controller gave up'));
    p.sim.wake(CLIENT);
    p.sim.runFor(1);
    expect(p.conn.state).toBe('draining');
    // The packet it was told of left after the close forgot what was in flight: it is not tracked, nor its bytes.
    expect([...p.conn.recovery.packets()].length).toBe(0);
    expect([p.conn.recovery.bytesInFlight, p.conn.stats().bytesInFlight]).toEqual([0, 0]);
    // No loss or probe timer for it: the drain's end is the only deadline.
    expect(p.conn.nextTimeout()).toBe(p.conn.closing?.drainUntil);
    const sent = p.client.stats().datagramsSent;
    expect(() => p.sim.runFor(5000)).not.toThrow();
    expect(p.conn.state).toBe('closed');
    // Nothing went after the CLOSE (no probe of the forgotten packet).
    expect(p.client.stats().datagramsSent).toBe(sent);
  });

  it("a provider whose key throws when a key update disposes of the old one: the CLOSE is sealed with the keys its key phase names, so the peer opens it", () => {
    const sim = new SimNetwork({ seed: 1, defaultLink: { delayMs: 35, jitterMs: 5 } });
    const base = deterministicCrypto(defaultCryptoProvider, sim.random('client-crypto'));
    const crypto: CryptoProvider = {
      ...base,
      aeadKey(key: Uint8Array): AeadKey {
        const k = base.aeadKey(key);
        return {
          sealInto: (nonce, ad, plaintext, out) => k.sealInto(nonce, ad, plaintext, out),
          openInto: (nonce, ad, ciphertext, out) => k.openInto(nonce, ad, ciphertext, out),
          dispose() {
            throw new Error('dispose broke');
          },
        };
      },
    };
    const p = makePair({ client: { crypto, keyUpdateAfterPackets: 32 } });
    p.sim.runFor(300);
    sendPastKeyUpdates(p);
    expectFault(closedReason(p.clientEvents, p.conn.localCid), 'crypto provider', 'dispose', 'dispose broke');
    expectPeerToldOfProviderFault(p, 'dispose');
  });

  it("a provider that throws deriving the next send keys at a key update: the CLOSE is sealed with the keys that still work, and the peer hears it", () => {
    const sim = new SimNetwork({ seed: 1, defaultLink: { delayMs: 35, jitterMs: 5 } });
    let broken = false;
    const { crypto, threw } = hmacBreaking('client-crypto', sim, () => broken);
    const p = makePair({ client: { crypto, keyUpdateAfterPackets: 32 } });
    p.sim.runFor(300);
    expect(p.conn.state).toBe('established');
    // Past the handshake only a key update asks the client's provider for an HMAC.
    broken = true;
    sendPastKeyUpdates(p);
    expect(p.conn.stats().keyUpdates).toBe(0);
    expectFault(closedReason(p.clientEvents, p.conn.localCid), 'crypto provider', 'hmacSha256', 'hmac broke');
    // Tried once: the goodbye did not try again.
    expect(threw()).toBe(1);
    expectPeerToldOfProviderFault(p, 'hmacSha256');
  });

  it("a provider whose new keys throw sealing the first packet after a key update (their derivation worked): the CLOSE is sealed with the previous keys, which the peer still reads, and it hears it", () => {
    const sim = new SimNetwork({ seed: 1, defaultLink: { delayMs: 35, jitterMs: 5 } });
    // Keys made once armed (past the handshake: only a key update makes a send key) throw as they seal.
    let armed = false;
    const { crypto, threw } = newKeysBreaking('client-crypto', sim, () => armed);
    const p = makePair({ client: { crypto, keyUpdateAfterPackets: 32 } });
    p.sim.runFor(300);
    expect(p.conn.state).toBe('established');
    armed = true;
    sendPastKeyUpdates(p);
    expectFault(closedReason(p.clientEvents, p.conn.localCid), 'crypto provider', 'sealInto', 'new keys broke');
    // The update never reached the wire: the keys it made sealed nothing, and were tried once.
    expect([threw(), p.conn.stats().keyUpdates]).toEqual([1, 0]);
    expectPeerToldOfProviderFault(p, 'sealInto');
  });

  it("a provider whose new keys throw sealing the first packet after a key update, that packet being the CLOSE itself (destroy() right after the update began): the CLOSE goes again with the previous keys, and the peer hears it", () => {
    const sim = new SimNetwork({ seed: 1, defaultLink: { delayMs: 35, jitterMs: 5 } });
    let armed = false;
    const { crypto, threw } = newKeysBreaking('client-crypto', sim, () => armed);
    const p = makePair({ client: { crypto, keyUpdateAfterPackets: 32 } });
    p.sim.runFor(300);
    expect(p.conn.state).toBe('established');
    armed = true;
    // One message at a time until the update begins: the keys it made have sealed nothing yet (any seal of theirs throws).
    sendOneByOne(p, () => p.conn.stats().keyUpdates > 0, 200);
    expect([p.conn.state, p.conn.stats().keyUpdates, threw()]).toEqual(['established', 1, 0]);
    sayGoodbye(p);
    // The new keys were tried once, on the CLOSE; the previous keys sealed it again.
    expect([threw(), p.conn.stats().keyUpdates]).toEqual([1, 0]);
    expectGoodbyeHeard(p);
  });

  it("the CLOSE sealed again after such a fault asks the keys' counters without an object (counters() is not called for the goodbye)", () => {
    const sim = new SimNetwork({ seed: 1, defaultLink: { delayMs: 35, jitterMs: 5 } });
    let armed = false;
    const { crypto, threw } = newKeysBreaking('client-crypto', sim, () => armed);
    const p = makePair({ client: { crypto, keyUpdateAfterPackets: 32 } });
    p.sim.runFor(300);
    armed = true;
    sendOneByOne(p, () => p.conn.stats().keyUpdates > 0, 200);
    expect([p.conn.state, p.conn.stats().keyUpdates, threw()]).toEqual(['established', 1, 0]);
    const protection = p.conn.protection as PacketProtection;
    let asked = 0;
    const counters = protection.counters.bind(protection);
    protection.counters = () => (asked++, counters());
    sayGoodbye(p);
    // Sealed twice (the new keys threw on it), heard, and no counters object made for it.
    expect(threw()).toBe(1);
    expectGoodbyeHeard(p);
    expect(asked).toBe(0);
  });

  it("a provider that throws deriving the next send keys at a key update the CLOSE itself reached (the 32nd packet): the CLOSE goes again with the keys that sealed it, and the peer hears it", () => {
    const sim = new SimNetwork({ seed: 1, defaultLink: { delayMs: 35, jitterMs: 5 } });
    let broken = false;
    const { crypto, threw } = hmacBreaking('client-crypto', sim, () => broken);
    const p = makePair({ client: { crypto, keyUpdateAfterPackets: 32 } });
    p.sim.runFor(300);
    expect(p.conn.state).toBe('established');
    // One message at a time (one packet each) until the next packet sealed is the one that starts the update.
    sendOneByOne(p, () => (p.conn.protection?.counters().sealed ?? 0) >= 31, 100);
    expect([p.conn.state, p.conn.protection?.counters().sealed, p.conn.stats().keyUpdates]).toEqual(['established', 31, 0]);
    // Past the handshake only a key update asks the client's provider for an HMAC.
    broken = true;
    sayGoodbye(p);
    // The update was tried once, as the CLOSE was sealed; not again for the CLOSE sent again.
    expect([threw(), p.conn.stats().keyUpdates]).toEqual([1, 0]);
    expectGoodbyeHeard(p);
  });

  it("a provider whose key throws as a key update's replaced send keys are wiped, that being at the CLOSE (the new keys' first packet, destroy() right after the update began): the CLOSE goes again with the new keys, and the peer hears it", () => {
    const sim = new SimNetwork({ seed: 1, defaultLink: { delayMs: 35, jitterMs: 5 } });
    const base = deterministicCrypto(defaultCryptoProvider, sim.random('client-crypto'));
    let disposed = 0;
    const crypto: CryptoProvider = {
      ...base,
      aeadKey(key: Uint8Array): AeadKey {
        const k = base.aeadKey(key);
        return {
          sealInto: (nonce, ad, plaintext, out) => k.sealInto(nonce, ad, plaintext, out),
          openInto: (nonce, ad, ciphertext, out) => k.openInto(nonce, ad, ciphertext, out),
          dispose() {
            disposed++;
            throw new Error('dispose broke');
          },
        };
      },
    };
    const p = makePair({ client: { crypto, keyUpdateAfterPackets: 32 } });
    p.sim.runFor(300);
    sendOneByOne(p, () => p.conn.stats().keyUpdates > 0, 200);
    // The update began, and the keys it replaced are not wiped yet: nothing was sealed with the new ones.
    expect([p.conn.state, p.conn.stats().keyUpdates, disposed]).toEqual(['established', 1, 0]);
    sayGoodbye(p);
    expect([disposed, p.conn.stats().keyUpdates]).toEqual([1, 1]);
    expectGoodbyeHeard(p);
  });

  it("a provider whose new keys throw sealing the first packet of a key update the PEER began (the client follows the server's): the CLOSE is sealed with the previous keys, which the server still reads, and it hears it", () => {
    const sim = new SimNetwork({ seed: 1, defaultLink: { delayMs: 35, jitterMs: 5 } });
    // Keys made once armed (the server's next phase and the client's, derived as the client follows) throw as they seal.
    let armed = false;
    const { crypto, threw } = newKeysBreaking('client-crypto', sim, () => armed);
    const p = makePair({ client: { crypto }, server: { keyUpdateAfterPackets: 32 } });
    p.sim.runFor(300);
    const served = p.serverConn();
    expect([p.conn.state, served?.state]).toEqual(['established', 'established']);
    armed = true;
    for (let i = 0; i < 100; i++) served?.send(new Uint8Array(1000).fill(i));
    p.sim.wake(SERVER);
    p.sim.runFor(3000);
    expectFault(closedReason(p.clientEvents, p.conn.localCid), 'crypto provider', 'sealInto', 'new keys broke');
    // The server's update reached the client (which followed it), the client's never reached the wire.
    expect([threw(), p.conn.stats().keyUpdates, served?.stats().keyUpdates]).toEqual([1, 0, 1]);
    expectPeerToldOfProviderFault(p, 'sealInto');
  });

  it("a crypto provider whose key throws when opening: the server's connection ends, and its CLOSE reaches the client", () => {
    const sim = new SimNetwork({ seed: 1, defaultLink: { delayMs: 35, jitterMs: 5 } });
    let broken = false;
    let opens = 0;
    const p = makePair({ server: { crypto: breakingKeys('server-crypto', sim, 'openInto', () => broken && ++opens > 0) } });
    p.sim.runFor(300);
    broken = true;
    p.conn.send(new Uint8Array(100));
    p.sim.wake(CLIENT);
    p.sim.runFor(3000);
    expectFault(closedReason(p.serverEvents), 'crypto provider', 'openInto', 'open broke');
    const client = closedReason(p.clientEvents);
    expect([client?.kind, client?.message]).toEqual(['peer', 'the crypto provider threw in openInto']);
  });

  it("a provider that throws in exportKeyingMaterial: the caller gets the PluginFault, and the connection ends for it, the peer told", () => {
    const sim = new SimNetwork({ seed: 1, defaultLink: { delayMs: 35, jitterMs: 5 } });
    const base = deterministicCrypto(defaultCryptoProvider, sim.random('client-crypto'));
    let broken = false;
    const crypto: CryptoProvider = {
      ...base,
      sha256(...parts) {
        if (broken) throw new Error('hash broke');
        return base.sha256(...parts);
      },
    };
    const p = makePair({ client: { crypto } });
    p.sim.runFor(300);
    expect(p.conn.state).toBe('established');
    broken = true;
    expect(() => p.conn.exportKeyingMaterial('login', new Uint8Array(0), 32, p.sim.now)).toThrow(PluginFault);
    broken = false;
    expectFault(p.conn.closeReason, 'crypto provider', 'sha256', 'hash broke');
    expect(p.conn.state).toBe('draining');
    p.sim.wake(CLIENT);
    p.sim.runFor(3000);
    expectPeerToldOfProviderFault(p, 'sha256');
  });

  it("a provider that throws while the server answers a hello: the INITIAL is dropped and counted, nothing escapes", () => {
    const sim = new SimNetwork({ seed: 1 });
    const base = deterministicCrypto(defaultCryptoProvider, sim.random('server-crypto'));
    let broken = false;
    const dh: CryptoProvider['dh'] = (priv, pub) => {
      if (broken) throw new Error('dh broke');
      return base.dh(priv, pub);
    };
    const p = makePair({ server: { crypto: { ...base, dh } } });
    broken = true;
    p.sim.runFor(2000);
    expect(p.server.stats().dropped.pluginFault).toBeGreaterThan(0);
    expect(firstOf(p.serverEvents, 'incoming')).toBeUndefined();
    expect(firstOf(p.clientEvents, 'connected')).toBeUndefined();
  });

  it("a hello the server's provider throws on at maxConnections ends no drain: the room is made only for a connection that is made", () => {
    const sim = new SimNetwork({ seed: 1, defaultLink: { delayMs: 35, jitterMs: 5 } });
    const base = deterministicCrypto(defaultCryptoProvider, sim.random('server-crypto'));
    let broken = false;
    const dh: CryptoProvider['dh'] = (priv, pub) => {
      if (broken) throw new Error('dh broke');
      return base.dh(priv, pub);
    };
    const p = makePair({ server: { crypto: { ...base, dh }, maxConnections: 1 } });
    p.sim.runFor(300);
    const served = p.serverConn();
    expect(served?.state).toBe('established');
    // The server ends its one connection: it drains, and the server is full but for that drain.
    served?.destroy(p.sim.now, 0, 'bye');
    p.sim.wake(SERVER);
    p.sim.runFor(1);
    expect(served?.state).toBe('draining');
    broken = true;
    const other = new Endpoint({ random: p.sim.random('other'), crypto: deterministicCrypto(defaultCryptoProvider, p.sim.random('other-crypto')) });
    p.sim.addNode('10.0.0.3:5000', other);
    const attempt = other.connect(p.sim.now, SERVER);
    p.sim.wake('10.0.0.3:5000');
    // Until the newcomer's hello (with its cookie) reaches the server and its answer throws.
    while (p.server.stats().dropped.pluginFault === 0 && p.sim.now < 1000) p.sim.runFor(5);
    expect(p.server.stats().dropped.pluginFault).toBe(1);
    // The drain goes on: no connection was made to take its place.
    expect(served?.state).toBe('draining');
    expect(p.server.connectionCount).toBe(1);
    expect(attempt.state).toBe('handshake');
  });

  it("a hello the server's provider throws on still costs its host a handshake of the rate: a provider that throws on what a client sends cannot run key exchanges past it", () => {
    const sim = new SimNetwork({ seed: 1 });
    const base = deterministicCrypto(defaultCryptoProvider, sim.random('server-crypto'));
    let exchanges = 0;
    const dh: CryptoProvider['dh'] = () => {
      exchanges++;
      throw new Error('dh broke');
    };
    const p = makePair({ server: { crypto: { ...base, dh }, handshakesPerHostPerSecond: 1, handshakeBurstPerHost: 2 } });
    p.sim.runFor(1000);
    const dropped = p.server.stats().dropped;
    // The INITIAL and its copy, each charged: the third hello is refused before any key exchange.
    expect([dropped.pluginFault, exchanges]).toEqual([2, 2]);
    expect(dropped.hostRate).toBeGreaterThan(0);
    expect(closedReason(p.clientEvents)?.kind).toBe('refused');
  });
});

describe("a controller that ends its own connection (destroy()) from one of its calls", () => {
  /**
   * The client sends 200 messages of 1000 bytes over a link that loses, delays and reorders (so ACKs declare losses,
   * and some late ones spurious), with its controller armed to call destroy() (or `end`) from `method`, until 100 ms
   * after the connection ended. Returns the pair, the calls the controller got after, what was thrown, and what loss detection
   * knew as the connection ended.
   */
  function destroyMidTransfer(
    method: ControllerMethod,
    end: (p: Pair) => void = (p) => p.conn.destroy(p.sim.now, 1, 'controller gave up'),
  ): {
    readonly p: Pair;
    readonly callsAfter: readonly string[];
    readonly thrown: unknown;
    readonly at: { readonly largestAcked: number; readonly srtt: number; readonly firstSentAfter: string };
  } {
    const { closing, destroyNext, callsAfter } = destroyingFrom(method);
    const p = makePair({ client: { congestion: onlyNth(2, closing) }, link: { delayMs: 35, jitterMs: 5, loss: 0.05, reorder: 0.2, reorderHoldMs: 60 } });
    p.sim.runFor(300);
    expect(p.conn.state).toBe('established');
    const at = { largestAcked: Number.NaN, srtt: Number.NaN, firstSentAfter: 'none' };
    destroyNext(() => {
      end(p);
      // What loss detection knew as the connection ended: an ACK under way must not go on recording.
      at.largestAcked = p.conn.recovery.largestAcked;
      at.srtt = p.conn.rtt.srtt;
      at.firstSentAfter = 'pending';
    });
    // The first datagram the client sends once its controller ended the connection (in the poll under way, if that is where).
    const poll = p.client.pollTransmit.bind(p.client);
    p.client.pollTransmit = (now) => {
      const t = poll(now);
      if (t !== undefined && at.firstSentAfter === 'pending') at.firstSentAfter = p.conn.closing?.firstSent === true ? 'its CLOSE' : 'another packet';
      return t;
    };
    for (let i = 0; i < 200; i++) p.conn.send(new Uint8Array(1000).fill(i));
    p.sim.wake(CLIENT);
    let thrown: unknown;
    try {
      for (let t = 0; t < 3000 && p.conn.state === 'established'; t += 5) p.sim.runFor(5);
      // Two one-way trips (35 ± 5 ms) for the CLOSE: well within the drain (three probe timeouts).
      p.sim.runFor(100);
    } catch (e) {
      thrown = e;
    }
    return { p, callsAfter, thrown, at };
  }

  /**
   * What every way a controller ends its connection leaves: no throw, the controller called no more, the ACK under
   * way recording nothing past it, the next datagram its CLOSE, nothing reported after `closed`, nothing tracked,
   * and the peer told.
   */
  function expectEndedByController({ p, callsAfter, thrown, at }: ReturnType<typeof destroyMidTransfer>): void {
    expect(thrown).toBeUndefined();
    expect(p.conn.state).toBe('draining');
    // A stats() after the end asks it nothing either (it asked its window): the last window it gave stands.
    const { cwndBytes } = p.conn.stats();
    expect(cwndBytes).toBeGreaterThan(0);
    expect(cwndBytes).toBeLessThan(Number.MAX_SAFE_INTEGER);
    expect(callsAfter).toEqual([]);
    expect([p.conn.recovery.largestAcked, p.conn.rtt.srtt]).toEqual([at.largestAcked, at.srtt]);
    // Nothing else was built once it ended: the next datagram out was its goodbye.
    expect(at.firstSentAfter).toBe('its CLOSE');
    const closed = closedEvent(p.client, p.clientEvents);
    expect(closed?.reason.message).toBe('controller gave up');
    // Past the close the Node driver has let go: nothing may be reported after it.
    expect(eventsAfterClosed(p.clientEvents)).toEqual([]);
    expect([[...p.conn.recovery.packets()].length, p.conn.recovery.bytesInFlight]).toEqual([0, 0]);
    // Within the 100 ms after: the CLOSE left with the poll that ended the connection (a one-way trip is 35 ± 5 ms).
    const server = closedReason(p.serverEvents);
    expect([server?.kind, server?.message]).toEqual(['peer', 'controller gave up']);
  }

  it("from onLoss, mid-ACK: it is not called again (no onAck for that ACK, whose flight the close forgot), the ACK's acknowledgements are reported before the close, nothing is left tracked, and the peer hears the goodbye", () => {
    const ended = destroyMidTransfer('onLoss');
    expectEndedByController(ended);
    const { p } = ended;
    // Acknowledged messages were reported (some before the loss), none after the close.
    expect(p.clientEvents.some((r) => r.event.type === 'acked')).toBe(true);
    expect(p.conn.recovery.lossDeadline()).toBe(Number.POSITIVE_INFINITY);
    expect(p.conn.nextTimeout()).toBe(p.conn.closing?.drainUntil);
    expect(() => p.sim.runFor(5000)).not.toThrow();
    expect(p.conn.state).toBe('closed');
  });

  it.each(['onAck', 'onSpuriousLoss', 'window', 'pacingRate'] as const)("from %s: it is called no more, the ACK under way (if any) records nothing past it, nothing is reported after the close, and the peer hears the goodbye at once", (method) => {
    expectEndedByController(destroyMidTransfer(method));
  });

  it("an endpoint aborted from onLoss, mid-ACK (abortAll(): no goodbye): the ACK's acknowledgements are still reported before the close", () => {
    const { p, callsAfter, thrown } = destroyMidTransfer('onLoss', (pair) => pair.client.abortAll());
    expect(thrown).toBeUndefined();
    expect([p.conn.state, callsAfter]).toEqual(['closed', []]);
    const closed = closedEvent(p.client, p.clientEvents);
    expect([closed?.reason.kind, closed?.reason.message]).toEqual(['shutdown', 'endpoint closed']);
    expect(p.clientEvents.some((r) => r.event.type === 'acked')).toBe(true);
    // Past `closed` the Node driver has let go: an `acked` after it would reject a send the peer acknowledged.
    expect(eventsAfterClosed(p.clientEvents)).toEqual([]);
  });

  it("from pacingRate() asked as pacing holds the sender back (the poll's second ask, in block()): the CLOSE leaves from that very poll", () => {
    // pacingRate() calls in the endpoint poll under way: the first is the pacer's refill, a second only its block().
    let asks = 0;
    let destroyIn: (() => void) | undefined;
    // An open window and a slow rate (50 bytes/ms): 1000-byte messages wait for pacing, never for the window.
    const slow: CongestionControllerFactory = () => ({
      name: 'slow',
      window: () => 1 << 30,
      pacingRate: () => {
        if (++asks === 2 && destroyIn !== undefined) {
          const d = destroyIn;
          destroyIn = undefined;
          d();
        }
        return 50;
      },
      onPacketSent: () => undefined,
      onAck: () => undefined,
      onLoss: () => undefined,
      onSpuriousLoss: () => undefined,
    });
    const p = makePair({ client: { congestion: onlyNth(2, slow) } });
    p.sim.runFor(300);
    expect(p.conn.state).toBe('established');
    let destroyedInPoll = false;
    let outcome = 'not destroyed';
    destroyIn = () => {
      p.conn.destroy(p.sim.now, 1, 'controller gave up');
      destroyedInPoll = true;
    };
    const poll = p.client.pollTransmit.bind(p.client);
    p.client.pollTransmit = (now) => {
      asks = 0;
      destroyedInPoll = false;
      const t = poll(now);
      if (destroyedInPoll) outcome = t === undefined ? 'nothing' : p.conn.closing?.firstSent === true ? 'its CLOSE' : 'another packet';
      return t;
    };
    for (let i = 0; i < 20; i++) p.conn.send(new Uint8Array(1000).fill(i));
    p.sim.wake(CLIENT);
    p.sim.runFor(100);
    // A poll that returns nothing is not polled again for the wake-up destroy() gave during it: the CLOSE would wait for the peer's next packet.
    expect([p.conn.state, outcome]).toEqual(['draining', 'its CLOSE']);
    const heard = closedReason(p.serverEvents);
    expect([heard?.kind, heard?.message]).toEqual(['peer', 'controller gave up']);
  });

  it("from window() in the poll that owes the peer an ACK (a message just came): no packet of that ACK is built, the CLOSE goes instead", () => {
    const { closing, destroyNext, callsAfter } = destroyingFrom('window');
    const p = makePair({ client: { congestion: onlyNth(2, closing) } });
    p.sim.runFor(300);
    const server = p.serverConn();
    expect([p.conn.state, server?.state]).toEqual(['established', 'established']);
    p.sim.runFor(500);
    let nextSent = 'none';
    destroyNext(() => {
      // A lone message after a quiet spell is acknowledged at once (README: maxAckDelayMs).
      expect(p.conn.acks.isDue(p.sim.now)).toBe(true);
      p.conn.destroy(p.sim.now, 1, 'controller gave up');
      nextSent = 'pending';
    });
    const poll = p.client.pollTransmit.bind(p.client);
    p.client.pollTransmit = (now) => {
      const t = poll(now);
      if (t !== undefined && nextSent === 'pending') nextSent = p.conn.closing?.firstSent === true ? 'its CLOSE' : 'another packet';
      return t;
    };
    server?.send(new Uint8Array(100).fill(1));
    p.sim.wake(SERVER);
    p.sim.runFor(100);
    expect([p.conn.state, nextSent, callsAfter]).toEqual(['draining', 'its CLOSE', []]);
    expect(messagesOf(p.clientEvents).length + (p.conn.hasMessage() ? 1 : 0)).toBe(1);
    const heard = closedReason(p.serverEvents);
    expect([heard?.kind, heard?.message]).toEqual(['peer', 'controller gave up']);
  });
});

describe("the providers rudpx ships are its own code: not guarded, so a bug of rudpx's is not hidden as a PluginFault", () => {
  it('each is used as it is; a copy of one (an application\'s) is guarded', () => {
    for (const [, provider] of packetCipherProviders) expect(guardProvider(provider)).toBe(provider);
    expect(guardProvider(defaultCryptoProvider)).toBe(defaultCryptoProvider);
    const copy = { ...nodeCryptoProvider };
    expect(guardProvider(copy)).not.toBe(copy);
    expect(() => guardProvider(copy).aeadKey(new Uint8Array(3))).toThrow(PluginFault);
  });

  it("a key of rudpx's provider misused by rudpx (an output too short) throws what it threw; an application's key, a PluginFault", () => {
    const secret = new Uint8Array(32).fill(7);
    const seal = (crypto: CryptoProvider): unknown => {
      try {
        new PacketKey(crypto, secret).sealInto(new Uint8Array(4), 1, new Uint8Array(100), new Uint8Array(8));
      } catch (e) {
        return e;
      }
      return undefined;
    };
    const own = seal(nodeCryptoProvider);
    expect(own).toBeInstanceOf(Error);
    expect(own).not.toBeInstanceOf(PluginFault);
    expect(seal({ ...nodeCryptoProvider })).toBeInstanceOf(PluginFault);
  });
});

describe('a crypto provider that ends its own connection (destroy()) from its seal', () => {
  it('the goodbye still goes out at once: the peer hears the close within a round trip, not at its idle timeout', () => {
    const sim = new SimNetwork({ seed: 1 });
    const base = deterministicCrypto(defaultCryptoProvider, sim.random('client-crypto'));
    let destroyIn: (() => void) | undefined;
    let seals = 0;
    const crypto: CryptoProvider = {
      ...base,
      aeadKey(key: Uint8Array): AeadKey {
        const k = base.aeadKey(key);
        return {
          sealInto(nonce, ad, plaintext, out) {
            seals++;
            const d = destroyIn;
            destroyIn = undefined;
            d?.();
            k.sealInto(nonce, ad, plaintext, out);
          },
          openInto: (nonce, ad, ciphertext, out) => k.openInto(nonce, ad, ciphertext, out),
        };
      },
    };
    const p = makePair({ client: { crypto }, link: { delayMs: 20 } });
    p.sim.runFor(300);
    expect(p.conn.state).toBe('established');
    const sealsBefore = seals;
    destroyIn = () => p.conn.destroy(p.sim.now, 7, 'provider gave up');
    p.conn.send(new Uint8Array(100).fill(1));
    p.sim.wake(CLIENT);
    const at = p.sim.now;
    p.sim.runFor(200);
    expect(seals).toBeGreaterThan(sealsBefore);
    expect(destroyIn).toBeUndefined();
    const local = closedReason(p.clientEvents);
    expect([local?.kind, local?.code, local?.message]).toEqual(['local', 7, 'provider gave up']);
    const heard = p.serverEvents.find((r) => r.event.type === 'closed');
    expect(heard?.event.type === 'closed' && [heard.event.reason.kind, heard.event.reason.code, heard.event.reason.message]).toEqual(['peer', 7, 'provider gave up']);
    // One way is 20 ms: the CLOSE left with the poll that destroyed, or the next, not at a timer's turn.
    expect((heard?.at ?? Number.POSITIVE_INFINITY) - at).toBeLessThan(100);
  });
});
