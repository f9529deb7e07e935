/**
 * Measures whether honest peers on slow lossy paths are closed while sending many messages (not a test:
 * run with `npx tsx packages/rudp/test/measure/small-messages-slow-path.ts [seeds]`). The
 * unacknowledged timer counts per message (connection/timeouts.ts, `owedSince`): a message of one
 * chunk lost again and again behind a bottleneck queue (each resend waits out the queue) must not look
 * like a peer that withholds its acknowledgement. Per path and load: the runs closed, and the longest
 * a message not acknowledged whole was owed (`OutgoingMessage.unacknowledgedSince`, sampled every
 * 50 ms) against the idle timeout.
 */
import type { LinkConfig } from '../../src/testing/impairment.js';
import { CLIENT, SERVER, firstOf, makePair, messagesOf } from '../helpers/pair.js';

const seeds = Number(process.argv[2] ?? 10);
const burst = { meanBurstLength: 3 };

interface Load {
  readonly name: string;
  /** Message sizes, bytes, sent at once (a backlog) or `every` ms apart. */
  readonly sizes: readonly number[];
  readonly every?: number;
}

const paths: readonly { readonly name: string; readonly link: LinkConfig }[] = [
  { name: '64 kbit/s, 64 KiB queue, 30 % burst loss', link: { delayMs: 100, bandwidthBps: 64_000, queueBytes: 64 * 1024, loss: 0.3, burst } },
  { name: '128 kbit/s, 64 KiB queue, 30 % burst loss', link: { delayMs: 100, bandwidthBps: 128_000, queueBytes: 64 * 1024, loss: 0.3, burst } },
  { name: '256 kbit/s, 64 KiB queue, 30 % burst loss', link: { delayMs: 100, bandwidthBps: 256_000, queueBytes: 64 * 1024, loss: 0.3, burst } },
  { name: '1 Mbit/s, 20 % loss, reordering', link: { delayMs: 50, jitterMs: 30, bandwidthBps: 1_000_000, queueBytes: 64 * 1024, loss: 0.2 } },
];

const loads: readonly Load[] = [
  { name: '1,000 x 1 KB at once', sizes: Array.from({ length: 1_000 }, () => 1_000) },
  { name: '4,000 x 200 B at once', sizes: Array.from({ length: 4_000 }, () => 200) },
  { name: '1 MiB, then 64 B every 200 ms', sizes: [1024 * 1024, ...Array.from({ length: 600 }, () => 64)], every: 200 },
];

for (const path of paths) {
  for (const load of loads) {
    const closed: string[] = [];
    let longest = 0;
    let slowest = 0;
    let triesLong = 0;
    let tries = 0;
    for (let seed = 1; seed <= seeds; seed++) {
      const p = makePair({ seed, link: { delayMs: path.link.delayMs ?? 100 } });
      p.sim.runFor(1_000);
      p.sim.setLinks(CLIENT, SERVER, path.link);
      load.sizes.forEach((size, i) => {
        p.sim.schedule(p.sim.now + (load.every === undefined || i === 0 ? 0 : i * load.every), () => {
          if (p.conn.state === 'established') p.conn.send(new Uint8Array(size).fill(i & 0xff));
          p.sim.wake(CLIENT);
        });
      });
      const start = p.sim.now;
      const end = start + 1_800_000;
      while (messagesOf(p.serverEvents).length < load.sizes.length && p.conn.state === 'established' && p.sim.now < end) {
        p.sim.runFor(50);
        const m = p.conn.sendQueue.oldestUnacknowledged();
        const since = m?.unacknowledgedSince() ?? Number.POSITIVE_INFINITY;
        if (since !== Number.POSITIVE_INFINITY) longest = Math.max(longest, p.sim.now - since);
        tries = Math.max(tries, m?.lostTries ?? 0);
        if (p.sim.now - since > 20_000) triesLong = Math.max(triesLong, m?.lostTries ?? 0);
      }
      const r = firstOf(p.clientEvents, 'closed') ?? firstOf(p.serverEvents, 'closed');
      const got = messagesOf(p.serverEvents).length;
      if (r !== undefined || got < load.sizes.length) closed.push(`seed ${seed}: ${r?.event.type === 'closed' ? r.event.reason.message : `${got} of ${load.sizes.length} arrived`}`);
      else slowest = Math.max(slowest, p.sim.now - start);
    }
    console.log(`${path.name} | ${load.name}: closed ${closed.length}/${seeds}; longest owed ${(longest / 1000).toFixed(1)} s; slowest run ${(slowest / 1000).toFixed(0)} s; most tries lost ${tries}, ${triesLong} owed 20 s`);
    for (const c of closed) console.log(`  ${c}`);
  }
}
