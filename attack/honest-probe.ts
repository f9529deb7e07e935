/**
 * The honest client of the round-10 scripts, in a process of its own so that the attacker's work does not delay it:
 * one request every 50 ms (forum: alice's MSG, or with A10_PROBE_RDT=<title> an RDT of that thread, an honest reader
 * of a large one; A10_PROBE_GAP_MS another pause than 50 ms; bare: a 100-byte echo), each printed as `<end epoch ms> <round trip ms>`.
 * Started by frame-lib's `startProbe`; runs until killed.
 *
 *   npx tsx attack/honest-probe.ts <forum|bare> <port> [localAddress=127.0.0.200]
 */
import { connect } from '../packages/rudp/dist/index.js';
import { session } from './forum-raw.js';

const target = process.argv[2];
const port = Number(process.argv[3]);
const localAddress = process.argv[4] ?? '127.0.0.200';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let once: () => Promise<unknown>;
if (target === 'forum') {
  const s = await session(port, 'alice', new AbortController().signal, localAddress);
  let n = 0;
  const rdt = process.env.A10_PROBE_RDT;
  once = rdt === undefined ? () => s.request('MSG', ['small', `note ${++n}`]) : () => s.request('RDT', [rdt]);
} else {
  const c = await connect({ port, host: '127.0.0.1', localAddress });
  const payload = new Uint8Array(100);
  once = () => new Promise<void>((resolve) => { c.once('message', () => resolve()); c.send(payload).catch(() => undefined); });
}
// A10_PROBE_GAP_MS: the pause between requests (an occasional reader rather than one reading back to back).
const gapMs = Number(process.env.A10_PROBE_GAP_MS ?? 50);
console.log('ready');
for (;;) {
  const t0 = performance.now();
  await Promise.race([once(), sleep(5000)]);
  console.log(`${Date.now()} ${(performance.now() - t0).toFixed(2)}`);
  await sleep(gapMs);
}
