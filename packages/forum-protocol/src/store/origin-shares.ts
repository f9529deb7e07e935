/**
 * What the accounts one host created hold together. Each account's share (of the threads' bytes and lines,
 * of the uploads' room, of the threads) bounds one account, but one client address may create 10 accounts
 * every 10 minutes (`--account-limit`), and with the 70 of its first hour it took every byte of the forum's
 * threads, all the uploads' room and 35 % of the threads, after which every other user's MSG and UPD were
 * refused until it deleted, which it need never do (attack round 30). So each account records the host that
 * created it (its origin: the account-creation limiter's key, `hostOf`: an IPv4 address, an IPv6 /64), and
 * the accounts of one origin hold together at most {@link ORIGIN_SHARES} accounts' shares. An account with no
 * recorded origin (made before this, or by a caller that gave none) is its own group, as every account was.
 */
import { hostOf } from '../limits/host-of.js';

/** By default the accounts one host created hold together this many accounts' shares. */
export const ORIGIN_SHARES = 4;

/** The origin an account created from `peerAddress` (`host:port`) records: its host (`hostOf`); none when the address is unknown. */
export const originOfAddress = (peerAddress: string | undefined): string | undefined => (peerAddress === undefined ? undefined : hostOf(peerAddress));

/**
 * The most one origin's accounts may hold together when each may hold `perAccount`: `originShares` times it,
 * or `undefined` (no bound) when `originShares` is 0 (off) or there is no per-account bound.
 */
export const originLimit = (perAccount: number | undefined, originShares: number): number | undefined =>
  perAccount === undefined || originShares === 0 ? undefined : Math.min(Number.MAX_SAFE_INTEGER, perAccount * originShares);

/**
 * The warning an open gives of origins whose accounts already hold more than their bound (the bound lowered
 * since): `over` origins past `bound` of `what` (`lines`, `threads`, `bytes of uploads`…), the one holding the
 * most, `worst`, with `held`; `refused` says what is refused until they are back under it. The worst is named
 * by its address: the operator's own data records it beside its accounts, and without it they could not be found.
 */
export const originOverLimitWarning = (over: number, worst: string, held: number | string, what: string, bound: number, refused: string): string =>
  `${over === 1 ? '1 origin' : `${over} origins`} (the accounts one host created) already ${over === 1 ? 'holds' : 'hold'} more than --origin-shares lets them: the most, ${worst}'s accounts, hold ${held} ${what}, more than the ${bound} they may together; all is served, and ${refused}`;
