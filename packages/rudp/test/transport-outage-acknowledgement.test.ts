/**
 * The unacknowledged timer across an outage (connection/timeouts.ts, `unacknowledgedDeadline`). Counted
 * from our oldest packet in flight alone, a 25 s outage that began just after it left the peer 5 s to
 * acknowledge something once the path was back, and with 30 % burst loss an honest peer was closed
 * ("no acknowledgement"). Counted from when the peer was heard again, it lives; a path that dies for
 * good still closes at the idle timeout, and a peer that never acknowledges, however it spaces its
 * silences, within two idle timeouts of our oldest packet.
 */
import { describe, expect, it } from 'vitest';
import type { CloseReason } from '../src/core/events.js';
import type { LinkConfig } from '../src/testing/impairment.js';
import { CLIENT, SERVER, firstOf, makePair, messagesOf, type Recorded } from './helpers/pair.js';
import { unacknowledgingClient } from './helpers/unacknowledging-peer.js';

/** 256 kbit/s, 100 ms each way, 30 % burst loss in runs of 3 on average (the measure script's lossy path). */
const LOSSY: LinkConfig = { delayMs: 100, bandwidthBps: 256_000, queueBytes: 64 * 1024, loss: 0.3, burst: { meanBurstLength: 3 } };

function reasonOf(events: readonly Recorded[]): CloseReason | undefined {
  const r = firstOf(events, 'closed');
  return r?.event.type === 'closed' ? r.event.reason : undefined;
}

describe('an outage the idle timer rides out, with burst loss after it', () => {
  it('keeps the connection: the 1.5 MiB message arrives on every seed (counted from before the outage, seeds 3 and 15 of 20 were closed: "no acknowledgement")', () => {
    const closed: string[] = [];
    for (let seed = 1; seed <= 20; seed++) {
      const p = makePair({ seed, link: { delayMs: 100 } });
      p.sim.runFor(1_000);
      expect(p.conn.state).toBe('established');
      p.sim.setLinks(CLIENT, SERVER, LOSSY);
      const big = new Uint8Array(1.5 * 1024 * 1024).fill(seed);
      p.conn.send(big);
      p.sim.wake(CLIENT);
      // Down 1 s into the message, for 25 s of the 30 s idle timeout: the server's MAX_DATA and probes
      // in flight then are acknowledged only once a probe and its ACK both get through after it.
      p.sim.runFor(1_000);
      p.sim.setLinks(CLIENT, SERVER, { ...LOSSY, loss: 1 });
      p.sim.runFor(25_000);
      p.sim.setLinks(CLIENT, SERVER, LOSSY);
      const arrived = (): boolean => messagesOf(p.serverEvents).some((m) => m.length === big.length);
      const end = p.sim.now + 600_000;
      while (!arrived() && p.conn.state === 'established' && p.sim.now < end) p.sim.runFor(1_000);
      const reason = reasonOf(p.serverEvents) ?? reasonOf(p.clientEvents);
      if (!arrived() || reason !== undefined) closed.push(`seed ${seed}: ${reason?.message ?? 'not arrived'}`);
    }
    expect(closed).toEqual([]);
  });
});

