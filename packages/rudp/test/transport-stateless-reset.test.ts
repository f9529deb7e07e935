/**
 * A server restarted under its clients (attack round 20, section 8), in the simulator: the new process,
 * holding the same identity key, answers the old connection's packets with a stateless reset, and the
 * client's connection ends at once (kind 'reset'), where it waited for its idle timeout. A restart with
 * another key (an ephemeral one) resets nothing: the client times out, as before. The rule's details,
 * endpoint by endpoint, are in unit/stateless-reset.test.ts, where its named mutants run.
 */
import { describe, expect, it } from 'vitest';
import { Endpoint } from '../src/core/endpoint.js';
import type { EndpointEvent } from '../src/core/events.js';
import { nodeCryptoProvider } from '../src/node/crypto-provider.js';
import { deterministicCrypto } from '../src/testing/deterministic-crypto.js';
import { fillRandomBytes } from '../src/testing/prng.js';
import { CLIENT, SERVER, firstOf, makePair, messagesOf } from './helpers/pair.js';

const identityOf = (byte: number) => {
  const pair = nodeCryptoProvider.keyPairFromPrivateKey(new Uint8Array(32).fill(byte));
  if (pair === undefined) throw new Error('no key pair');
  return pair;
};

/** A pair whose server has identity `key`, connected and past one message each way. */
function connected(key: number, seed = 1) {
  const p = makePair({ seed, link: { delayMs: 20 }, server: { identity: identityOf(key) } });
  p.onServerEvent = (e) => {
    if (e.type === 'message') e.connection.send(e.data);
  };
  p.sim.runFor(200);
  expect(p.conn.state).toBe('established');
  p.conn.send(new TextEncoder().encode('hello'));
  p.sim.wake(CLIENT);
  p.sim.runFor(200);
  expect(messagesOf(p.clientEvents).length).toBe(1);
  return p;
}

/** Kills the pair's server (no goodbye: SIGKILL) and puts a new process with identity `key` at its address. */
function restart(p: ReturnType<typeof makePair>, key: number): Endpoint {
  p.sim.removeNode(SERVER);
  const fresh = new Endpoint({ random: p.sim.random('restarted'), acceptIncoming: true, identity: identityOf(key), crypto: deterministicCrypto(nodeCryptoProvider, p.sim.random('restarted-crypto')) });
  p.sim.addNode(SERVER, fresh, { onActivity: () => void drainEvents(fresh) });
  return fresh;
}

function drainEvents(ep: Endpoint): EndpointEvent[] {
  const out: EndpointEvent[] = [];
  for (let e = ep.pollEvent(); e !== undefined; e = ep.pollEvent()) out.push(e);
  return out;
}

describe('stateless reset', () => {
  it("a server restarted with the same identity key resets the old connection at the client's next message: it ends within a round trip, kind 'reset'", () => {
    for (let seed = 1; seed <= 3; seed++) {
      const p = connected(1, seed);
      const fresh = restart(p, 1);
      const sentAt = p.sim.now;
      p.conn.send(new TextEncoder().encode('after the restart'));
      p.sim.wake(CLIENT);
      p.sim.runFor(1_000);
      const closed = firstOf(p.clientEvents, 'closed');
      expect(closed?.event.type === 'closed' && closed.event.reason).toEqual({
        kind: 'reset',
        code: 0,
        message: `the server at ${SERVER} no longer knows this connection (stateless reset): it was restarted, or lost the connection`,
      });
      // One round trip (40 ms) and the message's own pacing, not the 30 s idle timeout.
      expect((closed?.at ?? Infinity) - sentAt).toBeLessThan(100);
      expect(fresh.stats().statelessResetsSent).toBeGreaterThanOrEqual(1);
      expect(p.client.stats().statelessResetsReceived).toBeGreaterThanOrEqual(1);
      expect(fresh.connectionCount).toBe(0);
    }
  });

  it('an idle client learns it from its next keep-alive PING (the smallest packet it sends is answered)', () => {
    const p = connected(2);
    restart(p, 2);
    const at = p.sim.now;
    const sizes: number[] = [];
    const handle = p.sim.endpoint(SERVER) as Endpoint;
    const original = handle.handleDatagram.bind(handle);
    handle.handleDatagram = (now, data, from) => {
      sizes.push(data.length);
      original(now, data, from);
    };
    p.sim.runFor(p.conn.config.keepAliveMs + 1_000);
    const closed = firstOf(p.clientEvents, 'closed');
    expect(closed?.event.type === 'closed' && closed.event.reason.kind).toBe('reset');
    expect((closed?.at ?? Infinity) - at).toBeLessThan(p.conn.config.keepAliveMs + 100);
    expect(sizes.length).toBeGreaterThan(0);
  });

  it("a server restarted with another identity key (an ephemeral one) resets nothing: the client's token never matches, and it times out as before", () => {
    const p = connected(3);
    const fresh = restart(p, 4);
    p.conn.send(new TextEncoder().encode('after the restart'));
    p.sim.wake(CLIENT);
    p.sim.runFor(5_000);
    // The new process answered, with its own token for the id: not the client's.
    expect(fresh.stats().statelessResetsSent).toBeGreaterThan(0);
    expect(p.client.stats().statelessResetsReceived).toBe(0);
    expect(p.conn.state).toBe('established');
    p.sim.runFor(p.conn.config.idleTimeoutMs + 1_000);
    const closed = firstOf(p.clientEvents, 'closed');
    expect(closed?.event.type === 'closed' && closed.event.reason.kind).toBe('timeout');
  });

  it('random datagrams of a reset\'s shape, from the server\'s address, end nothing', () => {
    const p = connected(5);
    const random = p.sim.random('noise');
    for (let i = 0; i < 2_000; i++) {
      const d = fillRandomBytes(random, new Uint8Array(23 + (i % 30)));
      // A protected packet of our version, as a reset passes for.
      d[0] = 0x60 | (5 + (i & 1));
      p.client.handleDatagram(p.sim.now, d, SERVER);
    }
    p.sim.runFor(500);
    expect(p.conn.state).toBe('established');
    expect(p.client.stats().statelessResetsReceived).toBe(0);
    expect(firstOf(p.clientEvents, 'closed')).toBeUndefined();
  });
});
