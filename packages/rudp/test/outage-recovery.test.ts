/**
 * Recovery from a long outage while both sides chat. One way: the path from
 * the client drops everything for two seconds while the server's packets
 * still arrive, then comes back. The client's window fills with
 * resends that no rule declares lost (nothing it sends is acknowledged), and
 * a sender held there is silent but for probes backed off to hundreds of
 * milliseconds; its new messages, going as probes, find the path as soon as
 * it is back. Both ways: the first ACK after the outage declares its whole
 * run lost, and the resends go at once.
 */
import { describe, expect, it } from 'vitest';
import { CLIENT, SERVER, makePair, messagesOf } from './helpers/pair.js';

const DELAY = 35;
const INTERVAL = 20;
const COUNT = 250;
/** When the path goes down (after this much chat). */
const OUTAGE_AT = 1_000;

/**
 * Both sides send a 64-byte message every 20 ms over a 35 ± 5 ms link; the
 * client→server direction (`both`: and the other) loses everything for
 * `outage` ms. Returns when (after the path came back) the last client
 * message sent before then reached the server.
 */
function chatThroughOutage(outage: number, both: boolean): number {
  const link = { delayMs: DELAY, jitterMs: 5 };
  const p = makePair({ link });
  p.sim.runFor(1_000);
  const start = p.sim.now;
  const backAt = start + OUTAGE_AT + outage;
  const sentAt: number[] = [];
  const arrivals: number[] = [];
  p.onServerEvent = (e, now) => {
    if (e.type === 'message') arrivals.push(now);
  };
  p.sim.schedule(start + OUTAGE_AT, () => {
    p.sim.setLink(CLIENT, SERVER, { ...link, loss: 1 });
    if (both) p.sim.setLink(SERVER, CLIENT, { ...link, loss: 1 });
  });
  p.sim.schedule(backAt, () => {
    p.sim.setLink(CLIENT, SERVER, link);
    if (both) p.sim.setLink(SERVER, CLIENT, link);
  });
  for (let i = 0; i < COUNT; i++) {
    p.sim.schedule(start + i * INTERVAL, (now) => {
      sentAt.push(now);
      p.conn.send(new Uint8Array(64).fill(i));
      p.sim.wake(CLIENT);
      p.serverConn()?.send(new Uint8Array(64).fill(i));
      p.sim.wake(SERVER);
    });
  }
  p.sim.runFor(20_000);
  expect(messagesOf(p.serverEvents).map((m) => m[0])).toEqual([...Array(COUNT).keys()]);
  const last = sentAt.filter((t) => t < backAt).length - 1;
  return (arrivals[last] as number) - backAt;
}

describe('an outage while both sides chat (simulated)', () => {
  it('client→server down 2 s: the messages sent during it arrive within two round trips and two message intervals of the path coming back', () => {
    const backlogDoneAfter = chatThroughOutage(2_000, false);
    // The first message after the path is back leaves within one interval and crosses (35 ± 5 ms);
    // the server's next packet (within an interval) acknowledges it, and that ACK declares everything
    // before lost; the resends cross (115 ms here). Held by a window full of resends, the client sent
    // nothing but probes backed off to hundreds of milliseconds: the backlog arrived after 848 ms.
    expect(backlogDoneAfter).toBeLessThan(4 * (DELAY + 5) + 2 * INTERVAL);
  });

  it('both ways down 600 ms: the resends of the run do not wait for repairs that cannot rebuild it', () => {
    const backlogDoneAfter = chatThroughOutage(600, true);
    // The client's next message leaves within an interval and crosses; the server's next packet
    // (within an interval) carries the ACK of it back, which declares the whole run lost, and the
    // resends cross: three one-way delays and two intervals (97 ms here). Held for the repairs sent
    // after the path came back (one symbol each, for a run of 30 messages), they went a round trip
    // later: 164 ms.
    expect(backlogDoneAfter).toBeLessThan(3 * (DELAY + 5) + 2 * INTERVAL);
  });

  it('new data goes past the full window at most twice a round trip, however often the application writes', () => {
    const link = { delayMs: DELAY, jitterMs: 5 };
    const p = makePair({ link });
    p.sim.runFor(1_000);
    const start = p.sim.now;
    p.sim.setLink(CLIENT, SERVER, { ...link, loss: 1 });
    // A 64-byte message every 5 ms: each fits one packet with what waits, so each could go as a probe.
    const total = 1_200;
    for (let i = 0; i < total; i++) {
      p.sim.schedule(start + 5 * i, () => {
        p.conn.send(new Uint8Array(64).fill(i & 0xff));
        p.sim.wake(CLIENT);
      });
    }
    p.sim.runFor(5_000);
    const before = p.sim.linkStats(CLIENT, SERVER).sentDatagrams;
    p.sim.runFor(1_000);
    const lastSecond = p.sim.linkStats(CLIENT, SERVER).sentDatagrams - before;
    // Without the bound: 200 datagrams past a full window in that second (one a write), for as long as
    // nothing is acknowledged. With it: two a round trip (70 ms here).
    expect(lastSecond).toBeLessThanOrEqual(Math.ceil((2 * 1_000) / (2 * DELAY)) + 2);
    p.sim.setLink(CLIENT, SERVER, link);
    p.sim.runFor(30_000);
    expect(messagesOf(p.serverEvents)).toHaveLength(total);
  });

  it('a message held by the new-data probes\' spacing is woken when the spacing ends, not by the backed-off probe timer', () => {
    const link = { delayMs: DELAY, jitterMs: 0 };
    const p = makePair({ link });
    p.sim.runFor(1_000);
    const arrivals = new Map<number, number>();
    p.onServerEvent = (e, now) => {
      if (e.type === 'message' && e.data.length === 10) arrivals.set(e.data[0] as number, now);
    };
    // A window full of lost data, the probe timer fired and backed off (~520 ms).
    p.sim.setLink(CLIENT, SERVER, { ...link, loss: 1 });
    for (let i = 0; i < 36; i++) p.conn.send(new Uint8Array(1_040));
    p.sim.wake(CLIENT);
    p.sim.runFor(2_500);
    // A goes as a new-data probe and is lost; the path comes back; B is written 15 ms after A, within
    // the spacing, and nothing after it.
    p.conn.send(new Uint8Array(10).fill(1));
    p.sim.wake(CLIENT);
    p.sim.runFor(1);
    p.sim.setLink(CLIENT, SERVER, link);
    p.sim.runFor(14);
    const writtenAt = p.sim.now;
    p.conn.send(new Uint8Array(10).fill(2));
    p.sim.wake(CLIENT);
    p.sim.runFor(20_000);
    // Woken at the end of the spacing, B crosses and its ACK declares the rest lost (~195 ms). With no
    // timer for the spacing it waited for the probe timer: 1,760 ms.
    expect((arrivals.get(2) as number) - writtenAt).toBeLessThan(400);
    expect(arrivals.has(1)).toBe(true);
  });
});
