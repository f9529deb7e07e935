/**
 * A fingerprint of rudp's behaviour, to check that a change meant to cost
 * less CPU changed nothing on the wire: a client and a server `Endpoint`
 * (plaintext: no key material to seed) in the seeded simulator, at loss 0,
 * 2, 10 and 25% (in bursts from 10%), sending 64-byte chat messages, a
 * 64-byte stream, and a mix with 3 KB messages. Each case prints the
 * simulator's wire totals and a hash of when each message arrived and each
 * acknowledgement was heard; two builds that behave alike print the same
 * lines (diff them).
 *
 * Usage (from bench/): node --import tsx src/tools/sim-fingerprint.ts path/to/rudp/dist
 */
import { createHash } from 'node:crypto';

const dist = process.argv[2];
if (dist === undefined) throw new Error('usage: sim-fingerprint.ts path/to/rudp/dist');
const core = (await import(`${dist}/core.js`)) as typeof import('rudpx/core');
const testing = (await import(`${dist}/testing.js`)) as typeof import('rudpx/testing');
const SERVER = '10.0.0.1:1';
const CLIENT = '10.0.0.2:2';

for (const loss of [0, 0.02, 0.1, 0.25]) {
  for (const mode of ['chat', 'stream64', 'mixed'] as const) {
    const burst = loss >= 0.1 ? { burst: { meanBurstLength: 3 } } : {};
    const sim = new testing.SimNetwork({ seed: 7, defaultLink: { delayMs: 20, jitterMs: 3, loss, ...burst } });
    const client = new core.Endpoint({ random: sim.random('c'), plaintext: true });
    const server = new core.Endpoint({ random: sim.random('s'), acceptIncoming: true, plaintext: true });
    const trace = createHash('sha256');
    let delivered = 0;
    sim.addNode(SERVER, server, {
      onActivity: (now) => {
        for (let e = server.pollEvent(); e; e = server.pollEvent()) {
          if (e.type !== 'message') continue;
          delivered++;
          trace.update(`${now.toFixed(3)}:${e.data.length}:${e.data[0]};`);
        }
      },
    });
    sim.addNode(CLIENT, client, {
      onActivity: (now) => {
        for (let e = client.pollEvent(); e; e = client.pollEvent()) if (e.type === 'acked') trace.update(`a${now.toFixed(3)}:${e.messageId}+${e.count};`);
      },
    });
    const conn = client.connect(0, SERVER);
    sim.wake(CLIENT);
    sim.runFor(500);
    let k = 0;
    for (let t = 500; t < 20_000; t += mode === 'chat' ? 50 : 5) {
      sim.schedule(t, () => {
        if (conn.state !== 'established') return;
        const n = mode === 'chat' ? 1 : mode === 'stream64' ? 40 : 3;
        for (let i = 0; i < n && conn.bufferedAmount < 200_000; i++) {
          const m = new Uint8Array(mode === 'mixed' && i === 2 ? 3000 : 64);
          m[0] = k++ & 255;
          conn.send(m);
        }
        sim.wake(CLIENT);
      });
    }
    sim.runUntil(30_000);
    console.log(`loss ${loss} ${mode}: delivered ${delivered}, totals ${JSON.stringify(sim.totals())}, trace ${trace.digest('hex').slice(0, 16)}`);
  }
}
