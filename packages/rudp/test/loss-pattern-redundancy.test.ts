/**
 * Redundancy that follows the measured loss pattern, on the default
 * configuration, in two-way chat (64 B every 20 ms each way, 35 ms ± 5):
 * spaced copies of resends only where they pay (losses in runs, or a high
 * rate), and copies of the previous message beside the repair from a
 * measured loss of ~15 % on, none where losses come in runs.
 */
import { describe, expect, it } from 'vitest';
import type { LinkConfig } from '../src/testing/impairment.js';
import { parseFrames } from '../src/wire/frame.js';
import { CLIENT, SERVER, makePair } from './helpers/pair.js';
import { tapDataPackets } from './helpers/tap.js';

const COUNT = 600;

interface ChatPackets {
  /** Per DATA packet the client sent: when, the message ids of its MESSAGE/FRAGMENT frames, whether one was never sent before, whether it carries a REPAIR. */
  readonly packets: { readonly at: number; readonly ids: string; readonly fresh: boolean; readonly messages: number; readonly repair: boolean }[];
  readonly delivered: number;
}

function chat(link: LinkConfig, seed = 1, count = COUNT): ChatPackets {
  // Plaintext, to read the frames: redundancy does not depend on the cipher.
  const p = makePair({ seed, link, client: { plaintext: true }, server: { plaintext: true } });
  const packets: { at: number; ids: string; fresh: boolean; messages: number; repair: boolean }[] = [];
  let newest = -1;
  tapDataPackets(p.client, (h, _d, now) => {
    const frames = parseFrames(h.payload) ?? [];
    const ids = frames.flatMap((f) => (f.type === 'fragment' ? [f.messageId] : []));
    const fresh = ids.some((id) => id > newest);
    newest = Math.max(newest, ...ids);
    packets.push({ at: now, ids: ids.join(','), fresh, messages: ids.length, repair: frames.some((f) => f.type === 'repair') });
  });
  p.sim.runFor(1_000);
  let delivered = 0;
  p.onServerEvent = (e) => {
    if (e.type === 'message') delivered++;
  };
  const start = p.sim.now;
  for (let i = 0; i < count; i++) {
    p.sim.schedule(start + i * 20, () => {
      p.conn.send(new Uint8Array(64).fill(i));
      p.sim.wake(CLIENT);
      p.serverConn()?.send(new Uint8Array(64).fill(i));
      p.sim.wake(SERVER);
    });
  }
  p.sim.runFor(count * 20 + 10_000);
  return { packets: packets.filter((x) => x.at >= start), delivered };
}

/** Packets without new data that repeat exactly the messages of such a packet sent `gapMs` before: spaced copies of a resend. */
function copiesAfter(c: ChatPackets, gapMs: number): number {
  const resends = c.packets.filter((x) => !x.fresh && x.messages > 0);
  return resends.filter((x) => resends.some((y) => y.ids === x.ids && Math.abs(x.at - y.at - gapMs) < 0.01)).length;
}

/** Share of the packets carrying a new message that carry an older one too (a copy of the previous message). */
function previousCopyShare(c: ChatPackets): number {
  const fresh = c.packets.filter((x) => x.fresh);
  return fresh.filter((x) => x.messages > 1).length / fresh.length;
}

describe('redundancy follows the loss pattern (simulated two-way chat, default options)', () => {
  it('losses that come alone at 10 %: resends get no spaced copy (repairs rebuild most losses; a copy is bytes for nothing)', () => {
    const c = chat({ delayMs: 35, jitterMs: 5, loss: 0.1 });
    expect(c.delivered).toBe(COUNT);
    // Resends there are (messages repairs did not rebuild in time), but never a copy 3 ms later.
    expect(c.packets.filter((x) => !x.fresh && x.messages > 0).length).toBeGreaterThan(5);
    expect(copiesAfter(c, 3)).toBe(0);
  });

  it('losses that come alone at 10 %: once the first second has measured them, every packet of new data carries a repair, through clean stretches too', () => {
    // The 50-packet average alone read under 5 % for a while now and then (two or three losses in 50
    // packets), and every other packet then left without a repair (seed 1: 57 of 1,450).
    for (const seed of [1, 2, 3]) {
      const c = chat({ delayMs: 35, jitterMs: 5, loss: 0.1 }, seed, 1_500);
      expect(c.delivered).toBe(1_500);
      const start = (c.packets[0]?.at ?? 0) + 1_000;
      const fresh = c.packets.filter((x) => x.fresh && x.at >= start);
      expect(fresh.filter((x) => !x.repair).length, `seed ${seed}`).toBe(0);
    }
  });

  it('losses that come alone at 1 % (repairs on a share of packets only): resends keep their copy 3 ms later', () => {
    const c = chat({ delayMs: 35, jitterMs: 5, loss: 0.01 });
    expect(c.delivered).toBe(COUNT);
    expect(copiesAfter(c, 3)).toBeGreaterThan(0);
  });

  it('losses in runs (bursts of mean length 3 at 10 %): resends of packets lost in a run get two copies, 15 and 30 ms later, and no previous copies ride beside repairs', () => {
    const c = chat({ delayMs: 35, jitterMs: 5, loss: 0.1, burst: { meanBurstLength: 3 } });
    expect(c.delivered).toBe(COUNT);
    expect(copiesAfter(c, 15)).toBeGreaterThan(5);
    expect(copiesAfter(c, 30)).toBeGreaterThan(5);
    // 3 ms apart only before the runs are measured (the first losses of the connection).
    expect(copiesAfter(c, 3)).toBeLessThan(copiesAfter(c, 15) / 5);
    // A few before the runs are measured (with copies in runs too: 0.15).
    expect(previousCopyShare(c)).toBeLessThan(0.05);
  });

  it('losses in runs are recognised from the first runs, not after ~18 losses: in the first 2 s of the chat, resends already get their copies 15 ms later', () => {
    // The run share is an average from zero: it read runs of mean length 3 at 10 % only after about 4 s,
    // and the resends before went out without copies (bench chat: p99 of the first 8 s ~175 ms, ~152 ms later).
    let early = 0;
    for (const seed of [1, 2, 3, 4, 5]) {
      const c = chat({ delayMs: 35, jitterMs: 5, loss: 0.1, burst: { meanBurstLength: 3 } }, seed, 100);
      expect(c.delivered).toBe(100);
      early += copiesAfter(c, 15);
    }
    expect(early).toBeGreaterThan(5);
  });

  it('previous copies: about half of the packets of new data at 20 % loss, none at 5 %', () => {
    const high = chat({ delayMs: 35, jitterMs: 5, loss: 0.2 });
    expect(high.delivered).toBe(COUNT);
    expect(previousCopyShare(high)).toBeGreaterThan(0.3);
    const low = chat({ delayMs: 35, jitterMs: 5, loss: 0.05 });
    expect(previousCopyShare(low)).toBeLessThan(0.02);
  });
});
