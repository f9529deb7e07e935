/**
 * Attack round 27, item 3: what a peer's key updates cost the built forum-server over real sockets (round 26's
 * `key-update-cost.ts` timed the packet protection in process only). A hostile client (frame-lib's `hostile`:
 * the library's handshake, then packets of the script's making sealed with the connection's send keys) sends
 * small packets (a PING, 45 bytes on the wire) to the server, and the server's CPU is read from /proc:
 *
 *   npx tsx attack/key-update-real.ts [packets=20000] [perMs=5] [rounds=3]
 *
 * - `same`: every packet of the current key phase (the baseline);
 * - `update every packet`: the client moves its send keys to the next phase before each packet (its own
 *   rules skipped: `advanceSend`, PacketProtection's private step), so each packet starts a new phase;
 * - `update every 16`: the same every 16th packet (what the server follows at most since round 26).
 *
 * With `A27_OLD_FOLLOW=1` the server runs with the rule before round 26 (attack/old-follow.mjs: it follows a
 * peer's update in every packet), for the figures before the fix.
 *
 * Each mode on a fresh connection of its own, `rounds` times, interleaved; `perMs` packets sent a millisecond.
 * Reported: the server's CPU in µs a packet (its whole process, so timers and the idle connections count too),
 * and the honest probe's MSG round trip measured by nothing here: see SECURITY.md's CPU per attacker byte.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './forum-raw.js';
import { cpuMs, hostile, sleep } from './frame-lib.js';

const packets = Number(process.argv[2] ?? 20_000);
const perMs = Number(process.argv[3] ?? 5);
const rounds = Number(process.argv[4] ?? 3);
const UDP = 46_000 + Math.floor(Math.random() * 1000);
const dir = await mkdtemp(join(tmpdir(), 'a27-ku-'));
// A27_OLD_FOLLOW=1: the server with round 26's rule taken out again (old-follow.mjs), for the figures before.
const old = process.env.A27_OLD_FOLLOW === '1';
const launch = old ? { nodeArgs: ['--import', new URL('./old-follow.mjs', import.meta.url).pathname] } : {};
const server = await startServer(dir, UDP, UDP + 1, ['--max-connections-per-host', '64'], launch);
const pid = server.child.pid ?? 0;

/** The private step of PacketProtection that moves the send keys to the next phase (initiateKeyUpdate's rules skipped). */
interface Advancing {
  advanceSend(): void;
}

type Mode = 'same' | 'update every packet' | 'update every 16';
const results = new Map<Mode, number[]>();

const runOnce = async (mode: Mode, host: string): Promise<number> => {
  const h = await hostile(UDP, host);
  const protection = h.core.protection as unknown as Advancing;
  await sleep(300);
  const cpu0 = cpuMs(pid);
  for (let i = 0; i < packets; i++) {
    if (mode === 'update every packet' || (mode === 'update every 16' && i % 16 === 0)) protection.advanceSend();
    h.packet((w) => w.u8(1), { size: 29 });
    if ((i + 1) % perMs === 0) {
      h.flush();
      await sleep(1);
    }
  }
  h.flush();
  // What the server queued is worked off before the reading.
  await sleep(500);
  const used = cpuMs(pid) - cpu0;
  h.conn.destroy();
  return (used * 1000) / packets;
};

try {
  const modes: readonly Mode[] = ['same', 'update every packet', 'update every 16'];
  for (let r = 0; r < rounds; r++) {
    for (const [k, mode] of modes.entries()) {
      const us = await runOnce(mode, `127.0.0.${60 + r * 3 + k}`);
      results.set(mode, [...(results.get(mode) ?? []), us]);
    }
  }
  // The server's 500 ms wait and idle work are in each figure: a run with no packets says how much.
  console.log(`${old ? 'old rule (old-follow.mjs): ' : ''}${packets} packets of 45 bytes, ${perMs} a ms, ${rounds} rounds; server CPU, µs a packet (10 ms ticks):`);
  for (const [mode, xs] of results) console.log(`  ${mode.padEnd(20)} ${xs.map((x) => x.toFixed(1)).join(', ')}`);
} finally {
  server.child.kill('SIGTERM');
  await server.exited;
  await rm(dir, { recursive: true, force: true });
}
