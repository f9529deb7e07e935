/**
 * The "host" a peer address counts against in per-host limits. One machine
 * owns many ports, and on IPv6 usually a whole /64 (SLAAC, privacy
 * addresses): counting by exact address would give one attacker thousands of
 * budgets. So an IPv4 address counts by itself, an IPv4-mapped or NAT64
 * (64:ff9b::/96) IPv6 address as its IPv4 address, and an IPv6 address by
 * its first 64 bits (a link-local one with its zone: each link is its own). Anything
 * else (the simulator's node names) counts by its host part as written.
 */
import { type PeerAddress, parseAddress } from './sans-io.js';

/** The key under which `address` is counted per host: `1.2.3.4`, or `2001:db8:0:1::/64` for IPv6. */
export function hostKey(address: PeerAddress): string {
  const host = parseAddress(address)?.host ?? address;
  if (!host.includes(':')) return host;
  const at = host.indexOf('%');
  const zone = at >= 0 ? host.slice(at) : '';
  const groups = ipv6Groups(at >= 0 ? host.slice(0, at) : host);
  if (groups === undefined) return host;
  // IPv4-mapped (::ffff:a.b.c.d), and the NAT64 well-known prefix (64:ff9b::a.b.c.d, RFC 6052), behind which every IPv4 client would share one /64.
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  const nat64 = groups[0] === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((g) => g === 0);
  if (mapped || nat64) {
    const [hi, lo] = [groups[6] as number, groups[7] as number];
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  const key = `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
  // Link-local prefixes repeat on every link: the zone says which link the client is on.
  return ((groups[0] as number) & 0xffc0) === 0xfe80 ? `${key}${zone}` : key;
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
