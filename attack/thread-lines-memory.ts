/**
 * Attack round 25: what a line of a thread costs the data-directory server in memory, against what
 * `--max-thread-bytes` counts (its bytes). One-character MSGs are the most lines per counted byte.
 *
 *   npx tsx attack/thread-lines-memory.ts load [MiB=231] [chars=1]
 *     writes thread files of 10,000 lines `N a: x…` (`chars` characters of text) totalling MiB, starts
 *     the built server on them with its defaults, and reports its resident set once it waits for clients
 *     (what such lines cost, however they came; and whether a new login is still let in);
 *   npx tsx attack/thread-lines-memory.ts post [seconds=60] [hosts=4] [accounts=4] [inflight=8] [limit]
 *     starts the built server with its defaults (`--max-thread-bytes limit` if given) and has `accounts`
 *     accounts on each of `hosts` loopback addresses post one-character MSGs to threads of their own,
 *     `inflight` at a time each; reports lines taken, the rate, resident growth per line, what was refused,
 *     and the time the rate needs to fill 256 MiB of such lines;
 *   npx tsx attack/thread-lines-memory.ts heap [threads=50] [per=400] [chars=1]
 *     in process, no server: the heap a line costs the file store, by MSGs (`dispatch`, as the server runs
 *     them) and by reading the same directory again.
 */
import { setMaxListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { dispatch, openFileStore, parseCommandLine, type ForumStore } from '../packages/forum-protocol/dist/index.js';
import { rawConnection, session, startServer, type Server, type Session } from './forum-raw.js';

const mode = process.argv[2] ?? 'post';
const port = 40_000 + Math.floor(Math.random() * 20_000);
const mib = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`;
/** The server's resident set, from /proc (bytes). */
const rss = (s: Server): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${String(s.child.pid)}/status`, 'utf8'));
  return m === null ? 0 : Number(m[1]) * 1024;
};
const stop = async (s: Server): Promise<void> => {
  s.child.kill('SIGTERM');
  await s.exited;
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

if (mode === 'heap') {
  const [threads, per, chars] = [Number(process.argv[3] ?? 50), Number(process.argv[4] ?? 400), Number(process.argv[5] ?? 1)];
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const heap = (): number => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };
  const open = async (dir: string): Promise<ForumStore> => {
    const s = await openFileStore(dir, { writeBudget: false })();
    if (s._tag === 'Left') throw new Error(s.left.message);
    return s.right;
  };
  const run = async (s: ForumStore, line: string, id: string): Promise<void> => {
    const p = parseCommandLine(line);
    if (p._tag === 'Left') throw new Error(line);
    await dispatch(s, { username: 'a', connectionKey: 'c-a' }, id, p.right.cmd, p.right.args)();
  };
  const dir = await mkdtemp(join(tmpdir(), 'a25-heap-'));
  let store: ForumStore | undefined = await open(dir);
  for (let t = 0; t < threads; t++) await run(store, `CRT t${String(t)}`, 'c');
  const h0 = heap();
  const text = 'x'.repeat(chars);
  for (let i = 0; i < per; i++) await Promise.all(Array.from({ length: threads }, (_, t) => run(store as ForumStore, `MSG t${String(t)} ${text}`, `m${String(i)}`)));
  const h1 = heap();
  const n = threads * per;
  console.log(`heap: ${n} lines of ${chars} characters by MSG: +${mib(h1 - h0)}, ${((h1 - h0) / n).toFixed(1)} bytes a line`);
  store = undefined;
  const h2 = heap();
  const again = await open(dir);
  const h3 = heap();
  console.log(`heap: the same lines read at open: +${mib(h3 - h2)}, ${((h3 - h2) / n).toFixed(1)} bytes a line (${String((await again.listThreads()())._tag)})`);
  await rm(dir, { recursive: true, force: true });
} else if (mode === 'load') {
  const total = Number(process.argv[3] ?? 231) * 2 ** 20;
  const chars = Number(process.argv[4] ?? 1);
  const dir = await mkdtemp(join(tmpdir(), 'a25-lines-'));
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'credentials.txt'), 'a pw-a\n');
  let bytes = 0;
  let lines = 0;
  for (let t = 0; bytes < total; t++) {
    let s = 'a\n';
    for (let i = 1; i <= 10_000; i++) s += `${i} a: ${'x'.repeat(chars)}\n`;
    await writeFile(join(dir, `t${t}`), s);
    bytes += Buffer.byteLength(s);
    lines += 10_000;
  }
  const started = Date.now();
  const server = await startServer(dir, port, port + 1, [], { startMs: 300_000 });
  await sleep(5000);
  const resident = rss(server);
  console.log(`load: ${lines} lines of ${chars} characters, ${mib(bytes)} of thread files: resident ${mib(resident)} (${(resident / bytes).toFixed(2)} bytes a byte) ${((Date.now() - started) / 1000).toFixed(1)} s after the start`);
  const c = await rawConnection(port);
  const u = await c.request('username', ['newcomer']);
  console.log(`a new connection's first request: ${u.lines.join(' | ')}`);
  c.conn.destroy();
  await stop(server);
  await rm(dir, { recursive: true, force: true });
} else {
  const seconds = Number(process.argv[3] ?? 60);
  const hosts = Number(process.argv[4] ?? 4);
  const accounts = Number(process.argv[5] ?? 4);
  const inflight = Number(process.argv[6] ?? 8);
  const limit = process.argv[7];
  const dir = await mkdtemp(join(tmpdir(), 'a25-lines-'));
  const server = await startServer(dir, port, port + 1, limit === undefined ? [] : ['--max-thread-bytes', limit]);
  const abort = new AbortController();
  setMaxListeners(0, abort.signal);
  const sessions: { readonly s: Session; readonly thread: string }[] = [];
  for (let h = 0; h < hosts; h++)
    for (let a = 0; a < accounts; a++) {
      const user = `h${h}a${a}`;
      const s = await session(port, user, abort.signal, `127.0.0.${String(20 + h)}`);
      const thread = `t${user}`;
      await s.request('CRT', [thread]);
      sessions.push({ s, thread });
    }
  await sleep(2000);
  const before = rss(server);
  const refusals = new Map<string, number>();
  let taken = 0;
  const end = Date.now() + seconds * 1000;
  await Promise.all(
    sessions.flatMap(({ s, thread }) =>
      Array.from({ length: inflight }, async () => {
        while (Date.now() < end) {
          const r = await s.request('MSG', [thread, 'x']).catch(() => undefined);
          if (r === undefined) return;
          const line = r.lines[0] ?? '';
          if (line.startsWith('Message posted')) taken++;
          else refusals.set(line, (refusals.get(line) ?? 0) + 1);
        }
      }),
    ),
  );
  await sleep(2000);
  const after = rss(server);
  const rate = taken / seconds;
  console.log(`post: ${sessions.length} accounts on ${hosts} addresses, ${inflight} in flight each, ${seconds} s: ${taken} lines taken (${rate.toFixed(0)} a second)`);
  console.log(`resident ${mib(before)} -> ${mib(after)}: ${((after - before) / Math.max(1, taken)).toFixed(0)} bytes a line`);
  for (const [line, n] of refusals) console.log(`refused ${n}x: ${line}`);
  // `N hXaY: x\n` is some 12 to 15 bytes: lines that fill 256 MiB by bytes.
  const fill = (256 * 2 ** 20) / 14;
  console.log(`at ${rate.toFixed(0)} a second, 256 MiB of such lines (${(fill / 1e6).toFixed(1)} M) take ${(fill / Math.max(1, rate) / 3600).toFixed(1)} h`);
  abort.abort();
  await stop(server);
  await rm(dir, { recursive: true, force: true });
}
