/**
 * A server whose authenticated ACCEPT announces a receive window no message fits (below
 * MIN_RECEIVE_WINDOW, or past MAX_RECEIVE_WINDOW, 2^40) ends the client's attempt at once as a protocol
 * violation, its close saying so. Before, the ACCEPT was dropped as malformed and the client reported
 * "no answer from … within 5000 ms" at its handshake timeout, for a server that had answered. Only an
 * authenticated ACCEPT may end the attempt: one whose window in clear was changed on the path does not
 * match the sealed copy and is still dropped, and the genuine ACCEPT behind it completes the handshake.
 * The client tells the server why in a sealed CLOSE (the keys are in place once the hello authenticated):
 * without it, the server's connection idled out. A plaintext ACCEPT proves nothing: dropped, the attempt
 * times out, its "no answer" naming what was dropped.
 */
import { describe, expect, it } from 'vitest';
import { PROTOCOL_VIOLATION } from '../src/core/connection/close.js';
import { MIN_RECEIVE_WINDOW } from '../src/core/credit.js';
import type { Endpoint } from '../src/core/endpoint.js';
import { MAX_RECEIVE_WINDOW } from '../src/wire/frame.js';
import { MAX_DATAGRAM, PacketType, decodeAccept, encodeAccept, parseHeader } from '../src/wire/packet.js';
import { CLIENT, SERVER, type Pair, firstOf, makePair } from './helpers/pair.js';

const HANDSHAKE_TIMEOUT_MS = 5_000;

/** A pair whose server announces `receiveWindow`, which its options could not take (a broken server); both in clear if `plaintext`. */
function brokenServer(seed: number, receiveWindow: number, plaintext = false): Pair {
  // A budget past the window, so that the receive pool's largest grant does not cut it to size.
  const p = makePair({ seed, client: { handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS, plaintext }, server: { maxReceiveBufferBytes: 2 ** 44, plaintext } });
  Object.defineProperty(p.server, 'config', { value: { ...p.server.config, receiveWindow } });
  return p;
}

/** The times at which `client` receives an ACCEPT, from now on. */
function acceptTimes(client: Endpoint): number[] {
  const times: number[] = [];
  const handle = client.handleDatagram.bind(client);
  client.handleDatagram = (now, data, from) => {
    const h = parseHeader(data);
    if (typeof h !== 'string' && h.type === PacketType.Accept) times.push(now);
    handle(now, data, from);
  };
  return times;
}

/** Puts a copy of each ACCEPT the client receives, its window in clear replaced by `receiveWindow`, in front of it. */
function forgeWindowInClear(client: Endpoint, receiveWindow: number): { forged: number } {
  const count = { forged: 0 };
  const handle = client.handleDatagram.bind(client);
  client.handleDatagram = (now, data, from) => {
    const h = parseHeader(data);
    const a = typeof h !== 'string' && h.type === PacketType.Accept ? decodeAccept(h.payload) : undefined;
    if (typeof h !== 'string' && a !== undefined) {
      handle(now, encodeAccept(new Uint8Array(MAX_DATAGRAM), h.dcid, { ...a, params: { receiveWindow, initialLimit: a.params.initialLimit } }).slice(), from);
      count.forged++;
    }
    handle(now, data, from);
  };
  return count;
}

