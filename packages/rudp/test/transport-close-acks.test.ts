/**
 * A graceful close acknowledges what arrived before it. A peer that reads a
 * message and closes at once used to send its CLOSE alone, the ACK of that
 * message still held back (`maxAckDelayMs`) and then dropped with the
 * connection: the sender heard the CLOSE without the acknowledgement, so the
 * send of a message the peer had read failed (the Node API rejected it with
 * `ECONNRESET`, and a `stream()` whose `end()` the peer had read emitted an
 * error). The CLOSE now carries the ACK that is owed.
 */
import { describe, expect, it } from 'vitest';
import { CLIENT, SERVER, ackedOf, makePair, messagesOf } from './helpers/pair.js';

describe('a graceful close acknowledges what the closing end received', () => {
  for (const link of [{ delayMs: 0.1, jitterMs: 0 }, { delayMs: 35, jitterMs: 5 }]) {
    it(`the sender hears its last message acknowledged before the CLOSE (${link.delayMs} ms each way)`, () => {
      const p = makePair({ link });
      p.sim.runFor(500);
      const served = p.serverConn();
      expect(served?.state).toBe('established');
      // A reply, then its end marker a moment later: the marker arrives alone, its ACK held back.
      served?.send(new TextEncoder().encode('reply'));
      p.sim.wake(SERVER);
      p.sim.runFor(200);
      served?.send(new Uint8Array(0));
      p.sim.wake(SERVER);
      p.onClientEvent = (e, now) => {
        if (e.type === 'message' && e.data.length === 0) {
          p.conn.close(now);
          p.sim.wake(CLIENT);
        }
      };
      p.sim.runFor(5_000);
      expect(messagesOf(p.clientEvents).map((m) => m.length)).toEqual([5, 0]);
      const closedAt = p.serverEvents.findIndex((r) => r.event.type === 'closed');
      expect(closedAt).toBeGreaterThanOrEqual(0);
      expect(p.serverEvents[closedAt]?.event.type === 'closed' && p.serverEvents[closedAt].event.reason.kind).toBe('peer');
      // Both messages acknowledged, and before the close.
      expect(ackedOf(p.serverEvents.slice(0, closedAt)).map((a) => a.id)).toEqual([0, 1]);
    });
  }
});
