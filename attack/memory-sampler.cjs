/**
 * A preload for the server an attack script starts: samples `process.memoryUsage()` every 50 ms and writes
 * the peaks (MiB: RSS, V8 heap, external, ArrayBuffers), the breakdown at the RSS peak and V8's heap spaces
 * there to $MEM_SAMPLE_FILE, as JSON, after each sample. Only the server process samples (the attack's own
 * node processes inherit NODE_OPTIONS too):
 *
 *   MEM_SAMPLE_FILE=/tmp/mem.json NODE_OPTIONS="--require ./attack/memory-sampler.cjs" \
 *     npx tsx attack/many-hosts-backlog.ts 32 10 3.9 30 4
 */
const file = process.env.MEM_SAMPLE_FILE;
if (file && /forum-server\.js$/.test(process.argv[1] || '')) {
  const fs = require('node:fs');
  const v8 = require('node:v8');
  const KEYS = ['rss', 'heapTotal', 'heapUsed', 'external', 'arrayBuffers'];
  const mib = (m) => Object.fromEntries(KEYS.map((k) => [k, Math.round(m[k] / 1048576)]));
  const base = process.memoryUsage();
  const peak = { ...base };
  let atRssPeak = base;
  let spaces = {};
  setInterval(() => {
    const m = process.memoryUsage();
    for (const k of KEYS) peak[k] = Math.max(peak[k], m[k]);
    if (m.rss >= peak.rss) {
      atRssPeak = m;
      spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, `${Math.round(s.space_used_size / 1048576)}/${Math.round(s.physical_space_size / 1048576)}`]));
    }
    fs.writeFileSync(file, `${JSON.stringify({ base: mib(base), peak: mib(peak), atRssPeak: mib(atRssPeak), spaces })}\n`);
  }, 50).unref();
}
