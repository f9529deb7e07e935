/**
 * Attack round 8, angle 2: the reply backlog bound is per connection (1 MiB unacknowledged, plus one
 * reply); the memory budget is checked when a connection opens, not as it grows. N logged-in
 * accounts (one host: each through a one-way proxy, so none acknowledges anything) each send a few
 * RDTs of a large thread and then go silent. Server RSS (from /proc) is sampled; a normal account's
 * MSG latency is measured meanwhile.
 *
 *   npx tsx attack/many-accounts-backlog.ts [accounts=20] [threadMiB=3] [seconds=20] [rdts=4]
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeRequest } from '../packages/forum-protocol/dist/index.js';
import { largeThreadFile } from '../packages/server/test/large-thread.js';
import { silentLogin } from '../packages/server/test/silent-client.js';
import { session, startServer } from './forum-raw.js';

const accounts = Number(process.argv[2] ?? 20);
const threadMiB = Number(process.argv[3] ?? 3);
const seconds = Number(process.argv[4] ?? 20);
/** RDTs each account sends before going silent (1: nothing waits behind the first reply). */
const rdts = Number(process.argv[5] ?? 4);
const dir = await mkdtemp(join(tmpdir(), 'a8-backlog-'));
const users = Array.from({ length: accounts }, (_, i) => `m${i}`);
await writeFile(join(dir, 'credentials.txt'), [`alice pw-alice`, ...users.map((u) => `${u} pw`)].map((l) => `${l}\n`).join(''));
const lines = Math.floor((threadMiB * 1024 * 1024) / 4012);
await writeFile(join(dir, 'big'), largeThreadFile('alice', lines));
await writeFile(join(dir, 'small'), 'alice\n');
const port = 40_000 + Math.floor(Math.random() * 20_000);
const server = await startServer(dir, port, port + 1);
const pid = server.child.pid as number;
const rss = async (): Promise<number> => Math.round(Number(/VmRSS:\s+([0-9]+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024);
const base = await rss();
let peak = base;
let sampling = true;
const sampler = (async () => {
  while (sampling) {
    peak = Math.max(peak, await rss().catch(() => 0));
    await new Promise((r) => setTimeout(r, 100));
  }
})();
const abort = new AbortController();
const normal = await session(port, 'alice', abort.signal);
const latencies: number[] = [];
let normalRunning = true;
const normalLoop = (async () => {
  let n = 0;
  while (normalRunning) {
    const t0 = performance.now();
    await normal.request('MSG', ['small', `note ${++n}`]).catch(() => undefined);
    latencies.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 100));
  }
})();
// Logged in, then silenced: nothing the server sends them is acknowledged.
const clients = await Promise.all(
  users.map(async (u) => {
    const c = await silentLogin(port, u);
    // A few RDTs: the first reply alone passes the 1 MiB backlog; the rest wait behind it.
    for (let k = 0; k < rdts; k++) c.conn.send(encodeRequest({ id: `r${k}`, username: '', cmd: 'RDT', args: ['big'] })).catch(() => undefined);
    return c;
  }),
);
const t0 = Date.now();
const samples: string[] = [];
while (Date.now() - t0 < seconds * 1000) {
  await new Promise((r) => setTimeout(r, 5000));
  const ended = server.out.split('\n').filter((l) => /^m[0-9]+ exited/.test(l)).length;
  samples.push(`${Math.round((Date.now() - t0) / 1000)} s: ${await rss()} MiB, ${accounts - ended} sessions left`);
}
normalRunning = false;
await normalLoop;
sampling = false;
await sampler;
const sorted = [...latencies].sort((a, b) => a - b);
const cut = server.out.split('\n').filter((l) => l.startsWith('Client is not acknowledging')).length;
console.log(`${accounts} accounts, thread ${threadMiB} MiB: server RSS ${base} MiB before, peak ${peak} MiB (+${peak - base}, ${((peak - base) / accounts).toFixed(1)} MiB an account); ${samples.join('; ')}; cut off for not acknowledging: ${cut}; normal MSG p50 ${sorted[Math.floor(sorted.length / 2)]?.toFixed(0)} ms, max ${sorted[sorted.length - 1]?.toFixed(0)} ms (${sorted.length})`);
if (process.env.A8_LOG !== undefined) console.log(server.out.split('\n').filter((l) => !/issued|note/.test(l)).slice(-12).join('\n'));
clients.forEach((c) => c.conn.destroy());
abort.abort();
await Promise.all(clients.map((c) => c.proxy.close()));
server.child.kill('SIGTERM');
await server.exited;
await rm(dir, { recursive: true, force: true });
process.exit(0);
