/**
 * A lone client reading full threads, one RDT at a time (no other client): each RDT's round trip, for a
 * before/after comparison of a change to how large replies are served (`A10_SERVER_BIN`, another build).
 * `count` RDTs of a 3.9 MiB thread read again and again (its encoded lines cached after the first), then `count`
 * of 12 distinct ones in turn (each a miss of a 32 MiB cache).
 *
 *   npx tsx attack/lone-read.ts [count=20] [server options…]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { largeThreadFile } from '../packages/server/test/large-thread.js';
import { session, startServer } from './forum-raw.js';

const count = Number(process.argv[2] ?? 20);
const extra = process.argv.slice(3);
const DISTINCT = 12;

const dir = await mkdtemp(join(tmpdir(), 'lone-read-'));
await writeFile(join(dir, 'credentials.txt'), 'alice pw-alice\nreader pw-reader\n');
const full = largeThreadFile('alice', Math.floor((3.9 * 1024 * 1024) / 4012));
await writeFile(join(dir, 'big'), full);
for (let i = 0; i < DISTINCT; i++) await writeFile(join(dir, `big-${i}`), full);
const port = 40_000 + Math.floor(Math.random() * 20_000);
const server = await startServer(dir, port, port + 1, extra);
const abort = new AbortController();
const s = await session(port, 'reader', abort.signal);

/** p50 / p99 / max of `ms`, rounded to 0.1 ms. */
const stat = (ms: readonly number[]): string => {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (p: number): string => (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number).toFixed(1);
  return `p50 ${at(50)} ms, p99 ${at(99)} ms, max ${(sorted.at(-1) as number).toFixed(1)} ms (${sorted.length})`;
};

const timed = async (title: string): Promise<number> => {
  const t0 = performance.now();
  const r = await s.request('RDT', [title]);
  if (r.status !== 'ok' || r.lines.length < 900) throw new Error(`RDT ${title}: ${r.lines[0] ?? r.status}`);
  return performance.now() - t0;
};

// One read first: the connection's windows open and the code is warm.
await timed('big');
const same: number[] = [];
for (let i = 0; i < count; i++) same.push(await timed('big'));
const distinct: number[] = [];
for (let i = 0; i < count; i++) distinct.push(await timed(`big-${i % DISTINCT}`));
console.log(`lone client, RDT of a 3.9 MiB thread one at a time: the same thread ${stat(same)}; ${DISTINCT} distinct in turn ${stat(distinct)}`);
abort.abort();
server.child.kill('SIGTERM');
await server.exited;
await rm(dir, { recursive: true, force: true });
process.exit(0);
