/**
 * Attack round 18, item 3c: a data-directory forum-server stopped (SIGSTOP) for `seconds` while clients are
 * mid-command (posters, an upload, a download, forum-client posting every 2 s), then continued (SIGCONT):
 * what the clients print and when, what the server does with the backlog, how soon the same users log in
 * again, and whether anything acknowledged is lost.
 *
 *   npx tsx attack/server-freeze.ts [seconds=40]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rawConnection, session, startServer } from './forum-raw.js';
import { checkPosted, checkUploads, runWorkload, tally, workloadParties } from './pg-fault-lib.js';

const seconds = Number(process.argv[2] ?? 40);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const CLIENT_BIN = new URL('../packages/client/bin/forum-client.js', import.meta.url).pathname;
const dir = await mkdtemp(join(tmpdir(), 'a18-frz-'));
const cwd = await mkdtemp(join(tmpdir(), 'a18-frz-cwd-'));
const port = 20000 + Math.floor(Math.random() * 20000);
const server = await startServer(dir, port, port + 1);
const stop = new AbortController();
setMaxListeners(0, stop.signal);
const t0 = performance.now();
const since = (t = t0): string => ((performance.now() - t) / 1000).toFixed(1);
try {
  const seed = randomBytes(32 * 2 ** 20);
  const { posters, up, down, seeded } = await workloadParties(port, stop.signal, seed);
  if (seeded !== 'OK') throw new Error('seed');
  const made = await session(port, 'fc', stop.signal);
  await made.request('CRT', ['fc']);
  await made.request('XIT', []);
  const fc = spawn(process.execPath, [CLIENT_BIN, String(port), '--known-hosts', join(cwd, 'kh')], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  const fcLines: string[] = [];
  let part = '';
  const take = (d: Buffer): void => {
    part += d.toString();
    const xs = part.split('\n');
    part = xs.pop() ?? '';
    for (const l of xs) if (!/^(The server at|Its identity|Trusting)/.test(l)) fcLines.push(`${since()} s: ${l.replace(/Enter one of the following commands: [A-Z, ]+: /g, '> ')}`);
  };
  fc.stdout.on('data', take);
  fc.stderr.on('data', take);
  fc.stdin.on('error', () => undefined);
  const fcExit = new Promise<string>((r) => fc.once('close', (c, s) => r(`${c ?? s} at ${since()} s`)));
  fc.stdin.write('fc\npw-fc\n');
  for (let i = 0; i < 200 && !fcLines.some((l) => l.includes('Welcome')); i++) await sleep(50);
  let n = 0;
  const fcTimer = setInterval(() => fc.stdin.write(`MSG fc fc-${n++}\n`), 2000);
  const w = runWorkload(posters, up, down, 16 * 2 ** 20, seed, t0);
  await sleep(3000);
  const pid = server.child.pid ?? 0;
  const outBefore = server.out.length;
  process.kill(pid, 'SIGSTOP');
  const frozenAt = performance.now();
  console.log(`SIGSTOP at ${since()} s`);
  await sleep(seconds * 1000);
  process.kill(pid, 'SIGCONT');
  const thawedAt = performance.now();
  console.log(`SIGCONT at ${since()} s`);
  // The same users log in again, each retried every 250 ms: when they are let in, and what they read before.
  const relogin = async (user: string): Promise<string> => {
    const seen = new Map<string, number>();
    for (let i = 0; i < 240; i++) {
      const c = await rawConnection(port, { signal: stop.signal, idleMs: 5000 }).catch(() => undefined);
      if (c !== undefined) {
        const u = await Promise.race([c.request('username', [user]), sleep(5000).then(() => undefined)]).catch(() => undefined);
        const next = u?.data.kind === 'auth' ? u.data.next : '';
        const r = next === 'password' ? await c.request('password', [`pw-${user}`]).catch(() => undefined) : u;
        const line = r === undefined ? '(no answer)' : (r.lines[0] ?? '');
        c.conn.destroy();
        if (line === 'Welcome to the forum') return `${user} welcomed ${since(thawedAt)} s after SIGCONT (before: ${[...seen].map(([k, v]) => `${v} x ${JSON.stringify(k)}`).join(', ') || 'none'})`;
        seen.set(line, (seen.get(line) ?? 0) + 1);
      }
      await sleep(250);
    }
    return `${user} never let in: ${JSON.stringify([...seen])}`;
  };
  const relogins = await Promise.all(['poster0', 'uploader'].map(relogin));
  await sleep(3000);
  clearInterval(fcTimer);
  fc.stdin.end('XIT\n');
  await w.stop();
  const frozenMs = frozenAt - t0;
  for (const l of tally(w.answers, frozenMs)) console.log(`  ${l}`);
  console.log(`sessions closed ${w.closed} (of ${posters.length + 2}); server running ${server.child.exitCode === null && server.child.signalCode === null}`);
  for (const r of relogins) console.log(r);
  console.log(`forum-client (MSG every 2 s; frozen at ${(frozenMs / 1000).toFixed(1)} s for ${seconds} s), exit ${await Promise.race([fcExit, sleep(10_000).then(() => 'running')])}:`);
  for (const l of fcLines.slice(-12)) console.log(`  ${l}`);
  const after = server.out.slice(outBefore).split('\n').filter((l) => l.trim() !== '');
  const kinds = new Map<string, number>();
  for (const l of after) kinds.set(l.replace(/\d+/g, 'N').slice(0, 140), (kinds.get(l.replace(/\d+/g, 'N').slice(0, 140)) ?? 0) + 1);
  console.log(`server lines from the freeze on (${after.length}):`);
  for (const [k, v] of [...kinds].sort((a, b) => b[1] - a[1]).slice(0, 14)) console.log(`  ${v} x ${k}`);
  const checker = await session(port, 'checker', stop.signal);
  const posted = await checkPosted(checker, w);
  const uploads = await checkUploads(checker, w);
  console.log(`MSGs acknowledged ${posted.checked}: lost ${posted.lost}, twice ${posted.dup}; refused but stored ${posted.storedUnacked}; uploads acknowledged ${uploads.checked}: lost ${uploads.lost}, other bytes ${uploads.bad}; refused but listed ${uploads.listedUnacked.length}`);
  for (const x of posted.details.slice(0, 6)) console.log(`  ${x}`);
} finally {
  stop.abort();
  try {
    process.kill(server.child.pid ?? 0, 'SIGCONT');
  } catch {
    // gone
  }
  server.child.kill('SIGTERM');
  await server.exited;
  await rm(dir, { recursive: true, force: true });
  await rm(cwd, { recursive: true, force: true });
}
