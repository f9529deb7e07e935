/**
 * CPU the sender spends recovering a large backlog of small messages through
 * a two-way outage: the client writes `count` messages of `bytes` bytes at
 * once, both directions drop every datagram for `outageMs` from
 * `downAfterMs` after the connection is up, and the run ends once the server
 * has every message. Many small messages lost at once make the resend queue
 * long, so per-loss work that grows with that queue shows here (the
 * simulator's time is virtual: the figure is the process's CPU, not a
 * latency). Prints CPU ms, when the last message arrived and the datagrams
 * the client sent, per seed.
 *
 * Usage (from bench/): node --import tsx src/tools/outage-resend-cpu.ts [count=20000] [bytes=8] [outageMs=2000] [seeds=1,2,3] [downAfterMs=100]
 *
 * At `downAfterMs` 100 only the first window (about a thousand messages) is
 * in flight when the link goes down, so the resend queue stays short; at 300
 * (seeds 1 and 3) much of the backlog is, and the queue is thousands of
 * entries long through the recovery (see core/send/queue-tally.ts).
 */
import { SystemFactory } from '../peers/systems.js';
import { BASE_LINK } from '../scenarios/link-variants.js';
import { CLIENT_ADDRESS, SERVER_ADDRESS, SimPair } from '../sim/sim-pair.js';

const count = Number(process.argv[2] ?? '20000');
const bytes = Number(process.argv[3] ?? '8');
const outageMs = Number(process.argv[4] ?? '2000');
const seeds = (process.argv[5] ?? '1,2,3').split(',').map(Number);
const downAfterMs = Number(process.argv[6] ?? '100');
const factory = await SystemFactory.load();

function run(seed: number): string {
  let received = 0;
  let lastAt = Number.NaN;
  let startAt = 0;
  const pair: SimPair = new SimPair({
    factory,
    system: 'rudp',
    link: BASE_LINK,
    seed,
    onMessage: (side, _data, now) => {
      if (side !== 'server') return;
      received++;
      if (received === count + 1) lastAt = now;
    },
    onEstablished: (now) => {
      startAt = now;
      for (let i = 0; i < count; i++) pair.send('client', new Uint8Array(bytes));
      pair.sim.schedule(now + downAfterMs, () => {
        pair.sim.setLink(CLIENT_ADDRESS, SERVER_ADDRESS, { ...BASE_LINK, loss: 1 });
        pair.sim.setLink(SERVER_ADDRESS, CLIENT_ADDRESS, { ...BASE_LINK, loss: 1 });
      });
      pair.sim.schedule(now + downAfterMs + outageMs, () => {
        pair.sim.setLink(CLIENT_ADDRESS, SERVER_ADDRESS, BASE_LINK);
        pair.sim.setLink(SERVER_ADDRESS, CLIENT_ADDRESS, BASE_LINK);
      });
    },
  });
  let datagrams = 0;
  const inner = pair.client.pollTransmit.bind(pair.client);
  pair.client.pollTransmit = (now) => {
    const t = inner(now);
    if (t !== undefined) datagrams++;
    return t;
  };
  const before = process.cpuUsage();
  pair.connect();
  // The server learns of the connection from the client's traffic.
  pair.send('client', new Uint8Array(bytes));
  pair.sim.runFor(downAfterMs + outageMs + 60_000);
  const cpu = process.cpuUsage(before);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const done = received === count + 1 ? `all ${count} delivered at +${(lastAt - startAt).toFixed(1)} ms` : `only ${received - 1} of ${count} delivered`;
  return `seed ${seed}: ${cpuMs.toFixed(0)} ms CPU; ${done}; client sent ${datagrams} datagrams`;
}

console.log(`rudp: ${count} messages of ${bytes} B written at once, both directions down for ${outageMs} ms from +${downAfterMs} ms`);
for (const seed of seeds) console.log(run(seed));
