import type { FileStoreContext } from './file-store-context.js';
import { levelLimit, originLimit, originOverLimitWarning } from '../store/origin-shares.js';

/** One of an origin's holdings: its name in the warning, what each origin holds of it, its bound, and what is refused past it. */
interface Holding {
  readonly what: string;
  readonly of: (origin: string) => number;
  readonly bound: number | undefined;
  readonly refused: string;
}

/**
 * What the open says of origins (store/origin-shares.ts) whose accounts already hold more than their bound:
 * after `--origin-shares` (or a per-account share) was lowered, or an old directory's accounts were given
 * origins by hand. As with the forum-wide limits (over-limit-warnings.ts) everything is read and served and
 * only what adds to the holding passed is refused, so without a word the operator would learn of it only from
 * users refused. One warning per holding past its bound: how many origin levels (an origin, an IPv6 origin's
 * /56 or /48, each with its own bound) are past it, and the one furthest past, named by its key (the
 * operator's own `.forum-account-origins` records its accounts' origins, and without it they could not find
 * them), its holding and its bound.
 */
export const originOverLimitWarnings = (ctx: Pick<FileStoreContext, 'contents' | 'originLimits' | 'limits'>): string[] => {
  const { contents } = ctx;
  // Every level of every origin (an origin, an IPv6 origin's /56 and /48), each with its multiple of the bound.
  const levels = new Map<string, number>();
  for (const ls of contents.levels.values()) for (const l of ls) levels.set(l.key, l.multiple);
  if (levels.size === 0) return [];
  const threadsOf = new Map<string, number>();
  for (const stored of contents.threads.values()) {
    for (const l of contents.levels.get(stored.thread.creator) ?? []) threadsOf.set(l.key, (threadsOf.get(l.key) ?? 0) + 1);
  }
  const holdings: readonly Holding[] = [
    { what: 'bytes of lines', of: (k) => contents.shares.ofLevel(k).bytes, bound: ctx.originLimits.threadBytes, refused: 'a MSG, longer EDT or upload line of any of them is refused until DLT or RMV brings them under it' },
    { what: 'lines', of: (k) => contents.shares.ofLevel(k).lines, bound: ctx.originLimits.threadLines, refused: 'a MSG or upload line of any of them is refused until DLT or RMV brings them under it' },
    { what: 'bytes of uploads', of: (k) => contents.uploadShares.ofLevel(k), bound: ctx.originLimits.uploadBytes, refused: 'an UPD of any of them is refused until RMV brings them under it' },
    { what: 'threads', of: (k) => threadsOf.get(k) ?? 0, bound: originLimit(ctx.limits.maxThreadsPerUser, ctx.limits.originShares), refused: 'a CRT of any of them is refused until RMV brings them under it' },
  ];
  const warnings: string[] = [];
  for (const { what, of, bound, refused } of holdings) {
    if (bound === undefined) continue;
    let over = 0;
    let worst: { readonly key: string; readonly held: number; readonly limit: number } | undefined;
    for (const [key, multiple] of levels) {
      const held = of(key);
      const limit = levelLimit(bound, multiple) as number;
      if (held <= limit) continue;
      over++;
      if (worst === undefined || held - limit > worst.held - worst.limit) worst = { key, held, limit };
    }
    if (worst === undefined) continue;
    warnings.push(originOverLimitWarning(over, worst.key, worst.held, what, worst.limit, refused));
  }
  return warnings;
};
