/**
 * Heap bytes rudp allocates per message, measured deterministically: a
 * client and a server `Endpoint` (encrypted, the default crypto provider)
 * are driven in this process by a fixed-delay virtual link, with no
 * simulator and no sockets in between. After a warm-up, one window of
 * messages runs between two forced GCs with a young generation large enough
 * that no collection happens inside it (checked with `v8.GCProfiler`), so
 * the growth of the young generation is exactly what was allocated: no
 * sampling. Growth of the other spaces (code, feedback: the JIT's) is shown apart.
 *
 * The driver's own share is one exact-size copy of each datagram (a socket
 * hands over a fresh buffer per datagram too; a view of rudp's send slab
 * would change what reassembly copies) and one `Uint8Array` per message sent.
 *
 * Modes:
 * - `idle`: `connections` connections, each sending a 16-byte message every
 *   10 s (staggered), the server echoing nothing: the many scenario's traffic.
 * - `stream`: one connection sending 64 KiB messages back to back (at most
 *   8 unacknowledged).
 * - `small`: one connection sending 64-byte messages back to back (at most
 *   1,000 unacknowledged: some 20 share a packet, as the loopback bench's do).
 *
 * `--predictable` (one thread, seeded hashing) makes the figure repeat to the
 * byte; without it it wanders by some 10% with the JIT's timing.
 * `profile` as a fourth argument also prints the functions that allocated
 * most in the window (V8's sampling heap profiler, collected objects included).
 *
 * Usage (from bench/): node --expose-gc --predictable --random-seed=1 --hash-seed=1
 *   --min-semi-space-size=256 --max-semi-space-size=256 --import tsx src/tools/alloc-per-message.ts
 *   [mode=idle] [messages=2000] [connections=200] [profile]
 */
