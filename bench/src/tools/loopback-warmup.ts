/**
 * How a loopback run's CPU per byte settles with time: one connection of
 * `size`-byte writes for rudp (messages, as `loopback-paired.ts` writes them),
 * rudp's `stream()` and udx-native (byte streams), each run in turn in a
 * fresh process for `seconds`, its CPU s/GB and MB/s printed per
 * half-second slice, and over the rounds the median of each slice's
 * rudp ÷ udx-native CPU per byte.
 *
 * Why: the bench's real-UDP part counts from 300 ms to 1.3 s after the
 * start. rudp is JavaScript (its JIT warms up, and its congestion window
 * opens) while udx-native is C; on a shared, loaded VM rudp's first seconds
 * cost several times its steady CPU per byte. This tells the two apart.
 *
 * Usage (from bench/): node --import tsx src/tools/loopback-warmup.ts
 *   [size=1024] [rounds=4] [seconds=4]
 */
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { loadUdx } from '../peers/udx-native.js';
import { udxStreamPair } from '../udp/throughput.js';
import { cell } from './median-cell.js';

/** Half-second slices of one run: CPU s/GB and MB/s each. */
interface Slices {
  readonly cpuPerGB: readonly number[];
  readonly mbPerSec: readonly number[];
}

/** The writer and the byte counter of one connection. */
interface Pair {
  readonly writer: { write(chunk: Uint8Array): boolean; on(event: 'drain', listener: () => void): unknown };
  readonly receivedBytes: () => number;
  close(): Promise<void>;
}

const SLICE_MS = 500;

/** Writes until `write` says wait, then on `'drain'`; measures every slice of `seconds`. */
async function measure(pair: Pair, size: number, seconds: number): Promise<Slices> {
  const chunk = Buffer.alloc(size, 7);
  let stop = false;
  const pump = (): void => {
    while (!stop && pair.writer.write(chunk)) {
      // keep writing until the writer asks us to wait
    }
  };
  pair.writer.on('drain', pump);
  pump();
  const cpuPerGB: number[] = [];
  const mbPerSec: number[] = [];
  for (let i = 0; i < (seconds * 1000) / SLICE_MS; i++) {
    const b0 = pair.receivedBytes();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await sleep(SLICE_MS);
    const c = process.cpuUsage(c0);
    const bytes = pair.receivedBytes() - b0;
    cpuPerGB.push(((c.user + c.system) / 1e6 / bytes) * 1e9);
    mbPerSec.push(bytes / (performance.now() - t0) / 1e3);
  }
  stop = true;
  await pair.close();
  return { cpuPerGB, mbPerSec };
}

type RudpApi = typeof import('rudpx');

async function rudpPair(asStream: boolean): Promise<Pair> {
  const api = (await import('rudpx')) as RudpApi;
  const server = await api.listen({ port: 0 });
  let received = 0;
  server.on('connection', (c) => {
    if (asStream)
      c.stream().on('data', (d: Buffer) => {
        received += d.length;
      });
    else
      c.on('message', (m: Buffer) => {
        received += m.length;
      });
  });
  const client = await api.connect({ port: server.address().port });
  const stream = asStream ? client.stream() : undefined;
  stream?.on('error', () => {});
  return {
    writer: stream ?? client,
    receivedBytes: () => received,
    close: async () => {
      client.destroy();
      await server.close();
    },
  };
}

function udxPair(): Pair {
  const UDX = loadUdx();
  if (typeof UDX === 'string') throw new Error(`udx-native: ${UDX}`);
  return udxStreamPair(UDX);
}

const PEERS = ['rudp', 'rudp stream()', 'udx-native'] as const;
type Peer = (typeof PEERS)[number];

const self = fileURLToPath(import.meta.url);
if (process.argv[2] === '--one') {
  const peer = process.argv[3] as Peer;
  const pair = peer === 'udx-native' ? udxPair() : await rudpPair(peer === 'rudp stream()');
  console.log(JSON.stringify(await measure(pair, Number(process.argv[4]), Number(process.argv[5]))));
} else {
  const size = process.argv[2] ?? '1024';
  const rounds = Number(process.argv[3] ?? '4');
  const seconds = process.argv[4] ?? '4';
  const runs = new Map<Peer, Slices[]>(PEERS.map((p) => [p, []]));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 1 ? [...PEERS].reverse() : PEERS;
    for (const peer of order) {
      const out = execFileSync(process.execPath, [...process.execArgv, self, '--one', peer, size, seconds], { encoding: 'utf8' });
      runs.get(peer)?.push(JSON.parse(out.trim().split('\n').pop() as string) as Slices);
    }
  }
  const slices = (Number(seconds) * 1000) / SLICE_MS;
  const udx = runs.get('udx-native') as Slices[];
  for (const peer of PEERS) {
    const list = runs.get(peer) as Slices[];
    console.log(`${peer}, ${size} B:`);
    for (let i = 0; i < slices; i++) {
      const ratio = peer === 'udx-native' ? '' : `; ÷ udx-native (same round) ${cell(list.map((r, k) => (r.cpuPerGB[i] as number) / (udx[k]?.cpuPerGB[i] as number)))}`;
      console.log(`  ${((i * SLICE_MS) / 1000).toFixed(1)}–${(((i + 1) * SLICE_MS) / 1000).toFixed(1)} s: CPU s/GB ${cell(list.map((r) => r.cpuPerGB[i] as number))}; MB/s ${cell(list.map((r) => r.mbPerSec[i] as number), 1)}${ratio}`);
    }
  }
}
