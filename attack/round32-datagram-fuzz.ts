/**
 * Attack round 32, item 4: hostile datagrams against the built forum-server over real UDP (loopback): random,
 * truncated, bit-flipped, replayed and reflected, from the genuine client's own address and port (what an attacker
 * on the path has) and from other addresses. Rounds 16 and 22 fuzzed rudpx's endpoints in the simulator; this
 * throws what a relay records at the built server, with a session open through it.
 *
 *   npx tsx attack/round32-datagram-fuzz.ts [random=100000] [seed=32]
 *
 * A recording relay (127.0.0.1, its upstream socket is the client's address as the server sees it) carries an
 * honest session: login, CRT, 30 MSGs, LST, RDT. Its datagrams both ways are kept. Then, phase by phase:
 *   replay     every recorded client datagram again, 20 times over in a shuffled order, from the relay's upstream
 *              socket (the session's own address and port), while the session is open;
 *   truncated  each recorded datagram (both ways) cut at every length from 0 to its own, from that socket and from
 *              127.0.0.3;
 *   flipped    each recorded datagram with 1 to 8 bytes changed, 20 variants each, from that socket;
 *   reflected  every datagram the server sent, sent back to it from that socket and from 127.0.0.3;
 *   random     `random` datagrams of 0–1,500 random bytes (the first byte cycling through all 256 values, so that
 *              every packet type's decoder is reached) from 64 ports on each of 127.0.0.21–24.
 * After each phase: whether the server is alive, its resident set and CPU time, whether the open session still
 * answers a request, and at the end whether a new client logs in, and what the server logged. Loopback only;
 * stops by itself (a hard stop at 240 s).
 */
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { session, startServer } from './forum-raw.js';
import { mulberry32 } from './lib-random.js';

const randomCount = Number(process.argv[2] ?? 100_000);
const rand = mulberry32(Number(process.argv[3] ?? 32));
const hardStop = setTimeout(() => process.exit(2), 240_000);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const dir = await mkdtemp(join(tmpdir(), 'a32-dgram-'));
const port = 40_000 + Math.floor(Math.random() * 20_000);
const server = await startServer(dir, port, port + 1, ['--min-free-bytes', '0']);
const pid = server.child.pid ?? 0;
const rssMiB = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
const cpuMs = (): number => {
  const f = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
};

const bind = (address: string): Promise<dgram.Socket> =>
  new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.on('error', () => undefined);
    s.bind(0, address, () => resolve(s));
  });

// The recording relay: front (the client talks to it), up (the server sees the client there).
const front = await bind('127.0.0.1');
const up = await bind('127.0.0.1');
const ups: Buffer[] = [];
const downs: Buffer[] = [];
let client: AddressInfo | undefined;
front.on('message', (m, rinfo) => {
  client = rinfo;
  ups.push(Buffer.from(m));
  up.send(m, port, '127.0.0.1');
});
up.on('message', (m) => {
  downs.push(Buffer.from(m));
  if (client !== undefined) front.send(m, client.port, client.address);
});

const abort = new AbortController();
const s = await session((front.address() as AddressInfo).port, 'alice', abort.signal);
await s.request('CRT', ['t']);
for (let i = 0; i < 30; i++) await s.request('MSG', ['t', `message ${i} ${'x'.repeat(i * 20)}`]);
await s.request('LST', []);
await s.request('RDT', ['t']);
console.log(`recorded ${ups.length} client datagrams (${ups.reduce((a, b) => a + b.length, 0)} B), ${downs.length} server datagrams; server RSS ${rssMiB().toFixed(1)} MiB, CPU ${cpuMs()} ms`);

/** Sends `datagrams` from `socket` in batches, letting the event loop run between them (no kernel drops here). */
const sendAll = async (socket: dgram.Socket, datagrams: readonly Buffer[], to = port): Promise<void> => {
  for (let i = 0; i < datagrams.length; i++) {
    socket.send(datagrams[i] as Buffer, to, '127.0.0.1');
    if (i % 200 === 199) await sleep(2);
  }
};

