/**
 * A connection that ends lets go of what it had queued at once, not at the
 * end of its drain. A server's connection drains for three probe timeouts
 * after it closes, and kept its unacknowledged messages meanwhile: in the
 * forum's attack `many-hosts-backlog.ts` 26 closed connections held 101 MiB
 * of replies the server had already stopped counting (they will never be
 * delivered, and the application was told so).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { CLIENT, SERVER, makePair } from './helpers/pair.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const MESSAGE_BYTES = 2 * 1024 * 1024;

/** A pair whose client stops receiving once established: the server's message stays unacknowledged. */
const silentClient = (): ReturnType<typeof makePair> => {
  const p = makePair({ link: { delayMs: 5, jitterMs: 0 }, server: { idleTimeoutMs: 60_000 }, client: { idleTimeoutMs: 60_000 } });
  p.sim.runFor(500);
  p.sim.setLink(SERVER, CLIENT, { delayMs: 5, jitterMs: 0, loss: 1 });
  return p;
};

describe('a connection that ends lets go of its queued messages', () => {
  it('destroyed with a large message unacknowledged: nothing of it is held while it drains', () => {
    const p = silentClient();
    const served = p.serverConn();
    if (served === undefined) throw new Error('not accepted');
    served.send(new Uint8Array(MESSAGE_BYTES).fill(1));
    p.sim.wake(SERVER);
    p.sim.runFor(200);
    expect(served.sendQueue.bufferedAmount).toBe(MESSAGE_BYTES);
    served.destroy(p.sim.now, 1, 'making room');
    p.sim.wake(SERVER);
    p.sim.runFor(10);
    expect(served.state).toBe('draining');
    // Before: the whole message, until the drain ended.
    expect(served.sendQueue.bufferedAmount).toBe(0);
    expect(served.sendQueue.allAcked()).toBe(true);
  });

  it('messages never sent, and datagrams waiting, go too', () => {
    const p = silentClient();
    const served = p.serverConn();
    if (served === undefined) throw new Error('not accepted');
    for (let i = 0; i < 4; i++) served.send(new Uint8Array(MESSAGE_BYTES).fill(i));
    served.send(new Uint8Array(100), { reliable: false });
    served.destroy(p.sim.now, 1, 'gone');
    expect(served.sendQueue.bufferedAmount).toBe(0);
    p.sim.wake(SERVER);
    p.sim.runFor(5_000);
    expect(p.server.connectionCount).toBe(0);
  });

  it('nothing else of the thread keeps it either: the last packet built does not pin its message', async () => {
    // The packet builder's result outlives the call: its chunks (and through them the whole message) stayed
    // reachable until any connection of the thread built another data packet. The CLOSE is built apart, so a
    // server whose destroyed connection had sent last held that reply for as long (e2e-reply-memory's flake).
    const p = silentClient();
    const served = p.serverConn();
    if (served === undefined) throw new Error('not accepted');
    const sent = ((): WeakRef<Uint8Array> => {
      const message = new Uint8Array(MESSAGE_BYTES).fill(1);
      served.send(message);
      return new WeakRef(message);
    })();
    p.sim.wake(SERVER);
    p.sim.runFor(200);
    served.destroy(p.sim.now, 1, 'making room');
    p.sim.wake(SERVER);
    p.sim.runFor(10);
    expect(served.state).toBe('draining');
    // A WeakRef's target is kept to the end of the task that made or read it: collected in a later one.
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    expect(sent.deref() === undefined).toBe(true);
  });
});
