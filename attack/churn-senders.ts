/**
 * Attack round 14: what one datagram from each of many source addresses leaves in the server. No
 * handshake, no answer needed: each source (a socket on 127.A.B.C, or a port of ::1 with `v6`) sends
 * one datagram of random bytes (no known connection id, as a spoofed flood would) and is gone. The
 * server is measured after a forced GC every `every` sources (churn-probe.cjs).
 *
 * Run: `npx tsx attack/churn-senders.ts [sources=70000] [every=10000] [v4|v6] [server options…]`
 */
import { randomBytes, randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { describe, hosts, slope, startChurnServer, type Sample } from './churn-lib.js';

const total = Number(process.argv[2] ?? 70_000);
const every = Number(process.argv[3] ?? 10_000);
const family = process.argv[4] === 'v6' ? 'v6' : 'v4';
const extra = process.argv.slice(5);
const port = 20000 + randomInt(20000);
const server = await startChurnServer(port, family === 'v6' ? ['--host', '::1', ...extra] : extra);
const next = hosts();

/** One datagram of garbage from a new source. */
const sendOnce = (): Promise<void> =>
  new Promise((resolve) => {
    const s = createSocket(family === 'v6' ? 'udp6' : 'udp4');
    s.on('error', () => {
      s.close();
      resolve();
    });
    s.bind(0, family === 'v6' ? '::1' : next(), () => {
      s.send(randomBytes(64), port, family === 'v6' ? '::1' : '127.0.0.1', () => {
        s.close();
        resolve();
      });
    });
  });

console.log(`churn senders: ${total} sources (${family}), one garbage datagram each; server ${extra.join(' ') || '(defaults)'}`);
const samples: Sample[] = [await server.probe(0)];
console.log(`  before: ${describe(samples[0] as Sample)}`);
for (let sent = 0; sent < total; ) {
  const n = Math.min(every, total - sent);
  for (let i = 0; i < n; i += 64) await Promise.all(Array.from({ length: Math.min(64, n - i) }, sendOnce));
  sent += n;
  await new Promise((r) => setTimeout(r, 500));
  const s = await server.probe(sent);
  samples.push(s);
  console.log(`  ${sent} sources: ${describe(s)}`);
}
const upTo = samples.filter((s) => s.ops <= 65_536);
console.log(`heap per source up to 65,536 sources: ${slope(upTo.map((s) => s.ops), upTo.map((s) => s.memory.heapUsed)).toFixed(0)} B`);
await server.stop();
process.exit(0);
