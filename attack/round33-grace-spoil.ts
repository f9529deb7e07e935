/**
 * Attack round 33, item 1: the refusal graces' early release (refusal-graces.ts `release`, refusal-line-watch.ts)
 * defeated by attackers that write one byte to each refused connection every `spoilMs` (0: never, round 32's
 * attack). A grace is ended early only if its peer has sent nothing since the kernel's table found its line
 * acknowledged, and the table is read while fewer than 32 graces are so known: a byte after each read keeps every
 * attacker's grace its whole 2 s and the table read at its top rate. Otherwise round 32's round32-grace-hold.ts:
 *
 *   npx tsx attack/round33-grace-spoil.ts [attackers=8] [seconds=12] [rate=4] [spoilMs=50]
 *
 * Also reported: the bytes the server read (/proc/PID/io rchar: the kernel's tables are most of them) and the
 * size of one read of the tables now, so reads ≈ bytes / size.
 *
 * Round 32's header follows.
 *
 * Attack round 32, item 3: the refusal graces (packages/server/src/refusal-graces.ts) against the built server's
 * transfer port. A connection refused (evicted for a newer one of its host, or refused on arrival) is kept for a
 * 2 s grace, reading and dropping, so that its client reads `ERR too many transfers …` rather than a bare close;
 * at most 64 at once, a host's share 8 (IPv4: one level). Past that a refused connection is closed bare, unless its
 * host is below its share and some host holds more than its own (a loan, taken back).
 *
 *   npx tsx attack/round32-grace-hold.ts [attackers=8] [seconds=12] [rate=6]
 *
 * `attackers` hosts (127.0.0.11, …) each keep opening silent TCP connections, `rate` a second: past the host's 16
 * slots each one evicts the host's oldest, which the server refuses into a grace. The attacker never reads and never
 * closes (half-open: the server ends each grace at 2 s). Meanwhile, once a second, a victim host (127.0.0.60, a new one each
 * time: 127.0.0.60…) opens 17 silent connections at once, the way a burst of its own uploads would: its first is
 * evicted by its 17th and is owed the line. Recorded: how many of the victim's evicted connections read the line,
 * against a run with no attacker (attackers=0); what the attack costs (connections a second, its own sockets open).
 * Loopback only; ends by itself.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './forum-raw.js';

const attackers = Number(process.argv[2] ?? 8);
const seconds = Number(process.argv[3] ?? 12);
const rate = Number(process.argv[4] ?? 4);
const spoilMs = Number(process.argv[5] ?? 50);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const dir = await mkdtemp(join(tmpdir(), 'a33-spoil-'));
const port = 40_000 + Math.floor(Math.random() * 20_000);
const tcp = port + 1;
const server = await startServer(dir, port, tcp, ['--min-free-bytes', '0']);
// The server's open descriptors: a grace never given back would keep its socket.
const serverFds = (): number => readdirSync(`/proc/${server.child.pid ?? 0}/fd`).length;
const fdsBefore = serverFds();
let fdsPeak = fdsBefore;
/** The server's CPU time so far, ms (utime + stime of /proc/PID/stat, in clock ticks of 10 ms). */
const serverCpuMs = (): number => {
  const fields = readFileSync(`/proc/${server.child.pid ?? 0}/stat`, 'latin1').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
};
const cpuBefore = serverCpuMs();
/** Bytes the server has read by syscalls (its tables' reads, its store's), from /proc/PID/io. */
const serverReadBytes = (): number => Number(/^rchar: (\d+)$/m.exec(readFileSync(`/proc/${server.child.pid ?? 0}/io`, 'latin1'))?.[1] ?? NaN);
const tablesBytes = (): number => readFileSync('/proc/net/tcp', 'latin1').length + readFileSync('/proc/net/tcp6', 'latin1').length;
const readBefore = serverReadBytes();

