/**
 * Attack round 15: a thread of many upload lines. Accounts (one per loopback address) upload 1-byte files to
 * one thread until it holds N of them; then measures what a MSG to it costs the server (CPU from /proc, and
 * latency) against a MSG to an empty thread, and what its RMV costs: how long it takes and how long another
 * account's CRT waits behind it (RMV, CRT, new accounts and upload commits share one lock).
 *
 *   npx tsx attack/upload-lines.ts [uploads=4000] [accounts=8] [server options…]
 */
import { setMaxListeners } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { session, startServer, upload, type Session } from './forum-raw.js';

const total = Number(process.argv[2] ?? 4000);
const accounts = Number(process.argv[3] ?? 8);
const extra = process.argv.slice(4);
const dir = await mkdtemp(join(tmpdir(), 'a15-lines-'));
const port = 40_000 + Math.floor(Math.random() * 20_000);
const server = await startServer(dir, port, port + 1, extra);
const abort = new AbortController();
setMaxListeners(0, abort.signal);

/** The server's CPU time so far, ms (utime + stime of /proc/PID/stat, 100 ticks a second). */
const cpuMs = async (): Promise<number> => {
  const f = (await readFile(`/proc/${server.child.pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
  return (Number(f[11]) + Number(f[12])) * 10;
};


const addr = (i: number): string => `127.0.18.${i + 1}`;
const sessions = await Promise.all(Array.from({ length: accounts }, (_, i) => session(port, `l${i}`, abort.signal, addr(i))));
const [owner, other] = sessions as [Session, Session];
await owner.request('CRT', ['many']);
await owner.request('CRT', ['empty']);
let next = 0;
let done = 0;
let failed = 0;
const t0 = performance.now();
await Promise.all(
  sessions.flatMap((s, i) =>
    Array.from({ length: 4 }, async () => {
      while (next < total) {
        const name = `f${next++}`;
        const g = await s.request('UPD', ['many', name]);
        if (await upload(s, g, Buffer.from('x'), abort.signal, addr(i))) done++;
        else failed++;
      }
    }),
  ),
);
const files = (await readdir(dir)).length;
console.log(`${done} uploads (${failed} failed) in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${files} files in the data directory`);

/** `n` MSGs to `title` one after another: the server's CPU and the latencies. */
const posts = async (title: string, n: number): Promise<string> => {
  const c0 = await cpuMs();
  const lat: number[] = [];
  for (let k = 0; k < n; k++) {
    const a = performance.now();
    const r = await other.request('MSG', [title, `message ${k}`]);
    lat.push(performance.now() - a);
    if (!(r.lines[0] ?? '').startsWith('Message posted')) return `refused: ${r.lines.join('|')}`;
  }
  const c1 = await cpuMs();
  lat.sort((x, y) => x - y);
  return `${n} MSGs to ${title}: server CPU ${((c1 - c0) / n).toFixed(1)} ms a MSG, latency p50 ${lat[Math.floor(n / 2)]?.toFixed(1)} ms, max ${lat[n - 1]?.toFixed(1)} ms`;
};
console.log(await posts('empty', 100));
console.log(await posts('many', 100));
console.log(await posts('empty', 100));

// RMV of the thread, and another account's CRT sent 5 ms after it.
const c0 = await cpuMs();
const a = performance.now();
const rmv = owner.request('RMV', ['many']).then((r) => ({ r, ms: performance.now() - a }));
await new Promise((r) => setTimeout(r, 5));
const b = performance.now();
const crt = await other.request('CRT', ['newcomer']).then((r) => ({ r, ms: performance.now() - b }));
const removed = await rmv;
console.log(`RMV: ${removed.r.lines.join('|')} in ${removed.ms.toFixed(0)} ms (server CPU ${(await cpuMs()) - c0} ms); a CRT sent 5 ms later: ${crt.r.lines.join('|')} in ${crt.ms.toFixed(0)} ms; ${(await readdir(dir)).length} files left`);
abort.abort();
server.child.kill('SIGTERM');
await server.exited;
await rm(dir, { recursive: true, force: true });
