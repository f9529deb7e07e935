import type { FileStoreContext } from './file-store-context.js';
import { originLimit, originOverLimitWarning } from '../store/origin-shares.js';

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
 * users refused. One warning per holding past its bound: how many origins are past it, and the one that holds
 * the most, named by its origin (the operator's own `.forum-account-origins` records it beside its accounts,
 * and without it they could not find them), its holding and its bound.
 */
export const originOverLimitWarnings = (ctx: Pick<FileStoreContext, 'contents' | 'originLimits' | 'limits'>): string[] => {
  const { contents } = ctx;
  const origins = new Set(contents.origins.values());
  if (origins.size === 0) return [];
  const threadsOf = new Map<string, number>();
  for (const stored of contents.threads.values()) {
    const origin = contents.origins.get(stored.thread.creator);
    if (origin !== undefined) threadsOf.set(origin, (threadsOf.get(origin) ?? 0) + 1);
  }
  const holdings: readonly Holding[] = [
    { what: 'bytes of lines', of: (o) => contents.shares.ofOrigin(o).bytes, bound: ctx.originLimits.threadBytes, refused: 'a MSG, longer EDT or upload line of any of them is refused until DLT or RMV brings them under it' },
    { what: 'lines', of: (o) => contents.shares.ofOrigin(o).lines, bound: ctx.originLimits.threadLines, refused: 'a MSG or upload line of any of them is refused until DLT or RMV brings them under it' },
    { what: 'bytes of uploads', of: (o) => contents.uploadShares.ofOrigin(o), bound: ctx.originLimits.uploadBytes, refused: 'an UPD of any of them is refused until RMV brings them under it' },
    { what: 'threads', of: (o) => threadsOf.get(o) ?? 0, bound: originLimit(ctx.limits.maxThreadsPerUser, ctx.limits.originShares), refused: 'a CRT of any of them is refused until RMV brings them under it' },
  ];
  const warnings: string[] = [];
  for (const { what, of, bound, refused } of holdings) {
    if (bound === undefined) continue;
    let over = 0;
    let worst: { readonly origin: string; readonly held: number } | undefined;
    for (const origin of origins) {
      const held = of(origin);
      if (held <= bound) continue;
      over++;
      if (worst === undefined || held > worst.held) worst = { origin, held };
    }
    if (worst === undefined) continue;
    warnings.push(originOverLimitWarning(over, worst.origin, worst.held, what, bound, refused));
  }
  return warnings;
};