describe('a truly dead path still closes at the idle timeout', () => {
  it('after an outage it rode out, a path that dies for good closes both ends an idle timeout after its last packet', () => {
    const idle = 30_000;
    for (let seed = 1; seed <= 5; seed++) {
      const link: LinkConfig = { delayMs: 100, loss: 0.3, burst: { meanBurstLength: 3 } };
      const p = makePair({ seed, link: { delayMs: 100 } });
      p.sim.runFor(1_000);
      p.sim.setLinks(CLIENT, SERVER, link);
      // Both ways chatty, so each end has packets in flight when the path goes.
      p.onServerEvent = (e) => {
        if (e.type === 'message' && e.connection.state === 'established') e.connection.send(e.data);
      };
      const sendEvery = (from: number, to: number): void => {
        for (let t = from; t < to; t += 200) {
          p.sim.schedule(t, () => {
            if (p.conn.state === 'established') p.conn.send(new Uint8Array(200).fill(seed));
            p.sim.wake(CLIENT);
          });
        }
      };
      sendEvery(p.sim.now, p.sim.now + 60_000);
      p.sim.runFor(2_000);
      // A 20 s outage (past half the idle timeout: each end is heard again after a silence), 5 s of the
      // lossy path, then nothing for good.
      p.sim.setLinks(CLIENT, SERVER, { loss: 1 });
      p.sim.runFor(20_000);
      expect(p.conn.state).toBe('established');
      p.sim.setLinks(CLIENT, SERVER, link);
      p.sim.runFor(5_000);
      expect(p.conn.state).toBe('established');
      const cut = p.sim.now;
      p.sim.setLinks(CLIENT, SERVER, { loss: 1 });
      p.sim.runFor(2 * idle);
      for (const events of [p.clientEvents, p.serverEvents]) {
        const r = firstOf(events, 'closed');
        expect(reasonOf(events)?.message).toMatch(/^no packet from .* for 30000 ms$/);
        // The idle clock starts at the last datagram that got through: at most one path delay after the cut.
        expect((r?.at as number) - cut).toBeLessThanOrEqual(idle + 100);
        expect((r?.at as number) - cut).toBeGreaterThan(idle - 5_000);
      }
    }
  });

  it('a peer that keeps sending but never acknowledges, silent once, is closed an idle timeout after it was heard again, the reason giving the true age of our oldest packet', () => {
    // One silence of 1.6 s (past half the idle timeout) after our first answer left: the count starts
    // again when the peer is heard after it, so the close comes some 5.1 s after that answer, and a
    // reason of "for 3000 ms" (the idle timeout, as it said until session 36) would hide 2.1 s of it.
    const idle = 3_000;
    const { p } = unacknowledgingClient(idle);
    const start = p.sim.now;
    for (let t = 0; t < 10_000; t += 100) {
      p.sim.schedule(start + t, () => {
        if (p.conn.state === 'established') p.conn.send(new Uint8Array(16).fill(t & 0xff));
        p.sim.wake(CLIENT);
      });
    }
    p.sim.schedule(start + 450, () => p.sim.setLink(CLIENT, SERVER, { delayMs: 10, loss: 1 }));
    p.sim.schedule(start + 2_050, () => p.sim.setLink(CLIENT, SERVER, { delayMs: 10 }));
    p.sim.runFor(10_000);
    const closed = firstOf(p.serverEvents, 'closed');
    const age = (closed?.at as number) - (start + 10);
    // Heard again at the first message after the silence (start + 2,110 ms), an idle timeout before the close.
    expect(closed?.at).toBe(start + 2_110 + idle);
    expect(age).toBe(5_100);
    expect(reasonOf(p.serverEvents)?.message).toMatch(new RegExp(`^no acknowledgement from .* for ${age} ms$`));
  });

  it('a peer that never acknowledges and falls silent now and then is closed within two idle timeouts of our oldest packet', () => {
    // The client hears nothing from the server (that direction drops everything) and keeps sending, but
    // what it sends reaches the server in 1.4 s bursts with 1.6 s of silence between (as a peer that
    // chose to would send): every burst comes after a silence of half the idle timeout, so the count
    // from when it was heard again restarts each time, and is never an idle timeout long. The bound closes it.
    const idle = 3_000;
    const { p, server } = unacknowledgingClient(idle);
    const start = p.sim.now;
    for (let t = 0; t < 30_000; t += 100) {
      p.sim.schedule(start + t, () => {
        if (p.conn.state === 'established') p.conn.send(new Uint8Array(16).fill(t & 0xff));
        p.sim.wake(CLIENT);
      });
    }
    for (let cycle = 0; cycle < 10; cycle++) {
      p.sim.schedule(start + cycle * 3_000 + 1_400, () => p.sim.setLink(CLIENT, SERVER, { delayMs: 10, loss: 1 }));
      p.sim.schedule(start + cycle * 3_000 + 3_000, () => p.sim.setLink(CLIENT, SERVER, { delayMs: 10 }));
    }
    p.sim.runFor(30_000);
    const closed = firstOf(p.serverEvents, 'closed');
    // The reason gives how long the oldest packet went unacknowledged: the two timeouts of the bound, not one.
    expect(reasonOf(p.serverEvents)?.message).toMatch(/^no acknowledgement from .* for 6000 ms$/);
    // Its first answer left within one path delay of the first message (start + 10 ms).
    expect(closed?.at).toBeLessThanOrEqual(start + 10 + 2 * idle + 50);
    expect(server?.stats().bytesInFlight).toBe(0);
  });
});
