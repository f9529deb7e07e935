import type { LinkConfig } from '../lib/rudp-imports.js';

/** One-way delay and jitter of every simulated link (RTT 70 ms). */
export const BASE_LINK: LinkConfig = { delayMs: 35, jitterMs: 5 };

/** Round-trip time of `BASE_LINK`, ms. */
export const BASE_RTT_MS = 70;

/** Independent per-datagram, per-direction loss rates swept by chat and bulk. */
export const LOSS_RATES: readonly number[] = [0, 0.01, 0.05, 0.1, 0.2, 0.3];

/** A named link condition (applied to both directions). */
export interface LinkVariant {
  /** Short id used in tables and on the command line, e.g. `p=0.1`, `burst p=0.1`. */
  readonly id: string;
  /** Long-run loss rate per direction. */
  readonly loss: number;
  /**
   * `plain`: independent loss; `burst`: Gilbert–Elliott; `dup-reorder`:
   * duplication and reordering; `jitter-reorder`: per-datagram independent
   * delay (non-FIFO) with a tenth of datagrams held longer, and loss.
   */
  readonly kind: 'plain' | 'burst' | 'dup-reorder' | 'jitter-reorder';
  readonly link: LinkConfig;
}

/** Independent loss at rate `loss`. */
export function plainLoss(loss: number): LinkVariant {
  return { id: `p=${loss}`, loss, kind: 'plain', link: { ...BASE_LINK, loss } };
}

/** Gilbert–Elliott burst loss with mean burst length 3 at long-run rate `loss`. */
export function burstLoss(loss: number): LinkVariant {
  return { id: `burst3 p=${loss}`, loss, kind: 'burst', link: { ...BASE_LINK, loss, burst: { meanBurstLength: 3 } } };
}

/** 2% duplication and 2% reordering on top of independent loss `loss`. */
export function duplicateReorder(loss: number): LinkVariant {
  return {
    id: `dup2%+reord2% p=${loss}`,
    loss,
    kind: 'dup-reorder',
    link: { ...BASE_LINK, loss, duplicate: 0.02, reorder: 0.02 },
  };
}

/** Share of datagrams the jitter-reorder variant holds back, and for how long (≈ RTT/3). */
export const REORDER_SHARE = 0.1;
export const REORDER_HOLD_MS = 25;

/**
 * Reordering as on multi-path, Wi-Fi and cellular links: each datagram's
 * delay is drawn on its own in 35 ± 5 ms (jitter reorders), and 10% are
 * held 25 ms longer, so every datagram sent in those 25 ms overtakes them.
 * Nothing is lost unless `loss` says so.
 */
export function jitterReorder(loss: number): LinkVariant {
  return {
    id: `jitter-reorder p=${loss}`,
    loss,
    kind: 'jitter-reorder',
    link: { ...BASE_LINK, jitterMode: 'independent', reorder: REORDER_SHARE, reorderHoldMs: REORDER_HOLD_MS, loss },
  };
}

/** The loss sweep plus the burst variant (at 10%), the duplication + reordering variant (at 1%) and jitter-reorder at 0 and 10% loss. */
export function standardVariants(losses: readonly number[] = LOSS_RATES): LinkVariant[] {
  return [...losses.map(plainLoss), burstLoss(0.1), duplicateReorder(0.01), jitterReorder(0), jitterReorder(0.1)];
}

/** The `--quick` variants: a few loss rates, the burst variant and jitter-reorder without loss. */
export function quickVariants(): LinkVariant[] {
  return [...[0, 0.1, 0.2].map(plainLoss), burstLoss(0.1), jitterReorder(0)];
}
