/**
 * The server's first RTT estimate comes from the handshake: the time from
 * its ACCEPT to the client's first packet. A client that connects and says
 * nothing for a while must still give it a true round trip (the client
 * answers the ACCEPT at once when it has nothing to send), and a client
 * that writes as soon as it is connected must not pay a datagram for that
 * answer.
 */
import { describe, expect, it } from 'vitest';
import type { ConnectionStats } from '../src/core/connection.js';
import { parseFrames } from '../src/wire/frame.js';
import { CLIENT, makePair } from './helpers/pair.js';
import { tapDataPackets } from './helpers/tap.js';

/** 1 ms each way, no jitter: a 2 ms round trip. */
const LINK = { delayMs: 1 };
const PATH_RTT_MS = 2;
/** How long the client waits after it is connected before its first message. */
const WAIT_MS = 100;

/** The server's connection stats when the client's first message reached it, after `WAIT_MS` of silence. */
function serverStatsAtFirstMessage(seed: number, plaintext: boolean): ConnectionStats {
  const p = makePair({ seed, link: LINK, client: { plaintext }, server: { plaintext } });
  let atMessage: ConnectionStats | undefined;
  p.onServerEvent = (e) => {
    if (e.type === 'message' && atMessage === undefined) atMessage = e.connection.stats();
  };
  p.sim.runFor(WAIT_MS);
  expect(p.conn.state).toBe('established');
  p.conn.send(new Uint8Array([1]));
  p.sim.wake(CLIENT);
  p.sim.runFor(50);
  if (atMessage === undefined) throw new Error('the message never reached the server');
  return atMessage;
}

describe("the server's handshake RTT sample", () => {
  for (const plaintext of [false, true]) {
    it(`is the path's round trip when the client waits ${WAIT_MS} ms before its first message (${plaintext ? 'plaintext' : 'encrypted'})`, () => {
      for (const seed of [1, 2, 3]) {
        const s = serverStatsAtFirstMessage(seed, plaintext);
        // Before the fix: the seed was the ~100 ms of the client's silence.
        expect(s.srttMs).toBeGreaterThanOrEqual(PATH_RTT_MS);
        expect(s.srttMs).toBeLessThan(2 * PATH_RTT_MS);
      }
    });
  }

  it('costs an idle client one small datagram that asks for nothing back', () => {
    const p = makePair({ seed: 4, link: LINK, client: { plaintext: true }, server: { plaintext: true } });
    const answers: { frames: number; size: number; at: number }[] = [];
    tapDataPackets(p.client, (h, d, now) => answers.push({ frames: (parseFrames(h.payload) ?? []).length, size: d.length, at: now }));
    let serverData = 0;
    tapDataPackets(p.server, () => serverData++);
    p.sim.runFor(WAIT_MS);
    expect(p.conn.state).toBe('established');
    expect(answers).toHaveLength(1);
    const [answer] = answers;
    // No frame at all (a PADDING byte): nothing for the server to acknowledge.
    expect(answer?.frames).toBe(0);
    expect(answer?.size).toBeLessThan(40);
    // Sent the moment the ACCEPT came: two round trips after the first INITIAL (the cookie's, the ACCEPT's).
    expect(answer?.at).toBeGreaterThanOrEqual(2 * PATH_RTT_MS);
    expect(answer?.at).toBeLessThan(2 * PATH_RTT_MS + 0.1);
    expect(serverData).toBe(0);
  });

  it('adds no datagram for a client that writes as soon as it is connected', () => {
    const p = makePair({ seed: 5, link: LINK, client: { plaintext: true }, server: { plaintext: true } });
    const sent: { frames: readonly string[]; pn: number }[] = [];
    tapDataPackets(p.client, (h) => sent.push({ frames: (parseFrames(h.payload) ?? []).map((f) => f.type), pn: h.pn }));
    p.onClientEvent = (e) => {
      if (e.type === 'connected') e.connection.send(new Uint8Array([1, 2, 3]));
    };
    let atMessage: ConnectionStats | undefined;
    p.onServerEvent = (e) => {
      if (e.type === 'message') atMessage ??= e.connection.stats();
    };
    p.sim.runFor(WAIT_MS);
    expect(sent[0]?.frames).toContain('fragment');
    expect(sent.every((s) => s.frames.length > 0)).toBe(true);
    expect(atMessage?.srttMs).toBeGreaterThanOrEqual(PATH_RTT_MS);
    expect(atMessage?.srttMs).toBeLessThan(2 * PATH_RTT_MS);
  });
});
