/**
 * Where the idle connection's heap goes: opens N simulated rudp connections
 * as the many scenario does (one server endpoint, one client endpoint per
 * connection, a 64-byte greeting each, then 2 s idle), takes a V8 heap
 * snapshot before and after, and prints the objects that are new in the
 * second one per connection side (÷ 2N), grouped by constructor and by the
 * field that holds them (owner class . edge name).
 *
 * Usage (from bench/): node --expose-gc --import tsx src/tools/heap-per-connection.ts
 *   [connections=2000] [seed=1] [system=rudp] [rows=40] [fields|nosnap]
 * `fields` also lists one instance of each class field by field; `nosnap`
 * takes no snapshot and prints only the heap growth, as the many scenario
 * measures it (the snapshots themselves disturb that figure).
 */
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import { SimNetwork } from '../lib/rudp-imports.js';
import { makePayload } from '../integrity/payload.js';
import type { MessageEndpoint } from '../peers/message-endpoint.js';
import { SystemFactory, type SystemId } from '../peers/systems.js';
import { collectGarbage } from '../run/many-run.js';
import { BASE_LINK } from '../scenarios/link-variants.js';

const count = Number(process.argv[2] ?? '2000');
const seed = Number(process.argv[3] ?? '1');
const system = (process.argv[4] ?? 'rudp') as SystemId;
const rows = Number(process.argv[5] ?? '40');

interface Snapshot {
  readonly snapshot: { readonly meta: { readonly node_fields: string[]; readonly edge_fields: string[]; readonly node_types: [string[]]; readonly edge_types: [string[]] } };
  readonly nodes: number[];
  readonly edges: number[];
  readonly strings: string[];
}

function takeSnapshot(): Snapshot {
  collectGarbage();
  const file = writeHeapSnapshot(join(tmpdir(), `heap-per-connection-${process.pid}-${Date.now()}.heapsnapshot`));
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  rmSync(file);
  return parsed;
}

/** The snapshot's node ids, sorted (a typed array: it stays off the heap being measured). */
function ids(s: Snapshot): Float64Array {
  const nf = s.snapshot.meta.node_fields.length;
  const idAt = s.snapshot.meta.node_fields.indexOf('id');
  const out = new Float64Array(s.nodes.length / nf);
  for (let i = 0, k = 0; i < s.nodes.length; i += nf, k++) out[k] = s.nodes[i + idAt] as number;
  return out.sort();
}

