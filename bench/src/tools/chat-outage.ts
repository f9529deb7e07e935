/**
 * The simulated chat through an outage: after some chat, one direction
 * (client→server) or both drop every datagram for a while, then come back.
 * Prints, per system, when (after the path came back) the first client
 * message reached the server's application, when the last one sent before
 * the path came back did (the backlog), and the wire bytes the client sent
 * during and after the outage. Unlike the Gilbert–Elliott burst, whose
 * length is counted in datagrams (a sender that sends more ends it sooner),
 * the outage here lasts a fixed time.
 *
 * Usage (from bench/): node --import tsx src/tools/chat-outage.ts [outageMs=2000] [one|both] [seeds=1,2,3] [systems=rudp,kcp-flush]
 */
import { makePayload, parsePayload } from '../integrity/payload.js';
import { SystemFactory, type SystemId } from '../peers/systems.js';
import { CHAT } from '../scenarios/chat.js';
import { BASE_LINK } from '../scenarios/link-variants.js';
import { CLIENT_ADDRESS, SERVER_ADDRESS, SimPair } from '../sim/sim-pair.js';

const outageMs = Number(process.argv[2] ?? '2000');
const both = process.argv[3] === 'both';
const seeds = (process.argv[4] ?? '1,2,3').split(',').map(Number);
const systems = (process.argv[5] ?? 'rudp,kcp-flush').split(',') as SystemId[];
/** Chat before the outage, and after the path comes back, ms. */
const BEFORE_MS = 3_000;
const AFTER_MS = 2_000;
const factory = await SystemFactory.load();

function run(system: SystemId, seed: number): string {
  const n = Math.floor((BEFORE_MS + outageMs + AFTER_MS) / CHAT.intervalMs);
  const sentAt = new Map<number, number>();
  const arrivedAt = new Map<number, number>();
  let downAt = Number.POSITIVE_INFINITY;
  let backAt = Number.POSITIVE_INFINITY;
  const pair: SimPair = new SimPair({
    factory,
    system,
    link: BASE_LINK,
    seed,
    onMessage: (side, data, now) => {
      const p = parsePayload(data);
      if (side === 'server' && p) arrivedAt.set(p.seq, now);
    },
    onEstablished: (now) => {
      downAt = now + BEFORE_MS;
      backAt = downAt + outageMs;
      pair.sim.schedule(downAt, () => {
        pair.sim.setLink(CLIENT_ADDRESS, SERVER_ADDRESS, { ...BASE_LINK, loss: 1 });
        if (both) pair.sim.setLink(SERVER_ADDRESS, CLIENT_ADDRESS, { ...BASE_LINK, loss: 1 });
      });
      pair.sim.schedule(backAt, () => {
        pair.sim.setLink(CLIENT_ADDRESS, SERVER_ADDRESS, BASE_LINK);
        if (both) pair.sim.setLink(SERVER_ADDRESS, CLIENT_ADDRESS, BASE_LINK);
      });
      for (let i = 1; i <= n; i++) {
        pair.sim.schedule(now + i * CHAT.intervalMs, (t) => {
          sentAt.set(i, t);
          pair.send('client', makePayload(i, CHAT.messageBytes));
          pair.send('server', makePayload(i, CHAT.messageBytes));
        });
      }
    },
  });
  const bytes = [0, 0];
  const inner = pair.client.pollTransmit.bind(pair.client);
  pair.client.pollTransmit = (now) => {
    const t = inner(now);
    if (t !== undefined && now >= downAt) bytes[now < backAt ? 0 : 1] = (bytes[now < backAt ? 0 : 1] as number) + t.data.length + 28;
    return t;
  };
  pair.connect();
  // The server learns of the connection from the client's traffic (KCP has no handshake).
  pair.send('client', makePayload(0, CHAT.messageBytes));
  pair.sim.runFor(BEFORE_MS + outageMs + AFTER_MS + 30_000);
  const firstAfter = Math.min(...[...arrivedAt.values()].filter((t) => t >= backAt)) - backAt;
  const backlog = [...sentAt].filter(([, t]) => t < backAt).map(([i]) => (arrivedAt.get(i) ?? Number.POSITIVE_INFINITY) - backAt);
  return `${system.padEnd(10)} seed ${seed}: first message delivered +${firstAfter.toFixed(1)} ms, backlog delivered +${Math.max(...backlog).toFixed(1)} ms; client wire bytes during ${((bytes[0] as number) / 1000).toFixed(1)} KB, after ${((bytes[1] as number) / 1000).toFixed(1)} KB`;
}

console.log(`chat, ${both ? 'both directions' : 'client→server'} down for ${outageMs} ms after ${BEFORE_MS} ms`);
for (const seed of seeds) for (const system of systems) console.log(run(system, seed));
