/**
 * Attack round 8, angle 2: server memory held by downloads whose receivers never read, from several
 * accounts of one host (the transfer port allows 16 connections a host), and by the same accounts'
 * uploads stalled after their first piece; server RSS (from /proc) before, during and after.
 *
 *   npx tsx attack/stuck-downloads.ts [accounts=8] [fileMB=40]
 */
import { setMaxListeners } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deriveTransferKeys, SecureTransferChannel, sessionExporter } from '../packages/forum-protocol/dist/index.js';
import { session, startServer, upload, type Session } from './forum-raw.js';

const accounts = Number(process.argv[2] ?? 8);
const fileMB = Number(process.argv[3] ?? 40);
const dir = await mkdtemp(join(tmpdir(), 'a8-stuck-'));
const port = 40_000 + Math.floor(Math.random() * 20_000);
const server = await startServer(dir, port, port + 1, ['--min-free-bytes', '0']);
const rss = async (): Promise<number> => {
  const status = await readFile(`/proc/${server.child.pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+([0-9]+)/.exec(status)?.[1]) / 1024);
};
const abort = new AbortController();
setMaxListeners(0, abort.signal);
const users = Array.from({ length: accounts }, (_, i) => `acct${i}`);
const sessions: Session[] = [];
for (const u of users) sessions.push(await session(port, u, abort.signal));
const owner = sessions[0] as Session;
await owner.request('CRT', ['big']);
const g = await owner.request('UPD', ['big', 'f.bin']);
if (!(await upload(owner, g, Buffer.alloc(fileMB * 1024 * 1024, 3), abort.signal))) throw new Error('setup upload failed');
const base = await rss();
const sockets: net.Socket[] = [];
let refused = 0;
// Two downloads per account (16 in all with 8 accounts: the host's limit), never read.
for (const s of sessions) {
  for (let k = 0; k < 2; k++) {
    const r = await s.request('DWN', ['big', 'f.bin']);
    if (r.data.kind !== 'transfer') {
      refused++;
      continue;
    }
    const socket = net.connect({ host: '127.0.0.1', port: r.data.port });
    socket.on('error', () => undefined);
    socket.write(`${r.data.token}\n`);
    // The channel is made (keys) but never read: the socket is paused.
    new SecureTransferChannel(socket, deriveTransferKeys(sessionExporter(s.conn), r.data.token), 'client').on('error', () => undefined);
    socket.pause();
    sockets.push(socket);
  }
}
await new Promise((r) => setTimeout(r, 3000));
const during = await rss();
// A newcomer from the same host: a 17th transfer connection.
const extra = await owner.request('DWN', ['big', 'f.bin']);
let seventeenth = 'no grant';
if (extra.data.kind === 'transfer') {
  seventeenth = await new Promise<string>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port: extra.data.kind === 'transfer' ? extra.data.port : 0 });
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    s.on('error', () => undefined);
    s.on('close', () => resolve(got.slice(0, 80) || '(closed without a reply)'));
    s.write(`${extra.data.kind === 'transfer' ? extra.data.token : ''}\n`);
    setTimeout(() => s.destroy(), 3000);
  });
}
// forum-client itself, as a neighbour on the same address would run it.
const { spawn } = await import('node:child_process');
const cwd = await mkdtemp(join(tmpdir(), 'a8-stuck-cwd-'));
const client = spawn(process.execPath, [new URL('../packages/client/bin/forum-client.js', import.meta.url).pathname, String(port), '--known-hosts', join(cwd, 'kh')], { cwd });
let clientOut = '';
client.stdout.on('data', (d: Buffer) => (clientOut += d.toString()));
client.stdin.end(`acct${accounts - 1}x\npw\nDWN big f.bin\nXIT\n`);
await new Promise((r) => client.once('close', r));
const clientLine = clientOut.split('\n').find((l) => l.includes('Download of')) ?? '(none)';
// RMV of the thread while its 16 downloads are stuck: how long it takes, and whether the file's descriptors go.
const fds = async (): Promise<number> => {
  const { readdir: rd, readlink } = await import('node:fs/promises');
  let n = 0;
  for (const fd of await rd(`/proc/${server.child.pid}/fd`)) if ((await readlink(`/proc/${server.child.pid}/fd/${fd}`).catch(() => '')).includes('big-f.bin')) n++;
  return n;
};
const fdsBefore = await fds();
const t0 = performance.now();
const rmv = await owner.request('RMV', ['big']);
const rmvMs = Math.round(performance.now() - t0);
await new Promise((r) => setTimeout(r, 200));
const fdsAfter = await fds();
console.log(`RMV with the downloads stuck: ${JSON.stringify(rmv.lines)} in ${rmvMs} ms; descriptors of the file ${fdsBefore} before, ${fdsAfter} 200 ms after`);
for (const s of sockets) s.destroy();
await new Promise((r) => setTimeout(r, 2000));
const after = await rss();
console.log(`${sockets.length} stuck downloads of a ${fileMB} MiB file from ${accounts} accounts of one host (${refused} DWN refused): server RSS ${base} MiB before, ${during} MiB with them held 3 s (+${during - base}), ${after} MiB 2 s after they closed; a 17th transfer connection: ${JSON.stringify(seventeenth)}; forum-client meanwhile: ${JSON.stringify(clientLine.replace(/^.*: (?=Download)/, ''))}`);
await rm(cwd, { recursive: true, force: true });
abort.abort();
server.child.kill('SIGTERM');
await server.exited;
await rm(dir, { recursive: true, force: true });
process.exit(0);
