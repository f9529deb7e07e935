/**
 * The probe timeout leaves the peer's ACK delay out while the peer owes an immediate ACK (loss-detection.ts),
 * but `ackEveryPackets` is our receive policy, not the peer's. An endpoint that ACKs every packet
 * (`ackEveryPackets: 1`, a valid setting) talking to one with the default (2) timed its probe for a lone
 * packet without the 25 ms the peer may hold that packet's ACK: every burst of two packets drew a spurious
 * probe, and the probes sustained themselves (each pair drew the held ACK, which ended the backoff), so the
 * connection, idle, sent two packets every 3 ms: 1,360 packets for 40 of data where 42 do.
 */
import { describe, expect, it } from 'vitest';
import { CLIENT, makePair } from './helpers/pair.js';

/** The client's packets sent and resent for 20 bursts of `burst` one-packet messages, 100 ms apart, over 1 ms each way. */
function bursts(clientAckEvery: number, burst: number): { readonly sent: number; readonly retransmitted: number } {
  const p = makePair({ seed: 1, link: { delayMs: 1 }, client: { ackEveryPackets: clientAckEvery } });
  p.sim.runFor(100);
  for (let i = 0; i < 20; i++) {
    for (let k = 0; k < burst; k++) p.conn.send(new Uint8Array(1100).fill(i));
    p.sim.wake(CLIENT);
    p.sim.runFor(100);
  }
  const s = p.conn.stats();
  return { sent: s.packetsSent, retransmitted: s.packetsRetransmitted };
}

describe('a client that ACKs every packet, to a server with the default ACK policy (1 ms each way, no loss)', () => {
  it.each([1, 2, 3])('bursts of %i packets: no probe, as many packets as with the default policy', (burst) => {
    const ours = bursts(1, burst);
    expect(ours.retransmitted).toBe(0);
    expect(ours.sent).toBe(bursts(2, burst).sent);
  });
});
