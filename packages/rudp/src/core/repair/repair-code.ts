/**
 * The repair code: a sliding-window random linear code over GF(2^8). A
 * REPAIR frame carries Σ cᵢ · sᵢ over the source symbols sᵢ of a run of
 * small messages; a receiver that misses k of them recovers all k from any
 * k independent repairs that cover them, so one repair per packet does the
 * work of several copies. Coefficients are not sent: both sides derive them
 * from the packet number and the message id (a Vandermonde-like choice, so
 * repairs from nearby packets over nearby messages are independent).
 */
import { gfMulAdd, gfPow } from './gf256.js';
import { MAX_SMALL_MESSAGE } from '../../wire/frame.js';

/** Bytes of a source symbol in canonical form: a length byte, then the message zero-padded. */
export const REPAIR_ROW = 1 + MAX_SMALL_MESSAGE;

/** Coefficient of message `id` in the repair sent in packet `pn` (never 0). */
export function repairCoefficient(pn: number, id: number): number {
  return gfPow(((pn % 255) + 1) * ((id % 255) + 1));
}

/** Shape of a repair symbol: `width` message bytes, preceded by a length byte unless all lengths equal `width`. */
export interface RepairShape {
  readonly uniform: boolean;
  readonly width: number;
}

/**
 * Writes the repair symbol for `messages` (ids `baseId`, `baseId + 1`, …)
 * sent in packet `pn` into `out` (zeroed here, at least `REPAIR_ROW` bytes).
 * When every message has the same length the length bytes are left out:
 * the receiver knows them.
 */
export function encodeRepair(pn: number, baseId: number, messages: readonly Uint8Array[], out: Uint8Array): RepairShape {
  let width = 0;
  let uniform = true;
  for (const m of messages) {
    if (width !== 0 && m.length !== width) uniform = false;
    width = Math.max(width, m.length);
  }
  if (messages.length > 0 && (messages[0] as Uint8Array).length !== width) uniform = false;
  out.fill(0, 0, width + 1);
  const len = new Uint8Array(1);
  messages.forEach((m, i) => {
    const c = repairCoefficient(pn, baseId + i);
    if (uniform) {
      gfMulAdd(out, m, c);
      return;
    }
    len[0] = m.length;
    gfMulAdd(out, len, c);
    gfMulAdd(out.subarray(1), m, c);
  });
  return { uniform, width };
}

/** Bytes the symbol of a repair of `shape` takes. */
export function repairSymbolSize(shape: RepairShape): number {
  return shape.uniform ? shape.width : shape.width + 1;
}
