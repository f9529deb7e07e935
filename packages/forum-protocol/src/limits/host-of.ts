/**
 * The one key every forum per-host limit counts under (login throttling,
 * account creation, the server's pre-login pacing and queue budget): rudp's
 * own `hostKey`, so the forum and the transport agree on what one host is.
 * Keyed by exact address, one machine with an IPv6 /64 had a fresh budget
 * per address (100 accounts created where 10 are allowed). Login throttling
 * and account creation also count an IPv6 host's /56 and /48
 * (`hostLevelsOf`), as rudp's connection limit does.
 */
import { type HostLevel, hostKey, hostLevels } from 'rudpx/core';

/**
 * The host `address` counts against: `host:port`, `[v6]:port` or a bare
 * address. An IPv4 address as itself, IPv6 by its /64 (`2001:db8:0:1::/64`),
 * IPv4-mapped and NAT64 addresses as their IPv4 address; the port never counts.
 */
export const hostOf = (address: string): string => hostKey(address);

/**
 * Every count `address` is held to, finest first: its host (`hostOf`,
 * multiple 1) and, for a global IPv6 address, its /56 and /48, which may hold
 * 4 and 16 times the per-host limit (rudp's `hostLevels`): one customer's
 * delegation is not 256 or 65,536 hosts.
 */
export const hostLevelsOf = (address: string): readonly HostLevel[] => hostLevels(address);

export type { HostLevel };
