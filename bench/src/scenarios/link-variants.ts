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
  /** `plain`: independent loss; `burst`: Gilbert–Elliott; `dup-reorder`: duplication and reordering. */
  readonly kind: 'plain' | 'burst' | 'dup-reorder';
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

/** The loss sweep plus the burst variant (at 10%) and the duplication + reordering variant (at 1%). */
export function standardVariants(losses: readonly number[] = LOSS_RATES): LinkVariant[] {
  return [...losses.map(plainLoss), burstLoss(0.1), duplicateReorder(0.01)];
}
