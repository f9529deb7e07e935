/**
 * What the accounts one host created hold together. Each account's share (of the threads' bytes and lines,
 * of the uploads' room, of the threads) bounds one account, but one client address may create 10 accounts
 * every 10 minutes (`--account-limit`), and with the 70 of its first hour it took every byte of the forum's
 * threads, all the uploads' room and 35 % of the threads, after which every other user's MSG and UPD were
 * refused until it deleted, which it need never do (attack round 30). So each account records the host that
 * created it (its origin: the account-creation limiter's key, `hostOf`: an IPv4 address, an IPv6 /64), and
 * the accounts of one origin hold together at most {@link ORIGIN_SHARES} accounts' shares. An account with no
 * recorded origin (made before this, or by a caller that gave none) is its own group, as every account was.
 *
 * An origin is an IPv6 /64, though, and one customer usually has a /56 (a home delegation) or a /48 (free from
 * a tunnel broker): 256 or 65,536 origins, each with its own bound. So an account of origin /64 X counts against
 * X and also X's /56 and /48 (its origin's levels, {@link originLevels}), each holding the multiple of the bound
 * rudp's `hostLevels` gives it (4 and 16), as account creation and login throttling count them. The wider
 * levels are derived from the recorded /64, never recorded: an IPv4 origin, or one of no IPv6 /64, has one level.
 */
import { type HostLevel, hostLevelsOf, hostOf } from '../limits/host-of.js';

/** By default the accounts one host created hold together this many accounts' shares. */
export const ORIGIN_SHARES = 4;

/** The origin an account created from `peerAddress` (`host:port`) records: its host (`hostOf`); none when the address is unknown. */
export const originOfAddress = (peerAddress: string | undefined): string | undefined => (peerAddress === undefined ? undefined : hostOf(peerAddress));

/**
 * Every count the accounts of `origin` (a recorded origin, `hostOf`'s key) are held to, finest first: the
 * origin itself (multiple 1) and, for a global IPv6 /64, its /56 and /48 with rudp's multiples (`hostLevelsOf`).
 */
export const originLevels = (origin: string): readonly HostLevel[] => {
  // A /64 key is its prefix with `/64` after it; the prefix is an address, whose levels start with that key.
  if (!origin.endsWith('::/64')) return [{ key: origin, multiple: 1 }];
  const levels = hostLevelsOf(origin.slice(0, -3));
  return levels[0]?.key === origin ? levels : [{ key: origin, multiple: 1 }];
};

/** The multiple of the bound a level key (an origin, or an origin's /56 or /48 from {@link originLevels}) holds: 1 for an origin. */
export const levelMultiple = (key: string): number => {
  const at = key.lastIndexOf('/');
  if (at < 0 || !key.endsWith('::', at)) return 1;
  return hostLevelsOf(key.slice(0, at)).find((l) => l.key === key)?.multiple ?? 1;
};

/** `bound` times `multiple`, kept an exact integer. */
const scaled = (bound: number, multiple: number): number => Math.min(Number.MAX_SAFE_INTEGER, bound * multiple);

/** A level's bound: `bound` (one origin's, {@link originLimit}) times `multiple`, or `undefined` (no bound). */
export const levelLimit = (bound: number | undefined, multiple: number): number | undefined => (bound === undefined ? undefined : scaled(bound, multiple));

/** A level an account's change would pass: its bound, what its accounts hold, and whether it is wider than the origin (a /56 or /48: `network`). */
export interface LevelPassed {
  readonly limit: number;
  readonly held: number;
  readonly network: boolean;
}

/**
 * The first of `levels` (finest first) whose holding, `held(key)`, would pass its bound (`bound` times its
 * multiple) by growing `growth`; `undefined`: none, no bound, or it does not grow. A count checked before it
 * grows by one (threads) is `growth` 1: refused at its bound.
 */
export const levelPassed = (levels: readonly HostLevel[], held: (key: string) => number, growth: number, bound: number | undefined): LevelPassed | undefined => {
  if (bound === undefined || growth <= 0) return undefined;
  for (const [i, level] of levels.entries()) {
    const limit = scaled(bound, level.multiple);
    const ours = held(level.key);
    if (ours + growth > limit) return { limit, held: ours, network: i > 0 };
  }
  return undefined;
};

/**
 * The most one origin's accounts may hold together when each may hold `perAccount`: `originShares` times it,
 * or `undefined` (no bound) when `originShares` is 0 (off) or there is no per-account bound.
 */
export const originLimit = (perAccount: number | undefined, originShares: number): number | undefined =>
  perAccount === undefined || originShares === 0 ? undefined : Math.min(Number.MAX_SAFE_INTEGER, perAccount * originShares);

/**
 * The warning an open gives of origins whose accounts already hold more than their bound (the bound lowered
 * since): `over` origins past `bound` of `what` (`lines`, `threads`, `bytes of uploads`…), the one holding the
 * most, `worst`, with `held`; `refused` says what is refused until they are back under it. Origins here are
 * origin levels (`originLevels`): when `worst` is an IPv6 /56 or /48, the warning says so. The worst is named
 * by its address: the operator's own data records it beside its accounts, and without it they could not be found.
 */
export const originOverLimitWarning = (over: number, worst: string, held: number | string, what: string, bound: number, refused: string): string =>
  `${over === 1 ? '1 origin' : `${over} origins`} (the accounts one host${levelMultiple(worst) > 1 ? ', or one IPv6 /56 or /48,' : ''} created) already ${over === 1 ? 'holds' : 'hold'} more than --origin-shares lets them: the most, ${worst}'s accounts, hold ${held} ${what}, more than the ${bound} they may together; all is served, and ${refused}`;
