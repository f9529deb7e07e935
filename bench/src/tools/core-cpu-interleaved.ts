/**
 * CPU per 64-byte message of rudp's core alone, two builds interleaved in
 * this process: for each build a client and a server `Endpoint` (encrypted,
 * the default crypto provider) driven over a fixed-delay virtual link (as
 * `alloc-per-message.ts small`: one connection, at most 1,000 messages
 * unacknowledged), no sockets and no event loop in between. After a
 * warm-up, blocks of `messages` alternate between the builds (order flipped
 * each pair) and the report gives each build's mean and the ratio of each
 * block pair (median, quartiles, min–max).
 *
 * Why: on a shared 2-core VM with a load of 8–10, the loopback tools'
 * CPU per byte spread 0.5–1.8× between rounds of the same build; blocks a
 * few tens of ms apart in one process see about the same contention, and the
 * core's work per message is fixed (the same seed, the same packets).
 *
 * A build is `name=path/to/rudp/dist` (the directory: index.js, core.js and
 * testing.js are loaded from it).
 *
 * Usage (from bench/): node --import tsx src/tools/core-cpu-interleaved.ts
 *   'base=…/dist;new=…/dist' [blocks=60] [messages=20000]
 */
import { cpuUsage } from 'node:process';

type Api = typeof import('rudpx');
type Core = typeof import('rudpx/core');
type Testing = typeof import('rudpx/testing');

const ONE_WAY_MS = 5;
const INFLIGHT = 1000;
const SIZE = 64;

/** A driver of one build's pair: `run(n)` delivers `n` more messages. */
async function setup(dist: string): Promise<(n: number) => void> {
  const api = (await import(`${dist}/index.js`)) as Api;
  const core = (await import(`${dist}/core.js`)) as Core;
  const testing = (await import(`${dist}/testing.js`)) as Testing;
  const random = testing.createRandom(1);
  const server = new core.Endpoint({ random, acceptIncoming: true, crypto: api.defaultCryptoProvider });
  const client = new core.Endpoint({ random, crypto: api.defaultCryptoProvider });
  const serverAddress = core.formatAddress('10.0.0.1', 4000);
  const clientAddress = core.formatAddress('10.0.1.1', 10_000);
  const conn = client.connect(0, serverAddress, { serverKey: server.publicKey as Uint8Array });
  let now = 0;
  // The link: datagrams in flight, FIFO (every datagram takes the same time).
  const at: number[] = [];
  const toServer: boolean[] = [];
  const data: Uint8Array[] = [];
  let head = 0;
  let received = 0;
  let sent = 0;
  let acked = 0;
  const drain = (e: InstanceType<Core['Endpoint']>, fromServer: boolean): void => {
    for (let t = e.pollTransmit(now); t !== undefined; t = e.pollTransmit(now)) {
      at.push(now + ONE_WAY_MS);
      toServer.push(!fromServer);
      data.push(t.data);
    }
    for (let ev = e.pollEvent(); ev !== undefined; ev = e.pollEvent()) {
      if (ev.type === 'message') received++;
      else if (ev.type === 'acked') acked += ev.count;
    }
  };
  const step = (): void => {
    const next = head < at.length ? (at[head] as number) : Number.POSITIVE_INFINITY;
    now = Math.max(now, Math.min(next, server.pollTimeout() ?? Number.POSITIVE_INFINITY, client.pollTimeout() ?? Number.POSITIVE_INFINITY));
    while (head < at.length && (at[head] as number) <= now) {
      // A copy, as a socket hands over a fresh buffer per datagram.
      const forServer = toServer[head] as boolean;
      (forServer ? server : client).handleDatagram(now, new Uint8Array(data[head] as Uint8Array), forServer ? clientAddress : serverAddress);
      head++;
    }
    if (head > 4096) {
      at.splice(0, head);
      toServer.splice(0, head);
      data.splice(0, head);
      head = 0;
    }
    for (const e of [server, client]) {
      const due = e.pollTimeout();
      if (due !== undefined && due <= now) e.handleTimeout(now);
    }
    if (conn.state === 'established') {
      for (; sent - acked < INFLIGHT; sent++) conn.send(new Uint8Array(SIZE));
    }
    drain(server, true);
    drain(client, false);
  };
  drain(client, false);
  return (n: number): void => {
    const target = received + n;
    while (received < target) step();
  };
}

const builds = (process.argv[2] ?? '').split(';').map((b) => ({ name: b.slice(0, b.indexOf('=')), path: b.slice(b.indexOf('=') + 1) }));
if (builds.length !== 2 || builds.some((b) => b.name === '' || b.path === '')) throw new Error("usage: core-cpu-interleaved.ts 'a=…/dist;b=…/dist' [blocks] [messages]");
const blocks = Number(process.argv[3] ?? '60');
const messages = Number(process.argv[4] ?? '20000');
const runs = [await setup(builds[0]?.path as string), await setup(builds[1]?.path as string)];
// Warm-up: every path JIT-compiled in both builds.
for (let k = 0; k < 2; k++) for (const run of runs) run(messages * 3);
const ratios: number[] = [];
const totals = [0, 0];
for (let k = 0; k < blocks; k++) {
  const got = [0, 0];
  for (const i of k % 2 === 0 ? [0, 1] : [1, 0]) {
    const before = cpuUsage();
    (runs[i] as (n: number) => void)(messages);
    const used = cpuUsage(before);
    got[i] = ((used.user + used.system) * 1000) / messages;
    totals[i] = (totals[i] as number) + (got[i] as number);
  }
  ratios.push((got[1] as number) / (got[0] as number));
}
const sorted = ratios.sort((x, y) => x - y);
const q = (f: number): string => (sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))] as number).toFixed(3);
const a = builds[0] as { name: string };
const b = builds[1] as { name: string };
console.log(
  `${a.name} ${((totals[0] as number) / blocks).toFixed(0)} ns/message, ${b.name} ${((totals[1] as number) / blocks).toFixed(0)} ns/message (means of ${blocks} blocks of ${messages}); ` +
    `${b.name} ÷ ${a.name} per block pair: median ${q(0.5)}, quartiles ${q(0.25)}–${q(0.75)}, min–max ${q(0)}–${q(1)}`,
);
