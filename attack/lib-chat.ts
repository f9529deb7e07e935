/**
 * Attack round 13: examples/chat.mjs's server (run as written, from the example's own text) against two
 * hostile members: one that joins and never reads, and one that sends one-byte lines as fast as the
 * server takes them. The example (before round 13) dropped a member "that cannot keep up" once its
 * `bufferedAmount` passed 4 × its high-water mark: counted in bytes, 8-byte lines reach that after some
 * 520,000 queued sends. Prints the server's heap and the slow member's queue.
 *
 * Run: `npx tsx attack/lib-chat.ts [seconds=20]` (uses packages/rudp's built dist).
 */
import { readFileSync } from 'node:fs';
import { connect, listen, type RudpConnection } from '../packages/rudp/dist/index.js';

const seconds = Number(process.argv[2] ?? 20);
// CHAT_FILE: another version of the example (e.g. `git show main:packages/rudp/examples/chat.mjs`).
const source = readFileSync(process.env.CHAT_FILE ?? new URL('../packages/rudp/examples/chat.mjs', import.meta.url), 'utf8');
// The server's part: from `const server = await listen` to the client helpers.
const serverPart = source.slice(source.indexOf('const server = await listen'), source.indexOf('/** Joins as'));
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...args: string[]) => (...a: unknown[]) => Promise<{ server: Awaited<ReturnType<typeof listen>>; members: Map<RudpConnection, string> }>;
const log = console.log;
console.log = () => {};
const { server, members } = await new AsyncFunction('listen', `${serverPart}\nreturn { server, members };`)(listen);
console.log = log;
const port = server.address().port;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const slow = await connect({ port });
// READ=1: the "slow" member reads everything (an honest member under the same flood).
let heard = 0;
if (process.env.READ === '1') slow.on('message', () => void heard++);
await slow.send('slow');
const fast = await connect({ port });
await fast.send('fast');
await sleep(100);
/** Resolves at the flooder's next 'drain' or after `ms`, whichever comes first (and leaves no listener). */
const drainedOrAfter = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      fast.off('drain', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    fast.once('drain', done);
  });
const slowAtServer = [...members.keys()].find((c) => members.get(c) === 'slow')!;
const base = process.memoryUsage();
let lines = 0;
let closedAt = '';
slowAtServer.on('close', (r) => (closedAt = `${r.message} after ${lines} lines`));
const t0 = performance.now();
let next = t0 + 2000;
const gc = (globalThis as { gc?: () => void }).gc;
while (performance.now() - t0 < seconds * 1000 && !closedAt) {
  lines++;
  // The server may hold the flooder back (its window fills): wait for 'drain' at most 500 ms at a time.
  if (!fast.write('x')) await drainedOrAfter(500);
  if (performance.now() > next) {
    next += 2000;
    gc?.();
    const m = process.memoryUsage();
    log(`${((performance.now() - t0) / 1000).toFixed(0)} s: ${lines} lines; slow member bufferedAmount ${(slowAtServer.bufferedAmount / 2 ** 20).toFixed(2)} MiB, writableLength ${(slowAtServer.writableLength / 2 ** 20).toFixed(0)} MiB; heap +${((m.heapUsed - base.heapUsed) / 2 ** 20).toFixed(0)} MiB, RSS +${((m.rss - base.rss) / 2 ** 20).toFixed(0)} MiB`);
  }
}
log(closedAt ? `slow member dropped: ${closedAt}` : `slow member still there after ${seconds} s and ${lines} lines written by the flooder (the slow member read ${heard}); its writableLength at the server ${(slowAtServer.writableLength / 2 ** 20).toFixed(2)} MiB`);
slow.destroy();
fast.destroy();
await server.close();
process.exit(0);
