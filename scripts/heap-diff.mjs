#!/usr/bin/env node
// Compares two V8 heap snapshots of one process (e.g. the two that
// `soak.mjs --heap-snapshots DIR` writes). A snapshot holds only live objects
// (V8 collects before writing), so what grows between two snapshots taken
// under the same load is what the process retains.
//   default           count and self size per constructor, sorted by growth
//   --retainers NAME  what holds the objects of constructor NAME in AFTER
//                     (owner constructor and property path), repeatable
//   --new             the objects of AFTER that BEFORE did not have (node ids
//                     are stable within one process), grouped by kind and by
//                     the path that holds them: where the growth lives
//   --retained OWNER.EDGE  in both snapshots, the bytes only reachable through
//                     property EDGE of objects named OWNER (e.g. Connection.outbox,
//                     or "system / Context.entries" for a closure variable), repeatable
// Usage: node scripts/heap-diff.mjs BEFORE.heapsnapshot AFTER.heapsnapshot [--top N] [--retainers NAME]... [--new] [--retained OWNER.EDGE]...
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const USAGE = 'Usage: node scripts/heap-diff.mjs BEFORE.heapsnapshot AFTER.heapsnapshot [--top N] [--retainers NAME]... [--new] [--retained OWNER.EDGE]...';
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    top: { type: 'string', default: '25' },
    retainers: { type: 'string', multiple: true, default: [] },
    new: { type: 'boolean', default: false },
    retained: { type: 'string', multiple: true, default: [] },
  },
});
if (positionals.length !== 2) {
  console.error(USAGE);
  process.exit(2);
}
const TOP = Number(values.top);

/** A parsed snapshot with accessors by node offset (offsets index the flat `nodes` array). */
const load = (file) => {
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const { node_fields: nf, edge_fields: ef, node_types: nt, edge_types: et } = snap.snapshot.meta;
  const { nodes, edges, strings } = snap;
  const nw = nf.length;
  const ew = ef.length;
  const [iType, iName, iId, iSize, iEdges] = ['type', 'name', 'id', 'self_size', 'edge_count'].map((f) => nf.indexOf(f));
  const [eType, eName, eTo] = ['type', 'name_or_index', 'to_node'].map((f) => ef.indexOf(f));
  const nodeTypes = nt[0];
  const edgeTypes = et[0];
  const typeOf = (n) => nodeTypes[nodes[n + iType]];
  const nameOf = (n) => strings[nodes[n + iName]];
  /** Strings and code are grouped by type only: their "name" is their content. */
  const kindOf = (n) => {
    const t = typeOf(n);
    return t === 'object' || t === 'closure' || t === 'native' ? `${t}:${nameOf(n)}` : `${t}:`;
  };
  let incoming;
  /** Strong incoming edges of every node, built on first use: node → [from node, edge label]. */
  const incomingEdges = () => {
    if (incoming) return incoming;
    incoming = new Map();
    let e = 0;
    for (let n = 0; n < nodes.length; n += nw) {
      const ec = nodes[n + iEdges];
      for (let k = 0; k < ec; k++, e += ew) {
        const kind = edgeTypes[edges[e + eType]];
        if (kind === 'weak') continue;
        const raw = kind === 'element' || kind === 'hidden' ? edges[e + eName] : strings[edges[e + eName]];
        const label = /^\d+$/.test(String(raw)) ? '[i]' : `.${raw}`;
        const to = edges[e + eTo];
        const list = incoming.get(to);
        if (list) list.push([n, label]);
        else incoming.set(to, [[n, label]]);
      }
    }
    return incoming;
  };
  // Arrays, Maps, Sets and V8's backing stores are climbed through to the object that owns them, so a
  // path reads like "object:Connection .outbox.elements[i]" instead of "array: [i]".
  const container = (n) => typeOf(n) === 'array' || typeOf(n) === 'hidden' || (typeOf(n) === 'object' && /^(Array|Map|Set|Object)$/.test(nameOf(n)));
  const pathsTo = (n, suffix = '', depth = 5) => {
    const out = new Set();
    for (const [from, label] of incomingEdges().get(n) ?? []) {
      if (container(from) && depth > 0) for (const p of pathsTo(from, `${label}${suffix}`, depth - 1)) out.add(p);
      else out.add(`${kindOf(from).slice(0, 50)} ${label}${suffix}`);
    }
    return out;
  };
  /**
   * Self size of everything reachable from the root along strong edges, skipping the edges named
   * `edge` that leave objects named `owner` (none skipped when `owner` is undefined); and how many such edges there were.
   */
  const reachable = (owner, edge) => {
    const seen = new Uint8Array(nodes.length / nw);
    const stack = [0];
    seen[0] = 1;
    let size = 0;
    let cut = 0;
    // First edge index of every node.
    const firstEdge = new Uint32Array(nodes.length / nw + 1);
    for (let n = 0, e = 0; n < nodes.length; n += nw) {
      firstEdge[n / nw] = e;
      e += nodes[n + iEdges] * ew;
    }
    while (stack.length > 0) {
      const n = stack.pop();
      size += nodes[n + iSize];
      const skipOwner = owner !== undefined && nameOf(n) === owner;
      const start = firstEdge[n / nw];
      const end = start + nodes[n + iEdges] * ew;
      for (let e = start; e < end; e += ew) {
        const kind = edgeTypes[edges[e + eType]];
        if (kind === 'weak') continue;
        if (skipOwner && (kind === 'property' || kind === 'context' || kind === 'internal') && strings[edges[e + eName]] === edge) {
          cut++;
          continue;
        }
        const to = edges[e + eTo];
        if (seen[to / nw] === 1) continue;
        seen[to / nw] = 1;
        stack.push(to);
      }
    }
    return { size, cut };
  };
  const each = function* () {
    for (let n = 0; n < nodes.length; n += nw) yield n;
  };
  return { each, kindOf, nameOf, typeOf, idOf: (n) => nodes[n + iId], sizeOf: (n) => nodes[n + iSize], pathsTo, reachable, count: nodes.length / nw };
};

