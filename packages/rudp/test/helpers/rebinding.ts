/**
 * What the NAT-rebinding tests and the measurement share: the client's new
 * port, the messages they send, the record of where the server sent, and a
 * hook on what an endpoint receives.
 */
import type { Endpoint } from '../../src/core/endpoint.js';
import type { PeerAddress } from '../../src/core/sans-io.js';
import { isProtected, parseHeader } from '../../src/wire/packet.js';
import { CLIENT, type Pair, makePair } from './pair.js';

/** Where the client's NAT maps it after the rebinding: the same host, another port. */
export const REBOUND = '10.0.0.1:6000';

/** The client's messages: sizes from a few bytes to several packets, each distinct. */
export function messages(count: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => {
    const m = new Uint8Array(1 + ((i * 797) % 6000));
    m.fill(i & 0xff);
    m[0] = i >> 8;
    return m;
  });
}

/** Every datagram `endpoint` sends, with where and when. */
export function recordSends(endpoint: Endpoint): { readonly to: PeerAddress; readonly at: number; readonly size: number }[] {
  const sends: { to: PeerAddress; at: number; size: number }[] = [];
  const poll = endpoint.pollTransmit.bind(endpoint);
  endpoint.pollTransmit = (now) => {
    const t = poll(now);
    if (t !== undefined) sends.push({ to: t.to, at: now, size: t.data.length });
    return t;
  };
  return sends;
}

/** The real `handleDatagram` of `endpoint`, and a hook that sees each datagram first (and delivers it, or not). */
export function intercept(endpoint: Endpoint, tap: (now: number, data: Uint8Array, from: PeerAddress, deliver: (d: Uint8Array, as?: PeerAddress) => void) => void): void {
  const real = endpoint.handleDatagram.bind(endpoint);
  endpoint.handleDatagram = (now, data, from) => tap(now, data, from, (d, as = from) => real(now, d, as));
}

/** Whether `data` is a PROTECTED packet (the client's after the handshake). */
export const protectedPacket = (data: Uint8Array): boolean => {
  const h = parseHeader(data);
  return typeof h !== 'string' && isProtected(h.type);
};

/** An echoing server, connected; the client has `sent` queued. */
export function echoPair(count: number, seed = 1): { p: Pair; sent: Uint8Array[] } {
  const p = makePair({ seed });
  p.onServerEvent = (e) => {
    if (e.type === 'message') e.connection.send(e.data);
  };
  const sent = messages(count);
  for (const m of sent) p.conn.send(m);
  p.sim.wake(CLIENT);
  return { p, sent };
}
