/**
 * How a real-UDP round measures the cost of encryption: rudp and rudp
 * plain run back to back in pairs, and the round's ratio is the median of
 * its pairs' ratios, not a ratio of pooled runs.
 *
 * Why: on this VM a one-second run now and then loses a third of its rate
 * to the machine (a stall no run of either kind escapes). Pooled, one such
 * run decided its round: the same code read 0.58 in one round of five and
 * 0.87–1.10 in the others. A pair's two runs are seconds apart and share the
 * machine's state; the median of four pairs leaves out a pair that a stall
 * hit, whichever run it hit.
 */
import { spread } from '../stats/seeds.js';
import type { Rate } from './throughput.js';

/** Back-to-back pairs of runs each round makes. */
export const ENCRYPTION_PAIRS = 4;

/**
 * Which run of a round is plaintext, in order: pairs mirrored (ABBA, twice),
 * which kind first alternating from round to round, so neither kind always
 * runs first or last.
 */
export function encryptionRunOrder(round: number): readonly boolean[] {
  const ab = round % 2 === 0 ? [false, true] : [true, false];
  const out: boolean[] = [];
  for (let i = 0; i < ENCRYPTION_PAIRS; i++) out.push(...(i % 2 === 0 ? ab : [...ab].reverse()));
  return out;
}

/** One back-to-back pair: an encrypted run and a plaintext one. */
export interface EncryptionPair {
  readonly encrypted: Rate;
  readonly plain: Rate;
}

/** The runs of a round in the order `encryptionRunOrder` gave, as pairs. */
export function pairRuns(order: readonly boolean[], runs: readonly Rate[]): EncryptionPair[] {
  const pairs: EncryptionPair[] = [];
  for (let i = 0; i + 1 < runs.length; i += 2) {
    const [a, b] = [runs[i] as Rate, runs[i + 1] as Rate];
    pairs.push(order[i] === true ? { encrypted: b, plain: a } : { encrypted: a, plain: b });
  }
  return pairs;
}

/** A round's encrypted ÷ plaintext bytes/s: the median of its pairs' ratios. */
export function encryptionRatio(pairs: readonly EncryptionPair[]): number {
  return spread(pairs.map((p) => p.encrypted.messagesPerSec / p.plain.messagesPerSec)).median;
}
