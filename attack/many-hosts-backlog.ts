/**
 * The reply budget across hosts (attack round 8's 5b, spread over addresses): H client hosts (loopback addresses
 * 127.0.0.11, .12, …, each another host to the server) with A logged-in accounts each, every account behind a proxy
 * that drops what the server sends, each sending a few RDTs of a large thread and then going silent. Each host
 * stays within its own 32 MiB; before the server-wide budget nothing bounded their sum. Server RSS (from /proc) is
 * sampled; an honest account at another address (127.0.0.200) posts every 100 ms and reads the thread every 2 s
 * meanwhile.
 *
 *   npx tsx attack/many-hosts-backlog.ts [hosts=16] [accountsPerHost=10] [threadMiB=3.9] [seconds=30] [rdts=4] [server options…]
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeRequest } from '../packages/forum-protocol/dist/index.js';
import { largeThreadFile } from '../packages/server/test/large-thread.js';
import { silentLogin } from '../packages/server/test/silent-client.js';
import { session, startServer } from './forum-raw.js';

const hosts = Number(process.argv[2] ?? 16);
const perHost = Number(process.argv[3] ?? 10);
const threadMiB = Number(process.argv[4] ?? 3.9);
const seconds = Number(process.argv[5] ?? 30);
const rdts = Number(process.argv[6] ?? 4);
const extra = process.argv.slice(7);
const dir = await mkdtemp(join(tmpdir(), 'many-hosts-backlog-'));
const addresses = Array.from({ length: hosts }, (_, h) => `127.0.0.${11 + h}`);
const users = addresses.flatMap((_, h) => Array.from({ length: perHost }, (_, i) => `h${h}u${i}`));
await writeFile(join(dir, 'credentials.txt'), [`alice pw-alice`, ...users.map((u) => `${u} pw`)].map((l) => `${l}\n`).join(''));
const lines = Math.floor((threadMiB * 1024 * 1024) / 4012);
await writeFile(join(dir, 'big'), largeThreadFile('alice', lines));
await writeFile(join(dir, 'small'), 'alice\n');
const port = 40_000 + Math.floor(Math.random() * 20_000);
const server = await startServer(dir, port, port + 1, extra);
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
const honest = await session(port, 'alice', abort.signal, '127.0.0.200');
const msgLatencies: number[] = [];
const rdtLatencies: number[] = [];
let rdtFailed = 0;
let running = true;
const msgLoop = (async () => {
  let n = 0;
  while (running) {
    const t0 = performance.now();
    await honest.request('MSG', ['small', `note ${++n}`]).catch(() => undefined);
    msgLatencies.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 100));
  }
})();
const rdtLoop = (async () => {
  await new Promise((r) => setTimeout(r, 1000));
  while (running) {
    const t0 = performance.now();
    const r = await honest.request('RDT', ['big']).catch(() => undefined);
    if (r === undefined || r.lines.length !== lines) {
      rdtFailed++;
      if (process.env.A8_LOG !== undefined) console.log(`honest RDT: ${r === undefined ? "rejected" : `${r.lines.length} lines: ${r.lines[0]?.slice(0, 80)}`}`);
    }
    else rdtLatencies.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 2000));
  }
})();
// Logged in, then silenced: nothing the server sends them is acknowledged.
const clients = await Promise.all(
  users.map(async (u, i) => {
    const c = await silentLogin(port, u, addresses[Math.floor(i / perHost)]);
    for (let k = 0; k < rdts; k++) c.conn.send(encodeRequest({ id: `r${k}`, username: '', cmd: 'RDT', args: ['big'] })).catch(() => undefined);
    return c;
  }),
);
const t0 = Date.now();
const samples: string[] = [];
while (Date.now() - t0 < seconds * 1000) {
  await new Promise((r) => setTimeout(r, 5000));
  const ended = server.out.split('\n').filter((l) => /^h[0-9]+u[0-9]+ exited/.test(l)).length;
  samples.push(`${Math.round((Date.now() - t0) / 1000)} s: ${await rss()} MiB, ${users.length - ended} sessions left`);
}
running = false;
await msgLoop;
await rdtLoop;
sampling = false;
await sampler;
const stat = (xs: number[]): string => {
  const s = [...xs].sort((a, b) => a - b);
  return `p50 ${s[Math.floor(s.length / 2)]?.toFixed(0)} ms, max ${s[s.length - 1]?.toFixed(0)} ms (${s.length})`;
};
const count = (prefix: string): number => server.out.split('\n').filter((l) => l.startsWith(prefix)).length;
console.log(
  `${hosts} hosts × ${perHost} accounts, thread ${threadMiB} MiB, ${rdts} RDTs each: server RSS ${base} MiB before, peak ${peak} MiB (+${peak - base}); ${samples.join('; ')}; ` +
    `log lines (limited per host): closed while others waited ${count('Client is not acknowledging replies while others wait')}, waits for the server budget ${count('Server reply budget is short')}; ` +
    `honest MSG ${stat(msgLatencies)}; honest RDT ${stat(rdtLatencies)}, failed ${rdtFailed}`,
);
if (process.env.A8_LOG !== undefined) console.log(server.out.split('\n').filter((l) => !/issued|note|exited/.test(l)).slice(-15).join('\n'));
clients.forEach((c) => c.conn.destroy());
abort.abort();
await Promise.all(clients.map((c) => c.proxy.close()));
server.child.kill('SIGTERM');
await server.exited;
await rm(dir, { recursive: true, force: true });
process.exit(0);
