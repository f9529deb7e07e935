/**
 * Attack round 32, item 3 (the IPv6 side, which loopback cannot give): the fewest hosts or prefixes that keep every
 * one of the transfer port's 64 refusal graces (packages/server/src/refusal-graces.ts, the server's own class and
 * limits, 64 in all, 8 a host) so that a newcomer's refusal is closed bare. Sockets are `net.Socket`s never
 * connected (the class only keys them and destroys the one it takes back); addresses are documentation prefixes.
 *
 *   npx tsx attack/round32-grace-prefixes.ts
 *
 * For each attacker layout: graces are taken in turn, 200 refusals of each attacking host, round robin (each host
 * within or beyond its shares as the class lets it); then a newcomer of another prefix is refused once, and whether
 * it got a grace is printed, with what each level holds. Also: what the class costs per refusal when full (a
 * `take` that looks for a lender), over 100,000 refusals. Then the same with every line known acknowledged (the
 * server's LineWatch, its kernel's table, found each grace safe): a newcomer ends the oldest such grace instead.
 */
import net from 'node:net';
import { type LineWatch, RefusalGraces } from '../packages/server/src/refusal-graces.js';

const TOTAL = 64;
const PER_HOST = 8;

interface Layout {
  readonly name: string;
  readonly hosts: readonly string[];
}

const v4 = (n: number): string[] => Array.from({ length: n }, (_, i) => `198.51.100.${i + 1}`);
/** `n` /64s spread over `prefixes` /48s (2001:db8:P::/48), each /64 in its own /56 until a /48's 256 are used. */
const v6 = (n: number, prefixes: number): string[] => Array.from({ length: n }, (_, i) => `2001:db8:${(i % prefixes).toString(16)}:${(Math.floor(i / prefixes) * 256).toString(16)}::1`);
/** `n` /64s of one /56 (2001:db8:ff:100::/56). */
const one56 = (n: number): string[] => Array.from({ length: n }, (_, i) => `2001:db8:ff:${(256 + i).toString(16)}::1`);

const layouts: readonly Layout[] = [
  { name: '7 IPv4 addresses', hosts: v4(7) },
  { name: '8 IPv4 addresses', hosts: v4(8) },
  { name: '16 IPv4 addresses', hosts: v4(16) },
  { name: '8 /64s of one /56', hosts: one56(8) },
  { name: '16 /64s of one /56', hosts: one56(16) },
  { name: '8 /64s of one /48 (4 /56s)', hosts: v6(8, 1).map((_, i) => `2001:db8:aa:${(i * 64).toString(16)}::1`) },
  { name: '8 /64s over 2 /48s (each its own /56)', hosts: v6(8, 2) },
  { name: '16 /64s over 2 /48s', hosts: v6(16, 2) },
  { name: '16 /64s over 4 /48s', hosts: v6(16, 4) },
];

for (const layout of layouts) {
  const graces = new RefusalGraces({ total: TOTAL, perHost: PER_HOST });
  let granted = 0;
  for (let round = 0; round < 200; round++) for (const h of layout.hosts) if (graces.take(new net.Socket(), h)) granted++;
  const newcomer = graces.take(new net.Socket(), '2001:db8:beef::1') ? 'got a grace' : 'closed bare';
  const v4newcomer = graces.take(new net.Socket(), '203.0.113.9') ? 'got a grace' : 'closed bare';
  const held = layout.hosts.map((h) => graces.heldBy(h));
  console.log(`${layout.name}: ${graces.size} of ${TOTAL} held (per host ${Math.min(...held)}–${Math.max(...held)}; ${granted} graces granted in all); an IPv6 newcomer ${newcomer}, an IPv4 one ${v4newcomer}`);
}

// The price of a refusal when all 64 are held, for a host below its share looking for a lender: 64 hosts of 1 each
// (no lender: the whole count map is walked) and 8 hosts of 8 (the same).
for (const [name, hosts] of [['64 IPv4 hosts of 1 grace', v4(64)], ['64 /64s of 1 grace over 64 /48s', v6(64, 64)]] as const) {
  const graces = new RefusalGraces({ total: TOTAL, perHost: PER_HOST });
  for (const h of hosts) graces.take(new net.Socket(), h);
  const n = 100_000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) graces.take(new net.Socket(), `2001:db8:c0de:${(i % 65_536).toString(16)}::1`);
  const us = ((performance.now() - t0) * 1000) / n;
  console.log(`${name}: a newcomer's refusal when full costs ${us.toFixed(2)} µs (a net.Socket made included)`);
}

// The fix: a grace whose line the peer's kernel acknowledged (the server's table read, here told at once) is ended
// for a newcomer, whatever the shares.
const allSafe: LineWatch = (_socket, onRead) => {
  onRead(true);
  return () => undefined;
};
for (const layout of layouts.filter((l) => l.name === '8 IPv4 addresses' || l.name === '8 /64s over 2 /48s (each its own /56)')) {
  const graces = new RefusalGraces({ total: TOTAL, perHost: PER_HOST }, undefined, allSafe);
  for (let round = 0; round < 200; round++) for (const h of layout.hosts) graces.take(new net.Socket(), h);
  const newcomer = graces.take(new net.Socket(), '2001:db8:beef::1') ? 'got a grace' : 'closed bare';
  console.log(`${layout.name}, every line acknowledged: ${graces.size} of ${TOTAL} held, ${graces.released} ended early; an IPv6 newcomer ${newcomer}`);
}
{
  const graces = new RefusalGraces({ total: TOTAL, perHost: PER_HOST }, undefined, allSafe);
  for (const h of v4(64)) graces.take(new net.Socket(), h);
  const n = 100_000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) graces.take(new net.Socket(), `2001:db8:c0de:${(i % 65_536).toString(16)}::1`);
  const us = ((performance.now() - t0) * 1000) / n;
  console.log(`64 IPv4 hosts of 1 grace, every line acknowledged: a newcomer's refusal when full costs ${us.toFixed(2)} µs (a net.Socket made, and the one ended destroyed, included)`);
}
