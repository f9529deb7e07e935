/**
 * Attack round 18, item 1: the database of a forum-server on PostgreSQL fails under a working forum.
 *
 *   npx tsx attack/pg-faults.ts FAULT [holdSeconds=0] [posters=4] [uploadKiB=1024]
 *
 * FAULT: `fast` (the postmaster's fast shutdown, SIGINT, then a start), `kill` (SIGKILL to the postmaster and
 * every backend, then a start: crash recovery), `refuse` (a proxy in front closes every connection and
 * refuses new ones), `blackhole` (the proxy forwards nothing more and answers no new connection: a network
 * that drops), `freeze` (SIGSTOP to every database process: a hung host), each for `holdSeconds` (the
 * restarts: that long stopped before the start).
 *
 * Meanwhile `posters` sessions post MSGs to a thread each, one uploads files of `uploadKiB` to thread `up`,
 * one downloads a file of `up` again and again, and forum-client (a process, commands on its stdin) posts
 * a MSG every 2 s; at the fault's third second a second forum-client logs in. After: every MSG answered
 * `Message posted` is looked for in its thread, every upload answered OK downloaded and compared.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServerProcess } from '../scripts/cluster.mjs';
import { session, type Session } from './forum-raw.js';
import { checkPosted, checkUploads, faultProxy, runWorkload, startFaultablePg, tally, uploadAnswer, type FaultProxy } from './pg-fault-lib.js';

const fault = process.argv[2] ?? 'fast';
const hold = Number(process.argv[3] ?? 0);
const posters = Number(process.argv[4] ?? 4);
const uploadBytes = Number(process.argv[5] ?? 1024) * 1024;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const CLIENT_BIN = new URL('../packages/client/bin/forum-client.js', import.meta.url).pathname;

const pg = await startFaultablePg();
const proxy: FaultProxy | undefined = fault === 'refuse' || fault === 'blackhole' ? await faultProxy(pg.url) : undefined;
const keyDir = await mkdtemp(join(tmpdir(), 'a18-pgf-'));
const stop = new AbortController();
const server = await startServerProcess({
  port: 0,
  databaseUrl: proxy?.url ?? pg.url,
  idleTimeoutSeconds: 60,
  cwd: keyDir,
  identityFile: join(keyDir, 'identity'),
  extraArgs: ['--account-limit', '0', '--max-data-bytes', String(2 ** 30)],
});
const t0 = performance.now();
const since = (t: number): string => ((performance.now() - t) / 1000).toFixed(1);

/** forum-client with commands written to its stdin as the run goes; its output lines with the time each came (s from t0). */
const forumClient = (user: string) => {
  const child = spawn(process.execPath, [CLIENT_BIN, String(server.port), '--known-hosts', join(keyDir, `kh-${user}`)], { cwd: keyDir, stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let partial = '';
  const take = (d: Buffer): void => {
    partial += d.toString();
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const l of parts) if (l.trim() !== '') lines.push(`${since(t0)} s: ${l.trim()}`);
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  child.stdin.on('error', () => undefined);
  const exited = new Promise<number | string>((r) => child.once('close', (c, s) => r(c ?? s ?? '?')));
  return { child, lines, exited, send: (l: string) => void child.stdin.write(`${l}\n`) };
};

try {
  const sessions: Session[] = [];
  for (let i = 0; i < posters; i++) {
    const s = await session(server.port, `poster${i}`, stop.signal);
    await s.request('CRT', [`p${i}`]);
    sessions.push(s);
  }
  const up = await session(server.port, 'uploader', stop.signal);
  await up.request('CRT', ['up']);
  const seed = randomBytes(uploadBytes);
  const first = await uploadAnswer(up, await up.request('UPD', ['up', 'seed']), seed);
  if (first !== 'OK') throw new Error(`seed upload: ${first}`);
  const down = await session(server.port, 'downloader', stop.signal);
  // Accounts made before the fault (made during it would fail for the fault's reason).
  for (const u of ['fc', 'late']) {
    const s = await session(server.port, u, stop.signal);
    if (u === 'fc') await s.request('CRT', ['fc']);
    await s.request('XIT', []);
  }
  const fc = forumClient('fc');
  fc.send('fc');
  fc.send('pw-fc');
  for (let i = 0; i < 300 && !fc.lines.some((l) => l.includes('Welcome')); i++) await sleep(50);
  let fcn = 0;
  const fcTimer = setInterval(() => fc.send(`MSG fc fc-${fcn++}`), 2000);

  const w = runWorkload(sessions, up, down, uploadBytes, seed, t0);
  await sleep(4000);
  const tFault = performance.now();
  const faultAt = tFault - t0;
  let late: ReturnType<typeof forumClient> | undefined;
  const lateLogin = sleep(3000).then(() => {
    late = forumClient('late');
    late.send('late');
    late.send('pw-late');
    late.send('LST');
    late.send('XIT');
  });
  // A18_MONITOR=1: the database's backends busy over 1 s, every 250 ms from the fault on (a connection of its own, made again as needed).
  const seen: string[] = [];
  let monitoring = process.env.A18_MONITOR === '1';
  const monitor = (async () => {
    const { createRequire } = await import('node:module');
    const pgjs = createRequire(new URL('../packages/forum-protocol/package.json', import.meta.url))('postgres') as typeof import('../packages/forum-protocol/node_modules/postgres/types/index.js');
    while (monitoring) {
      const m = pgjs(pg.url, { max: 1, onnotice: () => undefined, connect_timeout: 1 });
      try {
        const rows = await m<{ pid: number; state: string; wait: string; age: number; query: string; backend_start: number }[]>`
          SELECT pid, state, coalesce(wait_event_type || ':' || wait_event, '') AS wait, extract(epoch FROM now() - query_start)::float AS age, left(query, 80) AS query
          FROM pg_stat_activity WHERE datname = 'forum' AND pid <> pg_backend_pid() AND state <> 'idle' AND now() - query_start > interval '1 second'`;
        for (const r of rows) seen.push(`${((performance.now() - t0) / 1000).toFixed(1)} s: pid ${r.pid} ${r.state} ${r.wait} ${r.age.toFixed(1)} s: ${r.query.replace(/\s+/g, ' ')}`);
      } catch (e) {
        void e;
      } finally {
        await m.end({ timeout: 1 }).catch(() => undefined);
      }
      await sleep(250);
    }
  })();
  const pidBefore = pg.pid();
  if (fault === 'fast') await pg.shutdown('SIGINT');
  else if (fault === 'kill') await pg.killAll();
  else if (fault === 'freeze') pg.freeze(true);
  else proxy?.setMode(fault === 'refuse' ? 'refuse' : 'blackhole');
  const downMs = performance.now() - tFault;
  await sleep(hold * 1000);
  if (fault === 'fast' || fault === 'kill') await pg.start();
  else if (fault === 'freeze') pg.freeze(false);
  else proxy?.setMode('pass');
  const tBack = performance.now();
  const backAt = tBack - t0;
  console.log(`${fault}: database pid ${pidBefore} down in ${downMs.toFixed(0)} ms, held ${hold} s, back at ${((backAt - faultAt) / 1000).toFixed(1)} s after the fault (pid ${pg.pid()})`);
  // Until every poster has had an OK after the database came back (at most 60 s), then 3 s more.
  for (let i = 0; i < 600; i++) {
    const okAfter = new Set(w.answers.filter((a) => a.ok && a.at > backAt && a.kind === 'MSG').map((a) => a.line));
    if (okAfter.size >= posters) break;
    await sleep(100);
  }
  await sleep(3000);
  await lateLogin;
  clearInterval(fcTimer);
  fc.send('XIT');
  await w.stop();
  monitoring = false;
  await monitor;
  if (seen.length > 0) console.log(`backends busy over 1 s (${seen.length}):\n  ${seen.slice(0, 30).join('\n  ')}`);
  const firstOk = (kind: string): string => {
    const a = w.answers.find((x) => x.kind === kind && x.ok && x.at > backAt);
    return a === undefined ? 'never' : `${((a.at + a.ms - backAt) / 1000).toFixed(1)} s`;
  };
  const firstBad = w.answers.find((x) => !x.ok && x.at + x.ms > faultAt);
  console.log(`answers (times from the fault):`);
  for (const l of tally(w.answers, faultAt)) console.log(`  ${l}`);
  const slow = w.answers.filter((a) => a.ms > 2000);
  console.log(`answers slower than 2 s (${slow.length}): ${slow.slice(0, 12).map((a) => `${a.kind} sent ${((a.at - faultAt) / 1000).toFixed(1)} s, ${(a.ms / 1000).toFixed(1)} s: ${a.line.slice(0, 40)}`).join('; ')}`);
  console.log(`first failure ${firstBad === undefined ? 'none' : `${((firstBad.at + firstBad.ms - faultAt) / 1000).toFixed(1)} s after the fault`}; first OK after the database came back: MSG ${firstOk('MSG')}, UPD ${firstOk('UPD')}, DWN ${firstOk('DWN')}; sessions closed ${w.closed}; downloads with wrong bytes ${w.wrongBytes}`);
  const alive = server.child.exitCode === null && server.child.signalCode === null;
  const checker = await session(server.port, 'checker', stop.signal);
  const posted = await checkPosted(checker, w);
  const uploads = await checkUploads(checker, w);
  console.log(`server running: ${alive}; MSGs acknowledged ${posted.checked}: lost ${posted.lost}, twice ${posted.dup}; refused but stored ${posted.storedUnacked}; uploads acknowledged ${uploads.checked}: lost ${uploads.lost}, other bytes ${uploads.bad}; refused but listed ${uploads.listedUnacked.length} ${uploads.listedUnacked.join(' ')}`);
  for (const d of posted.details.slice(0, 10)) console.log(`  ${d}`);
  const fcThread = (await checker.request('RDT', ['fc'])).lines.join('\n');
  await Promise.race([fc.exited, sleep(15_000)]);
  console.log(`forum-client (logged in before; a MSG every 2 s; fault at ${(faultAt / 1000).toFixed(1)} s, back at ${(backAt / 1000).toFixed(1)} s):`);
  for (const l of fc.lines.filter((x) => !/^\S+ s: (fc-|> )/.test(x)).slice(0, 60)) console.log(`  ${l}`);
  const fcPosted = fc.lines.filter((l) => l.includes('Message posted')).length;
  console.log(`  forum-client: ${fcPosted} "Message posted"; the thread holds ${(fcThread.match(/fc-\d+/g) ?? []).length} of its MSGs; exit ${await Promise.race([fc.exited, Promise.resolve('running')])}`);
  if (late !== undefined) {
    await Promise.race([late.exited, sleep(30_000)]);
    console.log(`forum-client logging in 3 s into the fault:`);
    for (const l of late.lines.slice(0, 20)) console.log(`  ${l}`);
  }
  const log = (server.output() + server.errors()).split('\n').filter((l) => /fail|error|lost|cancel|database|terminat|ECONN|timed/i.test(l));
  const kinds = new Map<string, number>();
  for (const l of log) {
    const k = l.replace(/\d+/g, 'N').slice(0, 200);
    kinds.set(k, (kinds.get(k) ?? 0) + 1);
  }
  console.log(`server log lines of trouble (${log.length}):`);
  for (const [k, n] of [...kinds].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${n} x ${k}`);
} finally {
  stop.abort();
  await server.stop().catch(() => undefined);
  await proxy?.close();
  pg.freeze(false);
  await pg.destroy();
  await rm(keyDir, { recursive: true, force: true });
}
