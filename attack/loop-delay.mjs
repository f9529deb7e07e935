/**
 * Runs a forum-server build (argv[2], then its own arguments) with its main thread's event-loop delay recorded
 * (`monitorEventLoopDelay`, 5 ms resolution: a stall of a few ms and up shows as a late timer). Each SIGUSR2 writes
 * the delays since the last one to $A10_LOOP_DELAY as JSON ({ seq, p50, p99, max, over10, over20 } in ms; over10:
 * the share of samples later than 10 ms) and starts again. forum-raw.ts's startServer runs the server through this
 * when A10_LOOP_DELAY is set; request-cost.ts reads it for the honest stretch and the attack.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const out = process.env.A10_LOOP_DELAY;
const bin = process.argv[2];
if (out === undefined || bin === undefined) throw new Error('usage: A10_LOOP_DELAY=<file> node loop-delay.mjs <server bin> [args…]');
// The server reads its arguments from process.argv as if started directly.
process.argv.splice(1, 1);
const RESOLUTION_MS = 5;
const h = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
h.enable();
let seq = 0;
process.on('SIGUSR2', () => {
  // The histogram holds each timer's interval: its delay is what passes the resolution.
  const ms = (ns) => Math.max(0, Math.round((ns / 1e6 - RESOLUTION_MS) * 100) / 100);
  // The share of samples later than `limitMs`, from the histogram's percentiles.
  const share = (limitMs) => {
    let s = 0;
    for (const [p, v] of h.percentiles) if (v / 1e6 - RESOLUTION_MS <= limitMs) s = p;
    return Math.round((100 - s) * 100) / 100;
  };
  // Written whole, then renamed: the reader never sees half of it.
  writeFileSync(`${out}.tmp`, JSON.stringify({ seq: ++seq, p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), over10: share(10), over20: share(20), samples: h.count }));
  renameSync(`${out}.tmp`, out);
  h.reset();
});
await import(bin);
