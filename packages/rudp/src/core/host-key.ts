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
 * Pure string parsing, run once per new connection (never per datagram).
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

/** The eight 16-bit groups of an IPv6 address without its zone (`::` and a dotted IPv4 tail expanded), or `undefined`. */
function ipv6Groups(addr: string): number[] | undefined {
  const halves = addr.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    const pieces = part.split(':');
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i] as string;
      if (i === pieces.length - 1 && p.includes('.')) {
        const octets = p.split('.').map((o) => (/^\d{1,3}$/.test(o) ? Number(o) : NaN));
        if (octets.length !== 4 || octets.some((o) => !(o <= 255))) return undefined;
        out.push(((octets[0] as number) << 8) | (octets[1] as number), ((octets[2] as number) << 8) | (octets[3] as number));
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) {
        out.push(parseInt(p, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = parse(halves[0] as string);
  const tail = halves.length === 2 ? parse(halves[1] as string) : [];
  if (head === undefined || tail === undefined) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}
