/**
 * Attack round 18, item 3a: a data-directory forum-server started with few file descriptors
 * (`bash -c 'ulimit -n N; exec node forum-server …'`) under posters, transfers, and idle TCP connections to
 * its transfer port that take descriptors: what clients read, whether it stays up, whether anything
 * acknowledged is lost (checked after a restart with the ordinary limit), what it leaves in the directory.
 *
 *   npx tsx attack/fd-exhaustion.ts [nofile=48] [seconds=15] [idleSockets=40] [downloaders=6]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERVER_BIN, session, startServer, type Server } from './forum-raw.js';
import { checkPosted, checkUploads, downloadBytes, runWorkload, tally, uploadAnswer, within, workloadParties } from './pg-fault-lib.js';

const nofile = Number(process.argv[2] ?? 48);
const seconds = Number(process.argv[3] ?? 15);
const idleSockets = Number(process.argv[4] ?? 40);
const downloaders = Number(process.argv[5] ?? 6);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const dir = await mkdtemp(join(tmpdir(), 'a18-fd-'));
const port = 20000 + Math.floor(Math.random() * 20000);
const tcp = port + 1;
const stop = new AbortController();
setMaxListeners(0, stop.signal);

/** The server under `ulimit -n nofile`. */
const startLimited = async (): Promise<Server> => {
  const cmd = `ulimit -n ${nofile} && exec ${process.execPath} ${SERVER_BIN} ${port} --data-dir ${dir} --transfer-port ${tcp}`;
  const child = spawn('bash', ['-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
  const s: Server = { child, exited: new Promise((r) => child.once('exit', () => r())), out: '' };
  child.stdout?.on('data', (d: Buffer) => (s.out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (s.out += d.toString()));
  for (let i = 0; i < 200 && !s.out.includes('Waiting for clients'); i++) await sleep(50);
  if (!s.out.includes('Waiting for clients')) throw new Error(`server did not start: ${s.out}`);
  return s;
};
const fds = async (pid: number | undefined): Promise<number> => (pid === undefined ? -1 : (await readdir(`/proc/${pid}/fd`).catch(() => [])).length);

let server = await startLimited();
try {
  console.log(`ulimit -n ${nofile}: ${await fds(server.child.pid)} descriptors open at start`);
  const seed = randomBytes(4 * 2 ** 20);
  const addresses = { poster: (i: number) => `127.0.0.${10 + i}`, uploader: '127.0.0.20', downloader: '127.0.0.21' };
  const { posters, up, down, seeded } = await workloadParties(port, stop.signal, seed, 4, addresses);
  if (seeded !== 'OK') throw new Error(`seed: ${seeded}`);
  const t0 = performance.now();
  const w = runWorkload(posters, up, down, 2 * 2 ** 20, seed, t0);
  // More downloads at once, each its own account and address (a DWN is a TCP connection and an open file).
  const extra: Promise<void>[] = [];
  const extraAnswers = new Map<string, number>();
  let running = true;
  for (let i = 0; i < downloaders; i++) {
    const s = await session(port, `reader${i}`, stop.signal, `127.0.1.${10 + i}`);
    extra.push(
      (async () => {
        while (running) {
          const r = await within(s.request('DWN', ['up', 'seed']).catch(() => undefined), 8000);
          const got = r === undefined ? '(closed)' : r === 'timeout' ? '(no DWN reply in 8 s)' : await downloadBytes(s, r);
          const k = typeof got === 'string' ? got.replace(/\d+/g, 'N') : 'OK';
          extraAnswers.set(k, (extraAnswers.get(k) ?? 0) + 1);
          if (r === undefined) return;
        }
      })(),
    );
  }
  await sleep(2000);
  // Idle connections to the transfer port from many addresses: each is a descriptor until the server drops it.
  const idle: net.Socket[] = [];
  const idleFate = new Map<string, number>();
  for (let i = 0; i < idleSockets; i++) {
    const s = net.connect({ host: '127.0.0.1', port: tcp, localAddress: `127.0.2.${1 + i}` });
    s.on('error', (e: NodeJS.ErrnoException) => idleFate.set(e.code ?? 'error', (idleFate.get(e.code ?? 'error') ?? 0) + 1));
    s.on('close', () => idleFate.set('closed', (idleFate.get('closed') ?? 0) + 1));
    idle.push(s);
  }
  let peak = 0;
  const sampler = setInterval(() => void fds(server.child.pid).then((n) => (peak = Math.max(peak, n))), 100);
  await sleep(seconds * 1000);
  clearInterval(sampler);
  for (const s of idle) s.destroy();
  running = false;
  await w.stop();
  await Promise.all(extra);
  const alive = server.child.exitCode === null && server.child.signalCode === null;
  console.log(`after ${seconds} s with ${idleSockets} idle transfer connections and ${downloaders} more downloaders: peak ${peak} descriptors; server running ${alive}; idle sockets: ${JSON.stringify([...idleFate])}`);
  for (const l of tally(w.answers, 0)) console.log(`  ${l}`);
  console.log(`  more downloaders: ${JSON.stringify([...extraAnswers])}`);
  const trouble = server.out.split('\n').filter((l) => /EMFILE|ENFILE|error|fail|Internal/i.test(l));
  const kinds = new Map<string, number>();
  for (const l of trouble) kinds.set(l.replace(/\d+/g, 'N').slice(0, 160), (kinds.get(l.replace(/\d+/g, 'N').slice(0, 160)) ?? 0) + 1);
  console.log(`server log lines of trouble (${trouble.length}):`);
  for (const [k, n] of [...kinds].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`  ${n} x ${k}`);
  await sleep(1000);
  if (alive) {
    // Recovered? A fresh login, a MSG, an upload and a download under the same limit.
    const c = await session(port, 'poster0', stop.signal, '127.0.3.1').catch((e: unknown) => (e instanceof Error ? e.message : String(e)));
    if (typeof c === 'string') console.log(`after the load, same limit: an existing account's login: ${c}`);
    else {
      const m = await c.request('MSG', ['p0', 'after']);
      const u = await uploadAnswer(c, await c.request('UPD', ['up', 'after']), seed);
      const d = await downloadBytes(c, await c.request('DWN', ['up', 'seed']));
      console.log(`after the load, same limit: MSG ${JSON.stringify(m.lines[0])}, UPD ${u}, DWN ${typeof d === 'string' ? d : 'OK'}; ${await fds(server.child.pid)} descriptors open`);
    }
    const n = await session(port, 'newcomer', stop.signal, '127.0.3.3').then(() => 'welcomed', (e: unknown) => (e instanceof Error ? e.message : String(e)));
    console.log(`  a new account: ${n}`);
  }
  const stillAlive = server.child.exitCode === null && server.child.signalCode === null;
  console.log(`server still running: ${stillAlive}; its last lines: ${JSON.stringify(server.out.trim().split('\n').slice(-3))}`);
  stop.abort();
  server.child.kill('SIGTERM');
  await server.exited;
  // Restarted with the ordinary limit: what it recovers, and whether every acknowledged MSG and upload is there.
  const again = new AbortController();
  setMaxListeners(0, again.signal);
  server = await startServer(dir, port, tcp);
  const checker = await session(port, 'checker', again.signal, '127.0.3.2');
  const posted = await checkPosted(checker, w);
  const uploads = await checkUploads(checker, w);
  const leftovers = (await readdir(dir)).filter((f) => f.startsWith('.') && !f.startsWith('.forum-server'));
  console.log(`after a restart: ${server.out.split('\n').filter((l) => /recover|undo|intent|left/i.test(l)).join(' | ') || '(nothing recovered)'}`);
  console.log(`MSGs acknowledged ${posted.checked}: lost ${posted.lost}, twice ${posted.dup}; refused but stored ${posted.storedUnacked}; uploads acknowledged ${uploads.checked}: lost ${uploads.lost}, other bytes ${uploads.bad}; refused but listed ${uploads.listedUnacked.length}; dot files left ${JSON.stringify(leftovers)}`);
  for (const d of posted.details.slice(0, 6)) console.log(`  ${d}`);
  again.abort();
} finally {
  stop.abort();
  server.child.kill('SIGTERM');
  await server.exited;
  await rm(dir, { recursive: true, force: true });
}