describe("a server's authenticated ACCEPT with an invalid receive window", () => {
  it.each([
    ['below MIN_RECEIVE_WINDOW', MIN_RECEIVE_WINDOW - 1, `${MIN_RECEIVE_WINDOW - 1} bytes`],
    ['past MAX_RECEIVE_WINDOW (2^40)', MAX_RECEIVE_WINDOW + 1, `${MAX_RECEIVE_WINDOW + 1} bytes`],
  ])('%s ends the attempt at once as a protocol violation, naming the cause, not as a timeout', (_name, window, told) => {
    const p = brokenServer(3, window);
    const accepts = acceptTimes(p.client);
    p.sim.runFor(2 * HANDSHAKE_TIMEOUT_MS);
    expect(firstOf(p.clientEvents, 'connected')).toBeUndefined();
    const closed = firstOf(p.clientEvents, 'closed');
    expect(closed?.event.type === 'closed' ? closed.event.reason : undefined).toEqual({
      kind: 'refused',
      code: PROTOCOL_VIOLATION,
      message: `protocol violation: the server at ${SERVER} announced an invalid receive window: ${told} (a window is ${MIN_RECEIVE_WINDOW} bytes to 2^40)`,
    });
    // When the ACCEPT came: a few round trips of 70 ms (cookie, then hello), not the handshake timeout.
    expect(closed?.at).toBeLessThan(1_000);
    // Acted on, not dropped as malformed (it was, with its copy). The ACCEPT's copy (handshake.ts sends two)
    // comes after the close and finds the connection draining, as after a completed handshake: no drop.
    // It was counted `unexpected` when the attempt ended without a CLOSE (the connection gone).
    expect(accepts.filter((t) => t > (closed?.at as number))).not.toHaveLength(0);
    expect(p.client.stats().droppedTotal).toBe(0);
  });

  it.each([MIN_RECEIVE_WINDOW - 1, MAX_RECEIVE_WINDOW + 1])("window %d: the server's connection is told why in a CLOSE sealed with the handshake's keys, not left to idle out", (window) => {
    const p = brokenServer(3, window);
    // A message queued before the handshake: it never leaves (the close discards it).
    p.conn.send(new Uint8Array(100).fill(7));
    p.sim.runFor(2 * HANDSHAKE_TIMEOUT_MS);
    const closed = firstOf(p.clientEvents, 'closed');
    const serverClosed = firstOf(p.serverEvents, 'closed');
    // With the client's own reason and code, one path delay (35 ms) after the client gave up. When nothing
    // was sent, the server's connection lived on until its idle timeout (30 s).
    expect(serverClosed?.event.type === 'closed' ? serverClosed.event.reason : undefined).toEqual({
      kind: 'peer',
      code: PROTOCOL_VIOLATION,
      message: closed?.event.type === 'closed' ? closed.event.reason.message : 'the client closed',
    });
    expect((serverClosed?.at as number) - (closed?.at as number)).toBeLessThan(100);
    expect(p.server.connectionCount).toBe(0);
    expect(p.server.stats().droppedTotal).toBe(0);
    expect(p.serverEvents.filter((r) => r.event.type === 'message')).toEqual([]);
  });

  it('changed in clear on the path, it is dropped as a forgery and the genuine ACCEPT behind it completes the handshake', () => {
    for (const window of [MIN_RECEIVE_WINDOW - 1, MAX_RECEIVE_WINDOW + 1, 2 ** 53 - 1]) {
      const p = makePair({ seed: 5, client: { handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS } });
      const attacker = forgeWindowInClear(p.client, window);
      p.sim.runFor(2_000);
      expect(attacker.forged, `window ${window}`).toBeGreaterThan(0);
      expect(firstOf(p.clientEvents, 'closed'), `window ${window}`).toBeUndefined();
      expect(firstOf(p.clientEvents, 'connected'), `window ${window}`).toBeDefined();
      expect(p.conn.state).toBe('established');
      // The first forgery fails to authenticate (`auth`); once connected, the rest are copies of an ACCEPT no longer awaited.
      expect(p.client.stats().dropped.auth, `window ${window}`).toBe(1);
    }
  });
});

describe("a server's plaintext ACCEPT with an invalid receive window", () => {
  it.each([
    ['below MIN_RECEIVE_WINDOW', MIN_RECEIVE_WINDOW - 1],
    ['past MAX_RECEIVE_WINDOW (2^40)', MAX_RECEIVE_WINDOW + 1],
  ])('%s is dropped (it proves nothing), and the attempt still times out, its "no answer" naming what was dropped', (_name, window) => {
    const p = brokenServer(3, window, true);
    p.sim.runFor(2 * HANDSHAKE_TIMEOUT_MS);
    expect(firstOf(p.clientEvents, 'connected')).toBeUndefined();
    const closed = firstOf(p.clientEvents, 'closed');
    // Before, the message stopped at "within 5000 ms", for a server that had answered.
    expect(closed?.event.type === 'closed' ? closed.event.reason : undefined).toEqual({
      kind: 'unreachable',
      code: 0,
      message: `no answer from ${SERVER} within ${HANDSHAKE_TIMEOUT_MS} ms; an unauthenticated ACCEPT was dropped for announcing an invalid receive window: ${window} bytes (a window is ${MIN_RECEIVE_WINDOW} bytes to 2^40)`,
      note: `an unauthenticated ACCEPT was dropped for announcing an invalid receive window: ${window} bytes (a window is ${MIN_RECEIVE_WINDOW} bytes to 2^40)`,
    });
    // Not trusted: the attempt ran to its timeout, every such ACCEPT dropped as malformed.
    expect(closed?.at).toBe(HANDSHAKE_TIMEOUT_MS);
    expect(p.client.stats().dropped.malformed).toBeGreaterThan(0);
  });

  it('a plaintext attempt that got no ACCEPT at all says "no answer" alone', () => {
    const p = makePair({ client: { handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS, plaintext: true }, server: { plaintext: true } });
    p.sim.setLink(SERVER, CLIENT, { loss: 1 });
    p.sim.runFor(2 * HANDSHAKE_TIMEOUT_MS);
    const closed = firstOf(p.clientEvents, 'closed');
    expect(closed?.event.type === 'closed' ? closed.event.reason.message : undefined).toBe(`no answer from ${SERVER} within ${HANDSHAKE_TIMEOUT_MS} ms`);
    expect(closed?.event.type === 'closed' ? 'note' in closed.event.reason : undefined).toBe(false);
  });
});