const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
const tally = (map, key, size) => {
  const g = map.get(key);
  if (g) {
    g.count++;
    g.size += size;
  } else map.set(key, { count: 1, size });
};

const before = load(positionals[0]);
const after = load(positionals[1]);

// ---------------------------------------------------------------- per constructor
const summarize = (s) => {
  const groups = new Map();
  let total = 0;
  for (const n of s.each()) {
    total += s.sizeOf(n);
    tally(groups, s.kindOf(n), s.sizeOf(n));
  }
  return { groups, total };
};
const a = summarize(before);
const b = summarize(after);
const rows = [...new Set([...a.groups.keys(), ...b.groups.keys()])].map((k) => {
  const x = a.groups.get(k) ?? { count: 0, size: 0 };
  const y = b.groups.get(k) ?? { count: 0, size: 0 };
  return { k, c0: x.count, c1: y.count, dc: y.count - x.count, ds: y.size - x.size };
});
rows.sort((p, q) => Math.abs(q.ds) - Math.abs(p.ds));
console.log(`nodes ${before.count} → ${after.count}, self size ${kib(a.total)} → ${kib(b.total)} (${kib(b.total - a.total)})`);
console.log('| type:constructor | count before | count after | Δ count | Δ self size |');
console.log('|---|---|---|---|---|');
for (const r of rows.slice(0, TOP)) console.log(`| ${r.k} | ${r.c0} | ${r.c1} | ${r.dc} | ${kib(r.ds)} |`);

// ---------------------------------------------------------------- who holds NAME
for (const name of values.retainers) {
  const paths = new Map();
  let total = 0;
  for (const n of after.each()) {
    if (after.typeOf(n) !== 'object' || after.nameOf(n) !== name) continue;
    total++;
    for (const p of after.pathsTo(n)) tally(paths, p, 0);
  }
  console.log(`\n${total} objects ${name} in AFTER, held by (strong edges):`);
  for (const [p, g] of [...paths].sort((x, y) => y[1].count - x[1].count).slice(0, 15)) console.log(`  ${g.count}\t${p}`);
}

// ---------------------------------------------------------------- where the new objects live
if (values.new) {
  const old = new Set();
  for (const n of before.each()) old.add(before.idOf(n));
  const groups = new Map();
  let count = 0;
  let size = 0;
  for (const n of after.each()) {
    if (old.has(after.idOf(n))) continue;
    count++;
    size += after.sizeOf(n);
    const paths = [...after.pathsTo(n)];
    tally(groups, `${after.kindOf(n).slice(0, 40)}  ←  ${paths.length === 0 ? '(no strong retainer)' : paths.slice(0, 2).join(' | ')}`, after.sizeOf(n));
  }
  console.log(`\n${count} objects (${kib(size)}) in AFTER that BEFORE did not have, by kind and holder:`);
  console.log('| count | self size | kind ← held by |');
  console.log('|---|---|---|');
  for (const [k, g] of [...groups].sort((x, y) => y[1].size - x[1].size).slice(0, TOP)) console.log(`| ${g.count} | ${kib(g.size)} | ${k.replaceAll('|', '\\|')} |`);
}

// ---------------------------------------------------------------- bytes held through OWNER.EDGE
if (values.retained.length > 0) {
  console.log('\n| held only through | edges | before | after | Δ |');
  console.log('|---|---|---|---|---|');
  const all = [before.reachable().size, after.reachable().size];
  for (const spec of values.retained) {
    const dot = spec.lastIndexOf('.');
    const [owner, edge] = [spec.slice(0, dot), spec.slice(dot + 1)];
    const x = before.reachable(owner, edge);
    const y = after.reachable(owner, edge);
    const held = [all[0] - x.size, all[1] - y.size];
    console.log(`| ${owner}.${edge} | ${x.cut} → ${y.cut} | ${kib(held[0])} | ${kib(held[1])} | ${kib(held[1] - held[0])} |`);
  }
  console.log(`| (whole reachable heap) | | ${kib(all[0])} | ${kib(all[1])} | ${kib(all[1] - all[0])} |`);
}
