/**
 * What the NAT-rebinding test and its measurement share: the client's new
 * port, the messages they send and the record of where the server sent.
 */
import type { Endpoint } from '../../src/core/endpoint.js';
import type { PeerAddress } from '../../src/core/sans-io.js';

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