function has(sorted: Float64Array, id: number): boolean {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = sorted[mid] as number;
    if (v === id) return true;
    if (v < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

const factory = await SystemFactory.load();
const sim = new SimNetwork({ seed, defaultLink: BASE_LINK });
const server = factory.create(system, sim.random('server'), true);
const clients: MessageEndpoint[] = [];
let connected = 0;
sim.addNode('server:1', server, { onActivity: () => { while (server.pollEvent()); } });
for (let i = 0; i < count; i++) {
  const address = `c${i}:1`;
  const client = factory.create(system, sim.random(address), false);
  clients.push(client);
  sim.setLinks(address, 'server:1', BASE_LINK);
  sim.addNode(address, client, {
    onActivity: () => {
      for (let ev = client.pollEvent(); ev; ev = client.pollEvent()) if (ev.type === 'connected') connected++;
    },
  });
}
const conns: unknown[] = new Array<unknown>(count).fill(undefined);

const noSnapshots = process.argv[6] === 'nosnap';
const before = noSnapshots ? new Float64Array(0) : ids(takeSnapshot());
collectGarbage();
const mem0 = process.memoryUsage();
for (let i = 0; i < count; i++) {
  sim.schedule((i * 1000) / count, (now) => {
    const client = clients[i] as MessageEndpoint;
    const conn = client.connect(now, 'server:1');
    conns[i] = conn;
    for (let ev = client.pollEvent(); ev; ev = client.pollEvent()) if (ev.type === 'connected') connected++;
    conn.send(makePayload(0, 64));
    sim.wake(`c${i}:1`);
  });
}
while (connected < count && sim.now < 60_000) sim.runFor(500);
sim.runFor(2_000);
collectGarbage();
const mem1 = process.memoryUsage();
if (noSnapshots) {
  console.log(`${system}, ${count} connections, seed ${seed}, per connection side: heapUsed +${((mem1.heapUsed - mem0.heapUsed) / (2 * count)).toFixed(0)} B, arrayBuffers +${((mem1.arrayBuffers - mem0.arrayBuffers) / (2 * count)).toFixed(0)} B`);
  process.exit(0);
}
const after = takeSnapshot();

const meta = after.snapshot.meta;
const nf = meta.node_fields.length;
const ef = meta.edge_fields.length;
const [nType, nName, nId, nSize, nEdges] = ['type', 'name', 'id', 'self_size', 'edge_count'].map((f) => meta.node_fields.indexOf(f)) as [number, number, number, number, number];
const [eType, eName, eTo] = ['type', 'name_or_index', 'to_node'].map((f) => meta.edge_fields.indexOf(f)) as [number, number, number];
const nodeTypes = meta.node_types[0];
const edgeTypes = meta.edge_types[0];
const nodeCount = after.nodes.length / nf;

const label = (n: number): string => {
  const type = nodeTypes[after.nodes[n * nf + nType] as number] as string;
  const name = after.strings[after.nodes[n * nf + nName] as number] as string;
  if (type === 'object' || type === 'closure') return name;
  if (type === 'string' || type === 'concatenated string' || type === 'sliced string') return `(${type})`;
  return `(${type}) ${name.length > 40 ? `${name.slice(0, 40)}…` : name}`;
};

// The first strong retainer of each node: its owner and the edge's name.
const owner = new Int32Array(nodeCount).fill(-1);
const ownerEdge: string[] = new Array<string>(nodeCount);
for (let n = 0, e = 0; n < nodeCount; n++) {
  const edgeCount = after.nodes[n * nf + nEdges] as number;
  for (let k = 0; k < edgeCount; k++, e += ef) {
    const type = edgeTypes[after.edges[e + eType] as number] as string;
    if (type === 'weak' || type === 'shortcut') continue;
    const to = (after.edges[e + eTo] as number) / nf;
    if (owner[to] !== -1) continue;
    owner[to] = n;
    const nameOrIndex = after.edges[e + eName] as number;
    ownerEdge[to] = type === 'element' || type === 'hidden' ? `[${type === 'hidden' ? 'h' : ''}${nameOrIndex}]` : (after.strings[nameOrIndex] as string);
  }
}

const byClass = new Map<string, { count: number; bytes: number }>();
const byField = new Map<string, { count: number; bytes: number }>();
let total = 0;
const add = (m: Map<string, { count: number; bytes: number }>, key: string, bytes: number): void => {
  const v = m.get(key) ?? { count: 0, bytes: 0 };
  v.count++;
  v.bytes += bytes;
  m.set(key, v);
};
for (let n = 0; n < nodeCount; n++) {
  if (has(before, after.nodes[n * nf + nId] as number)) continue;
  const bytes = after.nodes[n * nf + nSize] as number;
  total += bytes;
  const cls = label(n);
  add(byClass, cls, bytes);
  const o = owner[n] as number;
  // Arrays and their backing stores are named by the field that holds the array.
  let via = o;
  let path = ownerEdge[n] ?? '?';
  for (let hops = 0; hops < 3 && via >= 0 && (label(via) === 'Array' || label(via).startsWith('(array)')); hops++) {
    path = `${ownerEdge[via] ?? '?'}.${path}`;
    via = owner[via] as number;
  }
  add(byField, `${via >= 0 ? label(via) : '?'}.${path} -> ${cls}`, bytes);
}

const sides = 2 * count;
const print = (title: string, m: Map<string, { count: number; bytes: number }>): void => {
  console.log(`\n${title}: bytes per side, objects per side`);
  const sorted = [...m.entries()].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, rows);
  for (const [k, v] of sorted) console.log(`${(v.bytes / sides).toFixed(1).padStart(8)}  ${(v.count / sides).toFixed(2).padStart(6)}  ${k}`);
};
// heapUsed is left out here: the first snapshot's own garbage makes it meaningless (run with `nosnap`).
console.log(`${system}, ${count} connections, seed ${seed}: new objects in the snapshot ${(total / sides).toFixed(0)} B per connection side`);
print('by class', byClass);
print('by owner field', byField);

// One instance of each class (the first new one): its edges in order, to name the fields that hold boxed numbers and arrays.
const shown = new Set<string>();
for (let n = 0, e = 0; n < nodeCount; n++) {
  const edgeCount = after.nodes[n * nf + nEdges] as number;
  const first = e;
  e += edgeCount * ef;
  const type = nodeTypes[after.nodes[n * nf + nType] as number] as string;
  if (type !== 'object' || has(before, after.nodes[n * nf + nId] as number)) continue;
  const cls = label(n);
  if (shown.has(cls) || process.argv[6] !== 'fields') continue;
  shown.add(cls);
  const parts: string[] = [];
  for (let k = first; k < first + edgeCount * ef; k += ef) {
    const et = edgeTypes[after.edges[k + eType] as number] as string;
    if (et === 'weak' || et === 'shortcut') continue;
    const to = (after.edges[k + eTo] as number) / nf;
    const ni = after.edges[k + eName] as number;
    const name = et === 'element' || et === 'hidden' ? `[${et[0]}${ni}]` : (after.strings[ni] as string);
    if (name === 'map' || name === '__proto__') continue;
    const target = label(to);
    const size = after.nodes[to * nf + nSize] as number;
    parts.push(`${name}=${target.startsWith('(number)') ? 'NUM' : target}${target === 'Array' || target.includes('elements') ? `(${size})` : ''}`);
  }
  console.log(`\n${cls}: ${parts.join(', ')}`);
}
