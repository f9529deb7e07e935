/**
 * CPU per attacker datagram, angle by angle (attack round 10): a peer that completed the handshake (no forum login)
 * sends crafted sealed packets at a fixed rate for a few seconds; the server's CPU (/proc, user + system) is read
 * over an honest-only stretch and over the attack, and an honest client's round trip (forum: a logged-in MSG every
 * 50 ms; bare: a 100-byte echo every 50 ms) is timed in both.
 *
 *   npx tsx attack/frame-flood.ts <forum|bare> <angle[,angle…]> [seconds=4] [packetsPerSecond=20000]
 *
 * Angles: ping (a 40-byte PING packet), pad (PING + padding to 1,200 bytes), ack (two ACK frames of 256 ranges
 * each), frag (1-byte FRAGMENTs of 8 unfinished 8,000-byte messages, 120 a packet), repair (a REPAIR over 32
 * missing messages, a 255-byte symbol), datagram (120 1-byte DATAGRAMs), challenge (130 PATH_CHALLENGEs), maxdata
 * (130 MAX_DATAs), jump (PING packets numbered 2 apart: a new range each), dup (one sealed packet sent again and
 * again), garbage (the connection's header and random bytes: the tag fails), phase (as garbage, the other key phase),
 * msg (30 MESSAGE frames of 30-byte messages: requests to the application), tiny (MESSAGE frames of one-byte reliable
 * messages, as many as fit: about 240).
 */
import { randomBytes } from 'node:crypto';
import { encodeRequest } from '../packages/forum-protocol/dist/index.js';
import { PROTOCOL_VERSION, type PacketWriter } from '../packages/rudp/dist/core.js';
import { cpuMs, honestStretch, hostile, sleep, startTarget, stat, type FrameWriter, type Hostile } from './frame-lib.js';

const target = process.argv[2] ?? 'forum';
const angles = (process.argv[3] ?? 'ping').split(',');
const seconds = Number(process.argv[4] ?? 4);
const rate = Number(process.argv[5] ?? 20_000);

const { port, pid, probe, serverOut, stop } = await startTarget(target, 'frame-flood');

const ackRanges = (h: Hostile, w: PacketWriter): void => {
  const largest = h.core.acks.largest;
  const count = Math.max(1, Math.min(256, Math.floor(largest / 2)));
  ackCount = count;
  w.u8(2);
  w.varint(largest);
  w.varint(0);
  w.varint(count - 1);
  w.varint(0);
  for (let i = 1; i < count; i++) {
    w.varint(0); // gap: one packet skipped
    w.varint(0); // one packet acknowledged
  }
};

let fragSeq = 0;
const CHALLENGE = randomBytes(80);
const SYMBOL = randomBytes(255);
let ackCount = 0;
const writers = (h: Hostile, angle: string): { write: FrameWriter; size: number; pnOffset?: number; fixed?: Uint8Array } => {
  const nextId = (h.core as unknown as { sendQueue: { nextMessageId: number } }).sendQueue.nextMessageId;
  switch (angle) {
    case 'ping':
      return { write: (w) => w.u8(1), size: 24 };
    case 'pad':
      return { write: (w, room) => { w.u8(1); for (let i = 1; i < room; i++) w.u8(0); }, size: 1200 };
    case 'ack':
      return { write: (w) => { ackRanges(h, w); if (w.room() > 600) ackRanges(h, w); }, size: 1200 };
    case 'frag':
      return {
        write: (w) => {
          while (w.room() > 10) {
            const k = fragSeq++;
            const msg = 1000 + (k % 8);
            const offset = (Math.floor(k / 8) * 2 * 7919) % 7998; // 1-byte pieces at even offsets, spread
            w.u8(3); w.varint(msg); w.varint(8000); w.varint(offset - (offset % 2)); w.varint(1); w.u8(0x41);
          }
        },
        size: 1200,
      };
    case 'repair':
      return {
        write: (w) => {
          const base = nextId + 2 + (fragSeq++ % 16);
          w.u8(7); w.varint(base); w.u8(32); w.u8(255);
          w.bytes(SYMBOL);
        },
        size: 1200,
      };
    case 'datagram':
      return { write: (w) => { while (w.room() > 4) { w.u8(10); w.varint(1); w.varint(1); w.u8(0x41); } }, size: 1200 };
    case 'challenge':
      return { write: (w) => { while (w.room() > 9) { w.u8(11); w.bytes(CHALLENGE.subarray(fragSeq++ % 64, (fragSeq % 64) + 8)); } }, size: 1200 };
    case 'maxdata':
      return { write: (w) => { while (w.room() > 5) { w.u8(4); w.varint(1_000_000 + fragSeq++); } }, size: 1200 };
    case 'jump':
      return { write: (w) => w.u8(1), size: 24, pnOffset: 1 };
    case 'msg':
      return {
        write: (w) => {
          while (w.room() > 40) {
            const id = (h.core as unknown as { sendQueue: { nextMessageId: number } }).sendQueue.nextMessageId++;
            const bytes = encodeRequest({ id: String(id), username: '', cmd: 'LST', args: [] }).subarray(0, 30);
            w.u8(6); w.varint(id); w.u8(bytes.length); w.bytes(bytes);
          }
        },
        size: 1200,
      };
    case 'tiny':
      return {
        write: (w) => {
          while (w.room() > 8) {
            const id = (h.core as unknown as { sendQueue: { nextMessageId: number } }).sendQueue.nextMessageId++;
            w.u8(6); w.varint(id); w.u8(1); w.u8(0x41);
          }
        },
        size: 1200,
      };
    default:
      return { write: (w) => w.u8(1), size: 1200 };
  }
};

