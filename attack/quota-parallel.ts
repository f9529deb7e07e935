/**
 * Attack round 8: two 8 MB uploads of two accounts at once under --max-data-bytes 24 MB (they fit
 * together), their threads removed after, ITER times; then single 8 MB uploads after removals and
 * resets. Counts uploads refused for the quota although the directory held at most 16 MB.
 *
 *   npx tsx attack/quota-parallel.ts [iterations=15] [mode=parallel|rmv-reset]
 */
import { setMaxListeners } from 'node:events';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { session, startServer, type Session } from './forum-raw.js';
import { slowUpload } from './slow-upload.js';

const iterations = Number(process.argv[2] ?? 15);
const mode = process.argv[3] ?? 'parallel';
const dir = await mkdtemp(join(tmpdir(), 'a8-quota-'));
const port = 40_000 + Math.floor(Math.random() * 20_000);
// Each account's share of the quota (round 27's follow-up) as large as the quota: the forum-wide room is what is measured.
const server = await startServer(dir, port, port + 1, ['--max-data-bytes', '24000000', '--max-data-bytes-per-user', '24000000', '--min-free-bytes', '0']);
const abort = new AbortController();
setMaxListeners(0, abort.signal);
const [a, b] = (await Promise.all(['a', 'b'].map((u) => session(port, u, abort.signal)))) as [Session, Session];
const dirBytes = async (): Promise<number> => {
  let n = 0;
  for (const f of await readdir(dir)) n += (await stat(join(dir, f))).size;
  return n;
};
let refused = 0;
for (let i = 0; i < iterations; i++) {
  await a.request('CRT', [`qa${i}`]);
  await b.request('CRT', [`qb${i}`]);
  const before = await dirBytes();
  if (mode === 'parallel') {
    const [ga, gb] = await Promise.all([a.request('UPD', [`qa${i}`, 'big.bin']), b.request('UPD', [`qb${i}`, 'big.bin'])]);
    const [ra, rb] = await Promise.all([slowUpload(a, ga, 8_000_000, 16, 15, () => false), slowUpload(b, gb, 8_000_000, 16, 15, () => false)]);
    for (const r of [ra, rb]) if (r !== 'OK') {
      refused++;
      console.log(`iteration ${i}: directory held ${before} bytes before; ${r}`);
    }
  } else {
    const g = await a.request('UPD', [`qa${i}`, 'big.bin']);
    const cut = i % 2 === 0;
    const up = slowUpload(a, g, 8_000_000, 16, 15, (p) => cut && p === 8);
    if (!cut) {
      await new Promise((r) => setTimeout(r, 100));
      await a.request('RMV', [`qa${i}`]);
    }
    const r = await up;
    // Right after: a whole 8 MB upload to b's thread must fit (the directory holds nearly nothing).
    const g2 = await b.request('UPD', [`qb${i}`, 'next.bin']);
    const r2 = await slowUpload(b, g2, 8_000_000, 4, 0, () => false);
    if (r2 !== 'OK') {
      refused++;
      console.log(`iteration ${i} (${cut ? 'reset' : 'rmv'}: ${r.slice(0, 40)}): directory held ${before} bytes before; next: ${r2}`);
    }
  }
  await a.request('RMV', [`qa${i}`]).catch(() => undefined);
  await b.request('RMV', [`qb${i}`]);
}
console.log(`[${mode}] ${refused} uploads refused for the quota in ${iterations} iterations`);
abort.abort();
server.child.kill('SIGTERM');
await server.exited;
await rm(dir, { recursive: true, force: true });
process.exit(0);
