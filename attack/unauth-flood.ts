/**
 * CPU per datagram from anyone who can send UDP (attack round 10): a plain `node:dgram` socket sends 1,200-byte
 * datagrams at a fixed rate from one address: random bytes (no connection id the server knows: dropped on its
 * header or checksum), INITIALs without a cookie (each answered with a RETRY: a cookie's SipHash and two datagrams),
 * or INITIALs echoing a forged cookie (its tag checked and refused). The server's CPU (/proc) over an honest-only
 * stretch and over the flood, and an honest client's round trip (honest-probe.ts, another process) in both.
 *
 *   npx tsx attack/unauth-flood.ts <forum|bare> <garbage|initial|cookie[,…]> [seconds=3] [datagramsPerSecond=20000]
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { encodeInitial } from '../packages/rudp/dist/core.js';
import { cpuMs, honestStretch, sleep, startTarget, stat } from './frame-lib.js';

const target = process.argv[2] ?? 'forum';
const angles = (process.argv[3] ?? 'garbage').split(',');
const seconds = Number(process.argv[4] ?? 3);
const rate = Number(process.argv[5] ?? 20_000);
const { port, pid, probe, stop } = await startTarget(target, 'unauth-flood');
const socket = dgram.createSocket('udp4');
await new Promise<void>((r) => socket.bind(0, '127.0.0.3', r));
const hello = randomBytes(32);
const datagram = (angle: string, i: number): Uint8Array => {
  if (angle === 'garbage') return randomBytes(1200);
  const token = angle === 'cookie' ? randomBytes(12) : new Uint8Array(0);
  return encodeInitial(new Uint8Array(1200), 0, { scid: (i * 2654435761) >>> 0, token, params: { receiveWindow: 1 << 20, initialLimit: 1 << 20 }, hello }).slice();
};
for (const angle of angles) {
  const { baseline, baseCpu, baseMs } = await honestStretch(pid, probe, seconds);
  // A pool of datagrams made beforehand, so the flood's rate is not this process's randomness.
  const pool = Array.from({ length: 512 }, (_, i) => datagram(angle, i));
  const cpu0 = cpuMs(pid);
  const t0 = performance.now();
  const attackFrom = Date.now();
  let sent = 0;
  while (performance.now() - t0 < seconds * 1000) {
    const due = Math.floor(((performance.now() - t0) * rate) / 1000) - sent;
    for (let i = 0; i < Math.min(due, rate / 10); i++) socket.send(pool[sent++ % pool.length] as Uint8Array, port, '127.0.0.1');
    await sleep(5);
  }
  const elapsed = performance.now() - t0;
  const attackCpu = cpuMs(pid) - cpu0;
  await sleep(100);
  const attack = probe.between(attackFrom, Date.now());
  const extraCpu = attackCpu - (baseCpu * elapsed) / baseMs;
  console.log(
    `${target} ${angle}: ${sent} datagrams (${((sent * 1200) / 1e6).toFixed(1)} MB) in ${(elapsed / 1000).toFixed(1)} s; server CPU ${((attackCpu / elapsed) * 100).toFixed(0)} % of a core ` +
      `(honest only ${((baseCpu / baseMs) * 100).toFixed(0)} %), ${((extraCpu * 1000) / sent).toFixed(1)} µs a datagram; honest before ${stat(baseline)}; during ${stat(attack)}`,
  );
}
socket.close();
await stop();
process.exit(0);
