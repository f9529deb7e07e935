/** Every datagram an endpoint has to send at `now`, in order. */
import type { Endpoint } from '../../src/core/endpoint.js';
import type { Transmit } from '../../src/core/sans-io.js';

export function drain(e: Endpoint, now: number): Transmit[] {
  const out: Transmit[] = [];
  for (let t = e.pollTransmit(now); t !== undefined; t = e.pollTransmit(now)) out.push(t);
  return out;
}