/** Opens a silent connection from `localAddress`; resolves what it read before its end ('' if nothing: a bare close). */
const open = (localAddress: string, held: Set<net.Socket>, halfOpen = false): { readonly ended: Promise<string> } => {
  // The attacker's stay half-open: Node's default answers the server's FIN with its own, which ends the grace.
  const socket = net.connect({ host: '127.0.0.1', port: tcp, localAddress, allowHalfOpen: halfOpen });
  held.add(socket);
  let got = '';
  socket.setEncoding('utf8').on('data', (d: string) => (got += d));
  socket.on('error', () => undefined);
  // The spoiler: once refused (its line come: the grace begun; a byte before it would be read as the token's
  // header, and refused as such), a byte now and then, so that no read of the table finds the peer silent since.
  if (halfOpen && spoilMs > 0) {
    socket.once('data', () => {
      const spoil = setInterval(() => socket.writable && socket.write('x'), spoilMs);
      socket.once('close', () => clearInterval(spoil));
    });
  }
  return {
    ended: new Promise((resolve) =>
      socket.once('close', () => {
        held.delete(socket);
        resolve(got);
      }),
    ),
  };
};

const attackerSockets = new Set<net.Socket>();
let attackerOpened = 0;
let attackerLines = 0;
let attackerBare = 0;
let running = true;
const attack = async (host: string): Promise<void> => {
  while (running) {
    attackerOpened++;
    void open(host, attackerSockets, true).ended.then((got) => (got.startsWith('ERR') ? attackerLines++ : attackerBare++));
    await sleep(1000 / rate);
  }
};
const attacks = Array.from({ length: attackers }, (_, i) => attack(`127.0.0.${11 + i}`));
// Let the attack reach its steady state (16 slots a host filled, graces turning over).
await sleep(3000);

let victimOwed = 0;
let victimLines = 0;
const victimSockets = new Set<net.Socket>();
const peakHeld: number[] = [];
for (let t = 0; t < seconds - 3; t++) {
  const host = `127.0.0.${60 + t}`;
  const burst = Array.from({ length: 17 }, () => open(host, victimSockets));
  // Only the first is evicted (by the 17th); the rest are left to the header deadline.
  const first = await Promise.race([burst[0]?.ended ?? Promise.resolve(''), sleep(3000).then(() => 'still open')]);
  victimOwed++;
  if (first.startsWith('ERR')) victimLines++;
  peakHeld.push(attackerSockets.size);
  fdsPeak = Math.max(fdsPeak, serverFds());
  for (const s of victimSockets) s.destroy();
  await sleep(Math.max(0, 1000 - 100));
}
running = false;
await Promise.all(attacks);
// The attack's price to the server: its CPU over the attack (accepts, evictions, refusals, graces, the kernel's
// table read for them), over the connections it opened.
const cpuAttack = serverCpuMs() - cpuBefore;
const readAttack = serverReadBytes() - readBefore;
const tableNow = tablesBytes();
for (const s of attackerSockets) s.destroy();
// Past the header deadline (10 s) and every grace (2 s): what is still open was never let go.
await sleep(12_000);
const fdsAfter = serverFds();
server.child.kill('SIGTERM');
await server.exited;
await rm(dir, { recursive: true, force: true });

console.log(`attackers ${attackers} hosts × ${rate} connections/s (${attackers * rate}/s in all), ${attackerOpened} opened, its own sockets open at most ${Math.max(0, ...peakHeld)}`);
console.log(`server CPU during the attack: ${cpuAttack} ms, ${attackerOpened === 0 ? '-' : ((cpuAttack * 1000) / attackerOpened).toFixed(0)} µs per attacker connection (each one refused: evicted into a grace or closed bare)`);
console.log(`spoil every ${spoilMs} ms; server read ${readAttack} B by syscalls during the attack; one read of the tables now ${tableNow} B (≈ ${(readAttack / tableNow).toFixed(0)} reads, ${(readAttack / tableNow / seconds).toFixed(1)}/s)`);
console.log(`attacker's refused connections: ${attackerLines} read the line, ${attackerBare} closed bare`);
console.log(`server descriptors: ${fdsBefore} before, ${fdsPeak} at most, ${fdsAfter} 12 s after the attack`);
console.log(`victim bursts: ${victimOwed}, evicted connections that read the refusal line: ${victimLines} (${victimOwed - victimLines} closed without it)`);
