// Preloaded into the server by scripts/soak.mjs (`node --expose-gc --require
// scripts/memory-probe.cjs …`), so the soak can see the server's heap without
// the server knowing about it. Talks over the IPC channel the soak opens:
//   {probe:'sample', gc:boolean}  → {probe:'memory', rss, heapUsed, heapTotal, external, arrayBuffers, gc, spaces}
//   {probe:'snapshot', path}      → {probe:'snapshot', path}   (v8.writeHeapSnapshot; forces a full GC)
// A sample with gc:true runs a full collection first, so its heapUsed is the
// live heap: the number a leak makes grow and garbage does not.
// Does nothing when the process has no IPC channel (a server started by hand).
'use strict';
const v8 = require('node:v8');

if (typeof process.send === 'function') {
  process.on('message', (m) => {
    if (m === null || typeof m !== 'object') return;
    if (m.probe === 'sample') {
      const collect = m.gc === true && typeof globalThis.gc === 'function';
      if (collect) globalThis.gc();
      const u = process.memoryUsage();
      // Per V8 space (new, old, code, large object…): size reserved and size used, to tell garbage and heap sizing from live data.
      const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((x) => [x.space_name, { size: x.space_size, used: x.space_used_size }]));
      process.send({ probe: 'memory', rss: u.rss, heapUsed: u.heapUsed, heapTotal: u.heapTotal, external: u.external, arrayBuffers: u.arrayBuffers, gc: collect, spaces });
    } else if (m.probe === 'snapshot' && typeof m.path === 'string') {
      const path = v8.writeHeapSnapshot(m.path);
      process.send({ probe: 'snapshot', path });
    }
  });
  // The server must still exit on its own terms, not be held open by the probe
  // (after `on('message')`, which refs the channel).
  process.channel?.unref();
}
