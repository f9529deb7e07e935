/**
 * Scratch objects shared by every connection of a process must not keep a
 * finished endpoint alive. A shared packet-sources object pointing at the
 * last connection's modules once held that connection, its endpoint and,
 * through them, every connection of the endpoint (38 MB after a run of
 * 10,000 simulated connections).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { CLIENT, makePair } from './helpers/pair.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Runs a pair that exchanges messages both ways, then forgets it; weak references to its endpoints. */
function finishedPair(): { readonly client: WeakRef<object>; readonly server: WeakRef<object> } {
  const p = makePair({ link: { delayMs: 5 } });
  p.onServerEvent = (e) => {
    if (e.type === 'message') e.connection.send(e.data);
  };
  p.sim.runFor(200);
  for (let i = 0; i < 20; i++) p.conn.send(new Uint8Array(3000).fill(i));
  p.sim.wake(CLIENT);
  p.sim.runFor(2_000);
  expect(p.clientEvents.filter((r) => r.event.type === 'message')).toHaveLength(20);
  return { client: new WeakRef(p.client), server: new WeakRef(p.server) };
}

describe('finished endpoints are released', () => {
  it('nothing shared between connections keeps a forgotten pair of endpoints alive', async () => {
    const refs = finishedPair();
    for (let i = 0; i < 3 && (refs.client.deref() !== undefined || refs.server.deref() !== undefined); i++) {
      // Weak references clear only between jobs.
      await new Promise((resolve) => setImmediate(resolve));
      gc();
    }
    expect(refs.server.deref()).toBeUndefined();
    expect(refs.client.deref()).toBeUndefined();
  });
});