import { Session } from 'node:inspector';
import { GCProfiler, getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import { defaultCryptoProvider } from 'rudpx';
import { type Connection, Endpoint, type EndpointEvent, formatAddress } from 'rudpx/core';
import { createRandom } from '../lib/rudp-imports.js';

const mode = process.argv[2] ?? 'idle';
const windowMessages = Number(process.argv[3] ?? '2000');
const connections = mode === 'stream' || mode === 'small' ? 1 : Number(process.argv[4] ?? '200');
const ONE_WAY_MS = 5;
const IDLE_INTERVAL_MS = 10_000;
const STREAM_SIZE = mode === 'small' ? 64 : 64 * 1024;
const STREAM_INFLIGHT = mode === 'small' ? 1000 : 8;

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

const random = createRandom(1);
const server = new Endpoint({ random, acceptIncoming: true, crypto: defaultCryptoProvider });
const serverAddress = formatAddress('10.0.0.1', 4000);
const clients: Endpoint[] = [];
const clientAddress: string[] = [];
const conns: Connection[] = [];
let now = 0;

/** The link: datagrams in flight, FIFO (every datagram takes the same time). */
const flightAt: number[] = [];
const flightTo: number[] = []; // -1: the server, else a client index
const flightFrom: string[] = [];
const flightData: Uint8Array[] = [];
let flightHead = 0;

let received = 0;
let sent = 0;
let acked = 0;

function drain(e: Endpoint, index: number): void {
  for (let t = e.pollTransmit(now); t !== undefined; t = e.pollTransmit(now)) {
    flightAt.push(now + ONE_WAY_MS);
    if (index < 0) {
      flightTo.push(Number(t.to.slice(t.to.lastIndexOf(':') + 1)) - 10_000);
      flightFrom.push(serverAddress);
    } else {
      flightTo.push(-1);
      flightFrom.push(clientAddress[index] as string);
    }
    flightData.push(t.data);
  }
  for (let ev: EndpointEvent | undefined = e.pollEvent(); ev !== undefined; ev = e.pollEvent()) {
    if (ev.type === 'message') received++;
    else if (ev.type === 'acked') acked += ev.count;
  }
}

function endpointAt(i: number): Endpoint {
  return i < 0 ? server : (clients[i] as Endpoint);
}

/** Next time each client sends (idle mode). */
const nextSend: number[] = [];

function step(): void {
  let t = Number.POSITIVE_INFINITY;
  if (flightHead < flightAt.length) t = flightAt[flightHead] as number;
  for (let i = -1; i < clients.length; i++) t = Math.min(t, endpointAt(i).pollTimeout() ?? Number.POSITIVE_INFINITY);
  if (mode === 'idle') for (const s of nextSend) t = Math.min(t, s);
  if (!Number.isFinite(t)) throw new Error('nothing left to do');
  now = Math.max(now, t);
  while (flightHead < flightAt.length && (flightAt[flightHead] as number) <= now) {
    const to = flightTo[flightHead] as number;
    const data = flightData[flightHead] as Uint8Array;
    endpointAt(to).handleDatagram(now, new Uint8Array(data), flightFrom[flightHead] as string);
    flightData[flightHead] = EMPTY;
    flightHead++;
  }
  if (flightHead > 4096 && flightHead * 2 > flightAt.length) {
    flightAt.splice(0, flightHead);
    flightTo.splice(0, flightHead);
    flightFrom.splice(0, flightHead);
    flightData.splice(0, flightHead);
    flightHead = 0;
  }
  for (let i = -1; i < clients.length; i++) {
    const e = endpointAt(i);
    const due = e.pollTimeout();
    if (due !== undefined && due <= now) e.handleTimeout(now);
  }
  if (mode === 'idle') {
    for (let i = 0; i < nextSend.length; i++) {
      if ((nextSend[i] as number) <= now) {
        (conns[i] as Connection).send(payload16);
        sent++;
        nextSend[i] = now + IDLE_INTERVAL_MS;
      }
    }
  } else {
    const c = conns[0] as Connection;
    while (sent - acked < STREAM_INFLIGHT) {
      c.send(new Uint8Array(STREAM_SIZE));
      sent++;
    }
  }
  for (let i = -1; i < clients.length; i++) drain(endpointAt(i), i);
}

const EMPTY = new Uint8Array(0);
const payload16 = new Uint8Array(16);

for (let i = 0; i < connections; i++) {
  const e = new Endpoint({ random, crypto: defaultCryptoProvider });
  clients.push(e);
  clientAddress.push(formatAddress('10.0.1.1', 10_000 + i));
  conns.push(e.connect(now, serverAddress, { serverKey: server.publicKey as Uint8Array }));
  nextSend.push(Number.POSITIVE_INFINITY);
}
// Connect everyone, then start the staggered sends.
for (let i = 0; i < connections; i++) drain(clients[i] as Endpoint, i);
while (conns.some((c) => c.state === 'handshake')) step();
for (let i = 0; i < connections; i++) nextSend[i] = now + 1 + (i * IDLE_INTERVAL_MS) / connections;

/** Bytes used in the young generation: where every JS object is allocated (old-space growth is the JIT's). */
function young(): number {
  let n = 0;
  for (const s of getHeapSpaceStatistics()) if (s.space_name === 'new_space' || s.space_name === 'new_large_object_space') n += s.space_used_size;
  return n;
}

function runMessages(n: number): void {
  const target = received + n;
  while (received < target) step();
}

const datagrams = (): number => server.stats().datagramsReceived + server.stats().datagramsSent;
// Warm-up: every code path JIT-compiled, every connection past its first messages.
runMessages(Math.max(3 * windowMessages, 3 * connections));

const profile = process.argv[5] === 'profile';
const session = new Session();
if (profile) {
  session.connect();
  session.post('HeapProfiler.startSampling', { samplingInterval: 64, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
}
gc();
gc();
const messagesBefore = received;
const datagramsBefore = datagrams();
const profiler = new GCProfiler();
profiler.start();
const before = getHeapStatistics();
const youngBefore = young();
runMessages(windowMessages);
const youngAfter = young();
const after = getHeapStatistics();
const gcs = profiler.stop().statistics.length;
const messages = received - messagesBefore;
const heapBytes = youngAfter - youngBefore;
const otherBytes = after.used_heap_size - before.used_heap_size - heapBytes;
const externalBytes = after.external_memory - before.external_memory;
const perDatagram = (datagrams() - datagramsBefore) / messages;

console.log(
  `${mode}: ${messages} messages over ${connections} connection(s), ${perDatagram.toFixed(2)} server datagrams (in + out) per message; ` +
    `heap allocated ${(heapBytes / messages).toFixed(0)} B/message, external ${(externalBytes / messages).toFixed(0)} B/message, other spaces (JIT) ${(otherBytes / messages).toFixed(0)} B/message` +
    (gcs > 0 ? ` — ${gcs} GC(s) ran inside the window: figures are too LOW, raise --min-semi-space-size` : ' (no GC in the window: exact)'),
);

interface ProfileNode {
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly selfSize: number;
  readonly children: readonly ProfileNode[];
}

if (profile) {
  session.post('HeapProfiler.stopSampling', (err, result) => {
    if (err) throw err;
    const bySite = new Map<string, number>();
    const name = (n: ProfileNode): string => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(src|dist)\//, '')}:${n.callFrame.lineNumber + 1}`;
    // A builtin (no script) is named with its caller: "subarray ← parseHeader".
    const walk = (n: ProfileNode, parent: string): void => {
      const site = n.callFrame.url === '' && parent !== '' ? `${n.callFrame.functionName} ← ${parent}` : name(n);
      bySite.set(site, (bySite.get(site) ?? 0) + n.selfSize);
      for (const c of n.children) walk(c, n.callFrame.url === '' ? parent : name(n));
    };
    walk((result as { profile: { head: ProfileNode } }).profile.head, '');
    const rows = [...bySite].sort((a, b) => b[1] - a[1]).slice(0, 30);
    for (const [site, bytes] of rows) console.log(`${(bytes / messages).toFixed(0).padStart(7)} B/message  ${site}`);
  });
}
