/**
 * The "host" a peer address counts against in per-host limits. One machine
 * owns many ports, and on IPv6 usually a whole /64 (SLAAC, privacy
 * addresses): counting by exact address would give one attacker thousands of
 * budgets. So an IPv4 address counts by itself, an IPv4-mapped or NAT64
 * (64:ff9b::/96) IPv6 address as its IPv4 address, and an IPv6 address by
 * its first 64 bits (a link-local one with its zone: each link is its own). Anything
 * else (the simulator's node names) counts by its host part as written.
 *
 * One customer, though, usually gets more than a /64: a /56 (256 /64s) is a
 * common home delegation and a /48 (65,536) a site's (RIPE-690 advises /56 for
 * residential and /48 for business customers). Counted by /64 alone, such a
 * customer is 256 or 65,536 hosts. So a global IPv6 address also counts
 * against its /56 and its /48 (`hostLevels`), each allowed a multiple of the
 * per-host limit: 4 for a /56, 16 for a /48 (`IPV6_PREFIX_MULTIPLE`). The
 * multiples let a household use a few /64s (LAN, guest, IoT) and a small site
 * a dozen or so at the full per-host limit, while one attacker's /48 holds 16
 * hosts' worth instead of 65,536 (and a /56 4 instead of 256).
 *
 * Pure string parsing, run once per new connection and, for a connection
 * moving to another host, once per validation (or, while that host is full,
 * once per probe timeout): never per datagram.
 */
import { type PeerAddress, parseAddress } from './sans-io.js';

/** One count a peer address is held to in per-host limits: its key, and how many per-host limits it may hold. */
export interface HostLevel {
  /** `1.2.3.4`, `2001:db8:0:1::/64`, `2001:db8:0:100::/56`, `2001:db8:0::/48`; distinct levels never share a key. */
  readonly key: string;
  /** The limit of this level as a multiple of the per-host limit: 1 for the host itself. */
  readonly multiple: number;
}

/** The coarser prefixes a global IPv6 address also counts against, and their limits as multiples of the per-host limit. */
export const IPV6_PREFIX_MULTIPLE: { readonly 56: number; readonly 48: number } = { 56: 4, 48: 16 };

/** The key under which `address` is counted per host: `1.2.3.4`, or `2001:db8:0:1::/64` for IPv6. */
export function hostKey(address: PeerAddress): string {
  return (hostLevels(address)[0] as HostLevel).key;
}

/**
 * Every count `address` is held to, finest first: its host (`hostKey`,
 * multiple 1) and, for a global IPv6 address, its /56 and /48 (see
 * `IPV6_PREFIX_MULTIPLE`). IPv4 (also mapped or NAT64), a link-local address
 * (its /64 is its link's, with the zone) and what is not an IP address count
 * as their host alone.
 */
export function hostLevels(address: PeerAddress): readonly HostLevel[] {
  const host = parseAddress(address)?.host ?? address;
  if (!host.includes(':')) return [{ key: host, multiple: 1 }];
  const at = host.indexOf('%');
  const groups = ipv6Groups(at >= 0 ? host.slice(0, at) : host);
  if (groups === undefined) return [{ key: host, multiple: 1 }];
  const [g0, g1, g2, g3, , g5, g6, g7] = groups as [number, number, number, number, number, number, number, number];
  // IPv4-mapped (::ffff:a.b.c.d), and the NAT64 well-known prefix (64:ff9b::a.b.c.d, RFC 6052), behind which every IPv4 client would share one /64.
  const mapped = groups.slice(0, 5).every((g) => g === 0) && g5 === 0xffff;
  const nat64 = g0 === 0x64 && g1 === 0xff9b && groups.slice(2, 6).every((g) => g === 0);
  if (mapped || nat64) return [{ key: `${g6 >> 8}.${g6 & 0xff}.${g7 >> 8}.${g7 & 0xff}`, multiple: 1 }];
  const [a, b, c] = [g0.toString(16), g1.toString(16), g2.toString(16)];
  const key = `${a}:${b}:${c}:${g3.toString(16)}::/64`;
  // Link-local prefixes repeat on every link: the zone says which link the client is on. All of a link is one
  // fe80::/64, so coarser prefixes would only count the same clients again.
  if ((g0 & 0xffc0) === 0xfe80) return [{ key: `${key}${at >= 0 ? host.slice(at) : ''}`, multiple: 1 }];
  return [
    { key, multiple: 1 },
    { key: `${a}:${b}:${c}:${(g3 & 0xff00).toString(16)}::/56`, multiple: IPV6_PREFIX_MULTIPLE[56] },
    { key: `${a}:${b}:${c}::/48`, multiple: IPV6_PREFIX_MULTIPLE[48] },
  ];
}

/**
 * The eight 16-bit groups of an IPv6 address without its zone (`::` and a
 * dotted IPv4 tail expanded), or `undefined`. One pass over the characters,
 * no regular expression or split: it runs for every new connection and every
 * refused one.
 */
function ipv6Groups(addr: string): number[] | undefined {
  const n = addr.length;
  const head: number[] = [];
  let tail: number[] | undefined; // the groups after `::`, once seen
  let i = 0;
  if (addr.charCodeAt(0) === COLON) {
    if (addr.charCodeAt(1) !== COLON) return undefined;
    tail = [];
    i = 2;
  }
  while (i < n) {
    const out = tail ?? head;
    let value = 0;
    let j = i;
    for (let d = hexDigit(addr.charCodeAt(j)); d >= 0; d = hexDigit(addr.charCodeAt(++j))) value = value * 16 + d;
    if (addr.charCodeAt(j) === DOT) {
      // Only the last 32 bits may be written as a dotted IPv4 address.
      const v4 = dottedQuad(addr, i);
      if (v4 === undefined) return undefined;
      out.push(v4 >>> 16, v4 & 0xffff);
      break;
    }
    if (j === i || j - i > 4 || head.length + (tail?.length ?? 0) >= 8) return undefined;
    out.push(value);
    if (j === n) break;
    if (addr.charCodeAt(j) !== COLON) return undefined;
    if (addr.charCodeAt(j + 1) === COLON) {
      if (tail !== undefined) return undefined;
      tail = [];
      i = j + 2;
    } else {
      // A single colon must be followed by a group.
      if (j + 1 === n) return undefined;
      i = j + 1;
    }
  }
  const count = head.length + (tail?.length ?? 0);
  if (tail === undefined) return count === 8 ? head : undefined;
  if (count > 7) return undefined;
  for (let k = count; k < 8; k++) head.push(0);
  for (let k = 0; k < tail.length; k++) head[8 - tail.length + k] = tail[k] as number;
  return head;
}

const COLON = 0x3a;
const DOT = 0x2e;

/** The value of hex digit `c` (a char code), or -1 (also for `NaN`, past the end). */
function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/** `addr` from `start` to its end as a dotted IPv4 address (four decimal octets of 1 to 3 digits, each at most 255), as 32 bits; or `undefined`. */
function dottedQuad(addr: string, start: number): number | undefined {
  let value = 0;
  let i = start;
  for (let octet = 0; octet < 4; octet++) {
    if (octet > 0 && addr.charCodeAt(i++) !== DOT) return undefined;
    let v = 0;
    const from = i;
    for (let c = addr.charCodeAt(i); c >= 0x30 && c <= 0x39 && i - from < 3; c = addr.charCodeAt(++i)) v = v * 10 + (c - 0x30);
    if (i === from || v > 255) return undefined;
    value = value * 256 + v;
  }
  return i === addr.length ? value : undefined;
}
