/**
 * The main thread's time to encode the RDT reply of a full thread (4 MiB of JSON), by the shape of its text:
 * every read a miss (12 threads read in turn, more than a 32 MiB cache of encoded lines holds) and, where the
 * build has `EncodedLinesCache`, the same thread read again (a hit: its lines copied into the reply). Pass
 * another build's forum-protocol (its dist/index.js) to compare, e.g. a copy of main's.
 *
 * Usage (from the repository root): npx tsx bench/src/tools/rdt-encode-cost.ts [path/to/forum-protocol/dist/index.js]
 */
import { fileURLToPath } from 'node:url';
import type * as Protocol from 'forum-protocol';

type Thread = Protocol.Thread;

const path = process.argv[2] ?? fileURLToPath(new URL('../../../packages/forum-protocol/dist/index.js', import.meta.url));
const fp = (await import(path)) as typeof Protocol & { readonly EncodedLinesCache?: typeof Protocol.EncodedLinesCache };

/** A thread of `n` messages of `text` (and their number, so no two are alike). */
const thread = (k: number, n: number, text: string): Thread => ({
  title: `t${k}`,
  creator: 'alice',
  entries: Array.from({ length: n }, (_, i) => ({ kind: 'message' as const, author: 'alice', text: `${text}${i}` })),
});
const SHAPES: Readonly<Record<string, (k: number) => Thread>> = {
  '1,000 messages of 4,000 characters': (k) => thread(k, 1000, 'lorem ipsum '.repeat(334).slice(0, 3996)),
  '10,000 messages of 400 characters': (k) => thread(k, 10_000, 'x'.repeat(396)),
  '1,000 messages of 650 controls (JSON escapes)': (k) => thread(k, 1000, '\u0001'.repeat(650)),
};

/** Milliseconds to make and encode `th`'s RDT reply as the server does. */
const encodeMs = (th: Thread, id: number, cache: Protocol.EncodedLinesCache | undefined): number => {
  const t0 = performance.now();
  const lines = fp.threadLines(th);
  fp.encodeServerMessage(fp.simpleReply(String(id), 'ok', lines, { kind: 'threadLines', title: th.title, count: lines.length }), cache);
  return performance.now() - t0;
};
const median = (xs: number[]): string => (xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0).toFixed(1);

for (const [name, make] of Object.entries(SHAPES)) {
  const threads = Array.from({ length: 12 }, (_, k) => make(k));
  const cache = fp.EncodedLinesCache === undefined ? undefined : new fp.EncodedLinesCache(32 * 1024 * 1024);
  // The first round warms the code up; the next two are measured.
  const misses = Array.from({ length: 36 }, (_, i) => encodeMs(threads[i % 12] as Thread, i, cache)).slice(12);
  const hits = cache === undefined ? [] : Array.from({ length: 16 }, (_, i) => encodeMs(threads[11] as Thread, i, cache)).slice(1);
  console.log(`${name}: every read a miss ${median(misses)} ms (median of 24)${cache === undefined ? ', no cache in this build' : `; read again ${median(hits)} ms (median of 15)`}`);
}
