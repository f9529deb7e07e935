/**
 * Attack round 14: a preload for the server a churn script starts (`churn-lib.ts` runs it with
 * `--expose-gc --require ./attack/churn-probe.cjs`). At each SIGUSR2 it collects the garbage (three
 * full GCs), then writes to $CHURN_PROBE_FILE, as JSON: `process.memoryUsage()`, the open
 * descriptors (/proc/self/fd), the active resources by kind (`process.getActiveResourcesInfo()`:
 * timers, sockets, handles), and when the file $CHURN_PROBE_FILE.snap exists (it is then deleted:
 * churn-lib.ts makes it for the probes that want one) a heap snapshot's nodes counted by kind and
 * name (objects by constructor, "(object elements)", "system / OrderedHashMap"…, strings as one row)
 * with their self sizes, so two probes can be diffed per constructor. `seq` counts the probes.
 * Only the server process probes (its children and the attack's node processes inherit nothing).
 */
const file = process.env.CHURN_PROBE_FILE;
if (file && /forum-server\.js$/.test(process.argv[1] || '')) {
  const fs = require('node:fs');
  const v8 = require('node:v8');
  let seq = 0;
  /** Heap snapshot nodes by `type:name`: count and self bytes (strings lumped: their name is their text). */
  const snapshotCounts = () => {
    const snap = JSON.parse(fs.readFileSync(v8.writeHeapSnapshot(`${file}.heapsnapshot`), 'utf8'));
    fs.rmSync(`${file}.heapsnapshot`, { force: true });
    const meta = snap.snapshot.meta;
    const fields = meta.node_fields.length;
    const types = meta.node_types[0];
    const iType = meta.node_fields.indexOf('type');
    const iName = meta.node_fields.indexOf('name');
    const iSize = meta.node_fields.indexOf('self_size');
    const rows = new Map();
    const nodes = snap.nodes;
    for (let i = 0; i < nodes.length; i += fields) {
      const type = types[nodes[i + iType]];
      const name = type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'number' ? '' : snap.strings[nodes[i + iName]];
      const key = `${type}:${name.length > 60 ? `${name.slice(0, 60)}…` : name}`;
      const r = rows.get(key);
      if (r === undefined) rows.set(key, [1, nodes[i + iSize]]);
      else {
        r[0]++;
        r[1] += nodes[i + iSize];
      }
    }
    return Object.fromEntries([...rows].filter(([, r]) => r[0] >= 20 || r[1] >= 65536));
  };
  process.on('SIGUSR2', () => {
    for (let i = 0; i < 3; i++) global.gc?.();
    const wanted = fs.existsSync(`${file}.snap`);
    fs.rmSync(`${file}.snap`, { force: true });
    const kinds = {};
    for (const k of process.getActiveResourcesInfo()) kinds[k] = (kinds[k] ?? 0) + 1;
    const out = {
      seq: ++seq,
      memory: process.memoryUsage(),
      fds: fs.readdirSync('/proc/self/fd').length,
      resources: kinds,
      counts: wanted ? snapshotCounts() : undefined,
    };
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(out));
    fs.renameSync(`${file}.tmp`, file);
  });
}
