/**
 * Attack round 27, item 2: SECURITY.md's stateless reset promises (What an attacker on the path can do)
 * against the built forum-server over real UDP sockets, where round 24 measured them in the simulator: a host
 * gets at most 16 resets a minute from whatever port it asks; every reset is smaller than its trigger and
 * 23–48 bytes; nothing under 24 bytes is answered.
 *
 *   npx tsx attack/reset-budget-real.ts [seconds=20] [ports=50] [rate=200]
 *
 * Host 127.0.0.31 sends `rate` datagrams a second for `seconds`, each shaped as a protected packet
 * (version 7, type 5) naming a random connection id, of a random size from 24 to 1,200 bytes, spread over
 * `ports` sockets; 127.0.0.32 sends 23-byte ones at the same rate. Then 127.0.0.33 sends 40 of 24 bytes at once:
 * a fresh host's budget. Reported: datagrams sent, answers received per host and port, their sizes against
 * their triggers.
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './forum-raw.js';

const seconds = Number(process.argv[2] ?? 20);
const portCount = Number(process.argv[3] ?? 50);
const rate = Number(process.argv[4] ?? 200);
const UDP = 47_000 + Math.floor(Math.random() * 1000);
const dir = await mkdtemp(join(tmpdir(), 'a27-reset-'));
const server = await startServer(dir, UDP, UDP + 1);

/** A datagram that parses as a protected packet of connection id `cid` (nonzero), `size` bytes. */
const junk = (size: number): Buffer => {
  const b = randomBytes(size);
  b[0] = (7 << 4) | 5;
  if (b.readUInt32BE(1) === 0) b[1] = 1;
  return b;
};

interface Tally {
  sent: number;
  answers: number;
  answeredPorts: Set<number>;
  largest: number;
  smallest: number;
  /** Answers not smaller than the datagram that drew them: the socket's last one (a socket sends every 250 ms or more, an answer comes within a few). */
  notSmaller: number;
}
const tally = (): Tally => ({ sent: 0, answers: 0, answeredPorts: new Set(), largest: 0, smallest: Infinity, notSmaller: 0 });

const openSockets = async (address: string, n: number, t: Tally): Promise<{ readonly socks: Socket[]; readonly lastSize: Map<Socket, number> }> => {
  const socks: Socket[] = [];
  const lastSize = new Map<Socket, number>();
  for (let i = 0; i < n; i++) {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, address, () => r()));
    s.on('message', (m) => {
      t.answers++;
      t.answeredPorts.add(s.address().port);
      t.largest = Math.max(t.largest, m.length);
      t.smallest = Math.min(t.smallest, m.length);
      if (m.length >= (lastSize.get(s) ?? Infinity)) t.notSmaller++;
    });
    socks.push(s);
  }
  return { socks, lastSize };
};

const send = (s: Socket, b: Buffer): Promise<void> => new Promise((r) => s.send(b, UDP, '127.0.0.1', () => r()));

try {
  const big = tally();
  const small = tally();
  const fresh = tally();
  const a = await openSockets('127.0.0.31', portCount, big);
  const b = await openSockets('127.0.0.32', portCount, small);
  const t0 = Date.now();
  for (let i = 0; Date.now() - t0 < seconds * 1000; i++) {
    const sa = a.socks[i % portCount] as Socket;
    const size = 24 + Math.floor(Math.random() * (1200 - 24 + 1));
    a.lastSize.set(sa, size);
    await send(sa, junk(size));
    big.sent++;
    const sb = b.socks[i % portCount] as Socket;
    b.lastSize.set(sb, 23);
    await send(sb, junk(23));
    small.sent++;
    const due = t0 + ((i + 1) * 1000) / rate;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
  }
  const c = await openSockets('127.0.0.33', 1, fresh);
  const sc = c.socks[0] as Socket;
  c.lastSize.set(sc, 24);
  for (let i = 0; i < 40; i++) {
    await send(sc, junk(24));
    fresh.sent++;
  }
  await new Promise((r) => setTimeout(r, 1000));
  const show = (name: string, t: Tally): string =>
    `${name}: ${t.sent} sent, ${t.answers} answered (from ${t.answeredPorts.size} ports), sizes ${t.answers === 0 ? '-' : `${t.smallest}–${t.largest}`} bytes, ${t.notSmaller} not smaller than their trigger`;
  console.log(`${seconds} s at ${rate}/s over ${portCount} ports each:`);
  console.log(`  ${show('127.0.0.31, 24–1,200 bytes', big)}`);
  console.log(`  ${show('127.0.0.32, 23 bytes', small)}`);
  console.log(`  ${show('127.0.0.33, 40 of 24 bytes after', fresh)}`);
  for (const s of [...a.socks, ...b.socks, ...c.socks]) s.close();
} finally {
  server.child.kill('SIGTERM');
  await server.exited;
  await rm(dir, { recursive: true, force: true });
}
