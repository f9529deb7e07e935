/**
 * IPv6 zones (`%lo`, `%eth0`): they name the interface of a link-local
 * address (fe80::/10), the only kind whose meaning depends on it. On any
 * other address the kernel ignores the zone, and reports the peer's replies
 * without one, so a connection to `::1%lo` would take every reply for a
 * datagram from someone else.
 */
import { isIPv6 } from 'node:net';

/** `address` without a zone, unless it is a link-local IPv6 address (where the zone picks the interface). */
export function withoutNeedlessZone(address: string): string {
  const at = address.indexOf('%');
  if (at < 0 || !isIPv6(address)) return address;
  const bare = address.slice(0, at);
  return isLinkLocal(bare) ? address : bare;
}

/** Whether an IPv6 literal is in fe80::/10. */
function isLinkLocal(address: string): boolean {
  const first = Number.parseInt(address.split(':')[0] ?? '', 16);
  return Number.isInteger(first) && (first & 0xffc0) === 0xfe80;
}