const other = await bind('127.0.0.3');
let phaseCpu = cpuMs();
const report = async (phase: string, sent: number): Promise<void> => {
  await sleep(500);
  const alive = server.child.exitCode === null;
  let answered = 'no';
  try {
    const r = await Promise.race([s.request('LST', []), sleep(5000).then(() => undefined)]);
    answered = r === undefined ? 'no answer in 5 s' : `yes (${r.lines.length} line)`;
  } catch (e) {
    answered = `failed: ${e instanceof Error ? e.message : String(e)}`;
  }
  const cpu = cpuMs();
  console.log(`[${phase}] ${sent} datagrams; server alive ${alive}, RSS ${rssMiB().toFixed(1)} MiB, CPU ${cpu - phaseCpu} ms (${(((cpu - phaseCpu) * 1000) / Math.max(1, sent)).toFixed(1)} µs a datagram); the session answers: ${answered}`);
  phaseCpu = cpuMs();
};

// replay
const replayed: Buffer[] = [];
for (let k = 0; k < 20; k++) for (const d of ups) replayed.push(d);
for (let i = replayed.length - 1; i > 0; i--) {
  const j = Math.floor(rand() * (i + 1));
  [replayed[i], replayed[j]] = [replayed[j] as Buffer, replayed[i] as Buffer];
}
await sendAll(up, replayed);
await report('replay', replayed.length);

// truncated
const cuts: Buffer[] = [];
for (const d of [...ups, ...downs]) for (let n = 0; n < d.length; n += Math.max(1, Math.floor(d.length / 200))) cuts.push(d.subarray(0, n));
await sendAll(up, cuts);
await sendAll(other, cuts);
await report('truncated', cuts.length * 2);

// flipped
const flips: Buffer[] = [];
for (const d of [...ups, ...downs]) {
  for (let v = 0; v < 20; v++) {
    const b = Buffer.from(d);
    const n = 1 + Math.floor(rand() * 8);
    for (let k = 0; k < n && b.length > 0; k++) {
      const at = Math.floor(rand() * b.length);
      b[at] = (b[at] ?? 0) ^ (1 + Math.floor(rand() * 255));
    }
    flips.push(b);
  }
}
await sendAll(up, flips);
await report('flipped', flips.length);

// reflected
await sendAll(up, downs);
await sendAll(other, downs);
await report('reflected', downs.length * 2);

// random
const sockets: dgram.Socket[] = [];
for (let h = 21; h <= 24; h++) for (let p = 0; p < 64; p++) sockets.push(await bind(`127.0.0.${h}`));
const rssBefore = rssMiB();
for (let i = 0; i < randomCount; i++) {
  const b = Buffer.alloc(Math.floor(rand() * 1501));
  for (let k = 0; k < b.length; k++) b[k] = Math.floor(rand() * 256);
  if (b.length > 0) b[0] = i % 256;
  (sockets[i % sockets.length] as dgram.Socket).send(b, port, '127.0.0.1');
  if (i % 200 === 199) await sleep(2);
}
await report('random', randomCount);
console.log(`random: RSS ${rssBefore.toFixed(1)} → ${rssMiB().toFixed(1)} MiB`);

// A newcomer, then the end.
let newcomer = 'no';
try {
  const n = await session(port, 'bob', abort.signal, '127.0.0.5');
  newcomer = `yes (${(await n.request('LST', [])).lines.length} line)`;
} catch (e) {
  newcomer = `failed: ${e instanceof Error ? e.message : String(e)}`;
}
console.log(`a new client logs in and lists: ${newcomer}`);
abort.abort();
for (const x of [front, up, other, ...sockets]) x.close();
server.child.kill('SIGTERM');
await server.exited;
const logged = server.out.split('\n').filter((l) => l.trim() !== '');
console.log(`server log: ${logged.length} lines; errors/exceptions: ${logged.filter((l) => /error|exception|uncaught|TypeError|RangeError/i.test(l)).length}`);
for (const l of logged.slice(-6)) console.log(`  | ${l}`);
await rm(dir, { recursive: true, force: true });
clearTimeout(hardStop);
