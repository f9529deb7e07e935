/**
 * Attack round 34, item 1: how many downloads one account may hold open at once. Uploads are capped at 4 a
 * user (`uploads-per-user.ts`: a token is spent once its connection starts, so the 8 outstanding tokens bound
 * nothing running); downloads had no such cap, only the transfer port's 16 connections a host and 512 in all.
 * One logged-in session asks DWN again and again and redeems each token at once from 127.0.0.1 and ::1 (the
 * server bound to `::`), each receiver reading a little every few seconds, above the 4 KiB/s pace, so no
 * download ends. Reported: downloads that got `OK SIZE` and are still open after `seconds` (past the pace's
 * 30 s window), what the others were told, the server's RSS, and what the kernel holds queued for them
 * (`ss -tmn`, Send-Q and the sockets' skmem write memory).
 *
 *   npx tsx attack/round34-download-slots.ts [perHost=16] [seconds=40] [fileMiB=16]
 */
import { execFileSync } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { download, session, startServer, upload, type Session } from './forum-raw.js';

const perHost = Number(process.argv[2] ?? 16);
const seconds = Number(process.argv[3] ?? 40);
const fileMiB = Number(process.argv[4] ?? 16);
const READ_EVERY_MS = Number(process.env.A34_READ_MS ?? 1000);
const HOSTS = ['127.0.0.1', '::1'] as const;

const dir = await mkdtemp(join(tmpdir(), 'a34-dl-'));
const port = 40_000 + Math.floor(Math.random() * 20_000);
const server = await startServer(dir, port, port + 1, ['--host', '::', '--min-free-bytes', '0']);
const abort = new AbortController();
setMaxListeners(0, abort.signal);
const rssMiB = async (): Promise<number> => Math.round(Number(/VmRSS:\s+([0-9]+)/.exec(await readFile(`/proc/${server.child.pid}/status`, 'utf8'))?.[1]) / 1024);

/** Bytes the kernel holds queued on the server's side of its transfer connections (Send-Q), and their sockets' write memory. */
const kernelHeld = (): { readonly sendQ: number; readonly wmem: number; readonly sockets: number } => {
  const out = execFileSync('ss', ['-tmnH', 'state', 'established', `( sport = :${port + 1} )`], { encoding: 'utf8' });
  let sendQ = 0;
  let wmem = 0;
  let sockets = 0;
  // With a state filter `ss` prints no State column: Recv-Q, Send-Q, local, peer, then skmem (w: the write queue's memory).
  for (const m of out.matchAll(/^(\d+)\s+(\d+)\s+\S+\s+\S+\s+skmem:\(([^)]*)\)/gm)) {
    sockets++;
    sendQ += Number(m[2]);
    wmem += Number(/(?:^|,)w(\d+)/.exec(m[3] ?? '')?.[1] ?? 0);
  }
  return { sendQ, wmem, sockets };
};

const owner: Session = await session(port, 'dl0', abort.signal, '127.0.0.1');
await owner.request('CRT', ['big']);
if (!(await upload(owner, await owner.request('UPD', ['big', 'f.bin']), Buffer.alloc(fileMiB * 1024 * 1024, 7), abort.signal))) throw new Error('setup upload failed');
const base = await rssMiB();

interface Receiver {
  readonly host: string;
  bytes: number;
  closed: boolean;
  failure: string;
}
const receivers: Receiver[] = [];
const timers: NodeJS.Timeout[] = [];
/** Receivers that still run: `OK` or not, a refused one is closed by the server. */
const runningOf = (rs: readonly Receiver[]): number => rs.filter((r) => !r.closed).length;
/**
 * One DWN redeemed from `host` at once. Its receiver reads raw TCP (no channel: a channel reads on by itself)
 * one socket read every READ_EVERY_MS (A34_READ_MS, 1 s by default), over the 4 KiB/s pace; whatever the server sealed is not opened.
 */