const results: string[] = [];
for (const angle of angles) {
  let h = await hostile(port, '127.0.0.2');
  let connections = 1;
  await sleep(200);
  // Honest-only stretch.
  const { baseline, baseCpu, baseMs } = await honestStretch(pid, probe, seconds);
  // Attack stretch.
  if (angle === 'ack') {
    // Make the server number enough packets (its ACKs of our PINGs) for 256 ranges below its largest.
    for (let i = 0; i < 30 && h.core.acks.largest < 600; i++) {
      for (let k = 0; k < 200; k++) h.packet((pw) => pw.u8(1), { size: 24 });
      h.flush();
      await sleep(20);
    }
  }
  const w = writers(h, angle);
  let fixed: Uint8Array | undefined;
  if (angle === 'dup') fixed = h.packet((pw) => pw.u8(1), { size: 24 });
  const garbage = (phase: 0 | 1): Uint8Array => {
    const d = randomBytes(1200);
    d[0] = (PROTOCOL_VERSION << 4) | 0x08 | (phase === 1 ? 6 : 5); // 4-byte pn, Protected0/1 (see wire/packet.ts)
    d.writeUInt32BE(h.core.remoteCid, 1);
    d.writeUInt32BE(h.core.nextPn++, 5);
    return d;
  };
  const cpu0 = cpuMs(pid);
  const t0 = performance.now();
  const attackFrom = Date.now();
  let sent = 0;
  let bytes = 0;
  const tick = 5;
  const end = t0 + seconds * 1000;
  while (performance.now() < end) {
    if (h.core.state !== 'established') {
      // Cut off: connect again (the handshake rate per host bounds how often), as an attacker would.
      if (process.env.A10_RECONNECT === undefined) break;
      h.conn.destroy();
      const next = await hostile(port, '127.0.0.2').catch(() => undefined);
      if (next === undefined) { await sleep(tick); continue; }
      h = next;
      connections++;
    }
    const due = Math.floor(((performance.now() - t0) * rate) / 1000) - sent;
    for (let i = 0; i < Math.min(due, rate / 10); i++) {
      let d: Uint8Array;
      if (fixed !== undefined) { h.raw(fixed); d = fixed; }
      else if (angle === 'garbage') { d = garbage(h.core.protection.keyPhase()); h.raw(d); }
      else if (angle === 'phase') { d = garbage(h.core.protection.keyPhase() === 1 ? 0 : 1); h.raw(d); }
      else d = h.packet(w.write, { size: w.size, ...(w.pnOffset === undefined ? {} : { pnOffset: w.pnOffset }) });
      sent++;
      bytes += d.length;
    }
    h.flush();
    await sleep(tick);
  }
  const elapsed = performance.now() - t0;
  const attackCpu = cpuMs(pid) - cpu0;
  await sleep(100);
  const attack = probe.between(attackFrom, Date.now());
  const extraCpu = attackCpu - (baseCpu * elapsed) / baseMs;
  results.push(
    `${target} ${angle}: ${sent} datagrams (${(bytes / 1e6).toFixed(1)} MB) in ${(elapsed / 1000).toFixed(1)} s; server CPU ${((attackCpu / elapsed) * 100).toFixed(0)} % of a core ` +
      `(honest only: ${((baseCpu / baseMs) * 100).toFixed(0)} %), ${((extraCpu * 1000) / sent).toFixed(1)} µs a datagram, ${((extraCpu * 1e6) / bytes).toFixed(2)} ms/MB; ` +
      `${connections} attacker connection(s), the last ${h.core.state}${angle === 'ack' ? ` (last ACK: ${ackCount} ranges)` : ''}; honest baseline ${stat(baseline)}; under attack ${stat(attack)}`,
  );
  console.log(results[results.length - 1]);
  h.conn.destroy();
  await sleep(300);
}
if (process.env.A10_LOG !== undefined) console.log(serverOut().split('\n').filter((l) => !l.includes('issued')).slice(-12).join('\n'));
await stop();
process.exit(0);
