import { describe, expect, it } from 'vitest';
import { IntegrityChecker, isClean } from '../src/integrity/integrity-checker.js';
import { makePayload } from '../src/integrity/payload.js';
import { createRandom } from '../src/lib/rudp-imports.js';
import { KcpEndpoint } from '../src/peers/kcp-endpoint.js';
import { kcpFast, kcpFlush } from '../src/peers/kcp-profile.js';
import type { MessageConnection } from '../src/peers/message-endpoint.js';
import { PayloadDeframer } from '../src/peers/udx-native.js';
import { driveOnSocket } from '../src/udp/socket-driver.js';

describe('PayloadDeframer', () => {
  it('splits a byte stream cut anywhere back into the payloads', () => {
    const payloads = [64, 16_384, 12, 1000].map((size, seq) => makePayload(seq, size));
    const stream = Buffer.concat(payloads);
    const checker = new IntegrityChecker();
    for (let i = 0; i < payloads.length; i++) checker.noteSent();
    const deframer = new PayloadDeframer((p) => checker.deliver(p));
    const cuts = [1, 7, 8, 9, 100, 5000, 16_000, 16_460, stream.length];
    let at = 0;
    for (const cut of cuts) {
      deframer.push(stream.subarray(at, cut));
      at = cut;
    }
    expect(checker.counts().delivered).toBe(4);
    expect(isClean(checker.counts())).toBe(true);
  });
});

describe('KCP flushed drive', () => {
  /** Time from a send to its datagram leaving, and from a datagram's input to the ACK leaving, for one profile. */
  function firstTransmitDelays(profile: typeof kcpFast): { data: number; ack: number } {
    const a = new KcpEndpoint({ profile, random: createRandom(1), acceptIncoming: false });
    const b = new KcpEndpoint({ profile, random: createRandom(2), acceptIncoming: true });
    const conn: MessageConnection = a.connect(0, 'b:1');
    // Let the first tick pass, then send between ticks.
    a.handleTimeout(10);
    conn.send(makePayload(0, 64));
    const sendAt = 13;
    let now = sendAt;
    let data = a.pollTransmit(now);
    while (!data) {
      now = a.pollTimeout() ?? now + 1;
      a.handleTimeout(now);
      data = a.pollTransmit(now);
    }
    const dataDelay = now - sendAt;
    const inputAt = now + 3;
    b.handleDatagram(inputAt, data.data, 'a:1');
    now = inputAt;
    let ack = b.pollTransmit(now);
    while (!ack) {
      now = b.pollTimeout() ?? now + 1;
      b.handleTimeout(now);
      ack = b.pollTransmit(now);
    }
    return { data: dataDelay, ack: now - inputAt };
  }

  it('sends data on send and the ACK on input at once; the tick drive waits for its tick', () => {
    expect(firstTransmitDelays(kcpFlush)).toEqual({ data: 0, ack: 0 });
    const ticks = firstTransmitDelays(kcpFast);
    expect(ticks.data).toBeGreaterThan(0);
    expect(ticks.ack).toBeGreaterThan(0);
  });
});

describe('socket driver', () => {
  it('runs two KCP endpoints over loopback UDP and delivers every message in order', async () => {
    const got: Uint8Array[] = [];
    let serverConn: MessageConnection | undefined;
    const server = await driveOnSocket(new KcpEndpoint({ profile: kcpFlush, random: createRandom(3), acceptIncoming: true }), (ev) => {
      if (ev.type === 'incoming') serverConn = ev.connection;
      if (ev.type === 'message') got.push(ev.data);
    });
    const client = await driveOnSocket(new KcpEndpoint({ profile: kcpFlush, random: createRandom(4), acceptIncoming: false }), () => {});
    try {
      const conn = client.endpoint.connect(performance.now(), `127.0.0.1:${server.port}`);
      for (let i = 0; i < 50; i++) conn.send(makePayload(i, 200));
      client.wake();
      const deadline = Date.now() + 10_000;
      while (got.length < 50 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      const checker = new IntegrityChecker();
      for (const m of got) {
        checker.noteSent();
        checker.deliver(m);
      }
      expect(checker.counts().delivered).toBe(50);
      expect(isClean(checker.counts())).toBe(true);
      expect(serverConn).toBeDefined();
      expect(client.datagramsSent).toBeGreaterThan(0);
    } finally {
      await Promise.all([client.close(), server.close()]);
    }
  });
});
