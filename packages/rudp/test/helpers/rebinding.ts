/**
 * What the NAT-rebinding and IP-migration tests and measurements share: the
 * client's new port, the messages they send, the record of where the server
 * sent, a hook on what an endpoint receives, and running and reporting a
 * measurement.
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

/** One datagram an endpoint sent; `challenge` as the caller's `isChallenge` said right after the poll that made it. */
export interface RecordedSend {
  readonly to: PeerAddress;
  readonly at: number;
  readonly size: number;
  readonly challenge: boolean;
}

/** Every datagram `endpoint` sends, with where and when (and whether `isChallenge`, asked once per datagram, says it was one). */
export function recordSends(endpoint: Endpoint, isChallenge: () => boolean = () => false): RecordedSend[] {
  const sends: RecordedSend[] = [];
  const poll = endpoint.pollTransmit.bind(endpoint);
  endpoint.pollTransmit = (now) => {
    const t = poll(now);
    if (t !== undefined) sends.push({ to: t.to, at: now, size: t.data.length, challenge: isChallenge() });
    return t;
  };
  return sends;
}

/** When the first datagram from `from` reached `endpoint` (NaN until one has). */
export function firstArrival(endpoint: Endpoint, from: () => PeerAddress): () => number {
  let at = Number.NaN;
  intercept(endpoint, (now, data, source, deliver) => {
    if (source === from() && Number.isNaN(at)) at = now;
    deliver(data);
  });
  return () => at;
}

/** Runs `p` until the client has `count` messages (the time of the last) or `limitMs` more have passed (NaN). */
export function runUntilEchoed(p: Pair, count: number, limitMs: number): number {
  const end = p.sim.now + limitMs;
  while (p.sim.now < end) {
    const got = p.clientEvents.filter((r) => r.event.type === 'message');
    if (got.length === count) return got[count - 1]?.at ?? Number.NaN;
    if (!p.sim.step()) break;
  }
  return Number.NaN;
}

/** Prints a measurement's rows and, per key, the median and range over the seeds that have a figure (NaN: none to measure). */
export function printSeeds<K extends string>(rows: readonly (Readonly<Record<K, number>> & { readonly seed: number })[], keys: readonly K[]): void {
  console.table(rows);
  for (const k of keys) {
    const ok = rows.map((r) => r[k]).filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
    const mid = ok.length % 2 === 1 ? (ok[(ok.length - 1) / 2] as number) : ((ok[ok.length / 2 - 1] as number) + (ok[ok.length / 2] as number)) / 2;
    const none = rows.length - ok.length;
    console.log(`${k}: median ${mid.toFixed(1)}, range ${Math.min(...ok).toFixed(1)}–${Math.max(...ok).toFixed(1)}${none > 0 ? ` (${none} seed(s) with none)` : ''}`);
  }
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