const open = async (host: string, s: Session = owner, into: Receiver[] = receivers): Promise<void> => {
  const r = await s.request('DWN', ['big', 'f.bin']);
  const rec: Receiver = { host, bytes: 0, closed: false, failure: '' };
  into.push(rec);
  if (r.data.kind !== 'transfer') {
    rec.failure = `DWN: ${r.lines.join('|')}`;
    rec.closed = true;
    return;
  }
  const socket = net.connect({ host, port: r.data.port, localAddress: host });
  socket.on('error', (e) => (rec.failure ||= e.message));
  socket.write(`${r.data.token}\n`);
  socket.on('data', (b: Buffer) => {
    rec.bytes += b.length;
    socket.pause();
  });
  socket.on('close', () => (rec.closed = true));
  timers.push(setInterval(() => socket.resume(), READ_EVERY_MS));
  abort.signal.addEventListener('abort', () => socket.destroy());
  sockets.push(socket);
};
const sockets: net.Socket[] = [];
for (const host of HOSTS) for (let i = 0; i < perHost; i++) await open(host);
await new Promise((r) => setTimeout(r, 3000));
const early = { rss: await rssMiB(), kernel: kernelHeld() };
await new Promise((r) => setTimeout(r, (seconds - 3) * 1000));
const late = { rss: await rssMiB(), kernel: kernelHeld() };

const running = receivers.filter((r) => !r.closed);
const ended = new Map<string, number>();
for (const r of receivers.filter((x) => x.closed)) {
  const why = `${r.failure || 'closed'} after ${Math.round(r.bytes / 1024)} KiB`.slice(0, 100);
  ended.set(why, (ended.get(why) ?? 0) + 1);
}
// One more, read through a channel, from a host with a slot free if any: what a further download of the account is told.
const probeHost = HOSTS.find((h) => running.filter((r) => r.host === h).length < 16) ?? HOSTS[0];
const probe = await download(owner, await owner.request('DWN', ['big', 'f.bin']), abort.signal, probeHost);
console.log(`one account, ${receivers.length} DWNs redeemed from ${HOSTS.join(' and ')} (${perHost} each), a ${fileMiB} MiB file, read a socket read every ${READ_EVERY_MS} ms:`);
for (const h of HOSTS) console.log(`  ${h}: ${running.filter((r) => r.host === h).length} downloads running after ${seconds} s`);
console.log(`  running in all: ${running.length} (read ${Math.round(running.reduce((a, r) => a + r.bytes, 0) / 1024)} KiB between them)`);
for (const [why, n] of ended) console.log(`  ended (${n}): ${JSON.stringify(why)}`);
console.log(`  one more DWN from ${probeHost}, read through a channel: ${typeof probe === 'string' ? JSON.stringify(probe) : `${probe.length} bytes, whole`}`);
console.log(`  server RSS ${base} MiB before, ${early.rss} MiB 3 s in, ${late.rss} MiB at ${seconds} s`);
console.log(`  kernel, server side: ${early.kernel.sockets} sockets, Send-Q ${(early.kernel.sendQ / 2 ** 20).toFixed(1)} MiB, write memory ${(early.kernel.wmem / 2 ** 20).toFixed(1)} MiB 3 s in; ${late.kernel.sockets} sockets, ${(late.kernel.sendQ / 2 ** 20).toFixed(1)} MiB, ${(late.kernel.wmem / 2 ** 20).toFixed(1)} MiB at ${seconds} s`);
const stopped = server.out.split('\n').filter((l) => l.includes('stopped:'));
console.log(`  the server's log: ${stopped.length} downloads stopped${stopped[0] === undefined ? '' : `, the first: ${JSON.stringify(stopped[0])}`}`);
if (process.env.A34_LOG === '1') console.log(server.out);

// Under concurrency and across sessions: the receivers above gone, another account asks 8 DWNs at once (pipelined)
// and redeems them at once from ::1; then its session ends and a new one of it asks 4 more while those run.
for (const socket of sockets.splice(0)) socket.destroy();
await new Promise((r) => setTimeout(r, 1000));
const second = await session(port, 'dl1', abort.signal, '127.0.0.1');
const burst: Receiver[] = [];
await Promise.all(Array.from({ length: 8 }, () => open('::1', second, burst)));
await new Promise((r) => setTimeout(r, 3000));
second.conn.destroy();
await new Promise((r) => setTimeout(r, 500));
const third = await session(port, 'dl1', abort.signal, '127.0.0.1');
const relogged: Receiver[] = [];
for (let i = 0; i < 4; i++) await open('::1', third, relogged);
await new Promise((r) => setTimeout(r, 3000));
console.log(`another account: 8 DWNs redeemed at once from ::1, ${runningOf(burst)} running 3 s on; its session ended and a new one's 4 more: ${runningOf(relogged)} running, the first ${runningOf(burst)} still running`);
for (const t of timers) clearInterval(t);
abort.abort();
server.child.kill('SIGTERM');
await server.exited;
await rm(dir, { recursive: true, force: true });
process.exit(0);
