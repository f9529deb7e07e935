/**
 * `closed`'s `unsentFrom` over many seeded runs: messages of every size (empty, one packet, many), on other
 * channels and unordered, datagrams between them, sent while the path loses packets (so chunks are resent,
 * repairs and copies ride along) and while the client's port rebinds (so the path is validated again),
 * ended each way (a local destroy, the peer's CLOSE, an idle timeout behind a dead link). A message at or past `unsentFrom` must never have been on the wire: no fragment, no MESSAGE
 * frame, no repair symbol over its id. The client's packets are plaintext, so their frames can be read.
 */
import { describe, expect, it } from 'vitest';
import type { EndpointEvent } from '../src/core/events.js';
import { parseFrames } from '../src/wire/frame.js';
import { createRandom, randomFloat } from '../src/testing.js';
import { CLIENT, SERVER, makePair } from './helpers/pair.js';
import { tapDataPackets } from './helpers/tap.js';

type Ending = 'destroy' | 'peer' | 'timeout';
const ENDINGS: readonly Ending[] = ['destroy', 'peer', 'timeout'];
const SIZES = [0, 1, 40, 700, 1_300, 1_500, 4_000, 30_000, 200_000] as const;

const run = (seed: number, ending: Ending): { readonly unsentFrom: number; readonly onWire: ReadonlySet<number>; readonly sent: number } => {
  const rng = createRandom(seed * 7919 + ENDINGS.indexOf(ending));
  const prng = { next: (): number => randomFloat(rng) };
  const loss = prng.next() * 0.3;
  const p = makePair({
    seed,
    link: { delayMs: 10 + Math.floor(prng.next() * 40), jitterMs: 3, loss },
    client: { plaintext: true, idleTimeoutMs: 3_000 },
    server: { plaintext: true, idleTimeoutMs: 60_000, receiveWindow: prng.next() < 0.5 ? 64 * 1024 : 1 << 20 },
  });
  const onWire = new Set<number>();
  tapDataPackets(p.client, (h) => {
    for (const f of parseFrames(h.payload) ?? []) {
      if (f.type === 'fragment') onWire.add(f.messageId);
      else if (f.type === 'repair') for (let id = f.baseId; id < f.baseId + f.count; id++) onWire.add(id);
    }
  });
  p.sim.runFor(600);
  if (p.conn.state !== 'established') throw new Error(`seed ${seed}: not established`);
  let sent = 0;
  let at: string = CLIENT;
  const endAt = p.sim.now + 50 + Math.floor(prng.next() * 1_500);
  while (p.sim.now < endAt) {
    for (let k = Math.floor(prng.next() * 6); k > 0; k--) {
      const roll = prng.next();
      const size = Math.min(SIZES[Math.floor(prng.next() * SIZES.length)] ?? 0, p.conn.maxMessageSize());
      if (roll < 0.1) p.conn.send(new Uint8Array(Math.min(size, 1_000)), { reliable: false, channel: 2 });
      else if (roll < 0.25) (p.conn.send(new Uint8Array(size), { channel: 1, ordered: prng.next() < 0.5 }), sent++);
      else (p.conn.send(new Uint8Array(size)), sent++);
    }
    p.sim.wake(at);
    if (prng.next() < 0.02) {
      const to = `10.0.0.1:${6000 + Math.floor(prng.next() * 1000)}`;
      if (to !== at) {
        p.sim.rebind(at, to);
        at = to;
      }
    }
    p.sim.runFor(1 + Math.floor(prng.next() * 60));
  }
  if (ending === 'destroy') p.conn.destroy(p.sim.now, 1, 'giving up');
  else if (ending === 'peer') p.serverConn()?.destroy(p.sim.now, 1, 'going away');
  else p.sim.setDefaultLink({ delayMs: 20, jitterMs: 0, loss: 1 });
  p.sim.wake(at);
  p.sim.wake(SERVER);
  // Read through a function: the state changes under the run, which the type checker cannot see.
  const ended = (): boolean => p.conn.state === 'closed' || p.conn.state === 'draining';
  for (let i = 0; i < 200 && !ended(); i++) p.sim.runFor(100);
  p.sim.runFor(100);
  for (let e = p.client.pollEvent(); e; e = p.client.pollEvent()) p.clientEvents.push({ at: p.sim.now, event: e });
  const closed = p.clientEvents.map((r) => r.event).find((e): e is Extract<EndpointEvent, { type: 'closed' }> => e.type === 'closed');
  if (closed === undefined) throw new Error(`seed ${seed} ${ending}: the client did not close (${p.conn.state})`);
  return { unsentFrom: closed.unsentFrom, onWire, sent };
};

describe('closed: unsentFrom never names a message that was on the wire', () => {
  it.each(ENDINGS.flatMap((ending) => Array.from({ length: 12 }, (_, i) => [ending, i + 1] as const)))('%s, seed %i', (ending, seed) => {
    const { unsentFrom, onWire, sent } = run(seed, ending);
    const leaked = [...onWire].filter((id) => id >= unsentFrom);
    expect(leaked).toEqual([]);
    // Every message below it left, at least in part (the boundary is exact, not merely safe).
    const below = Array.from({ length: Math.min(unsentFrom, sent) }, (_, id) => id).filter((id) => !onWire.has(id));
    expect(below).toEqual([]);
  });
});
