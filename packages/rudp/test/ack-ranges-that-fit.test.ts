/**
 * `ackRangesThatFit` counts in one pass what cutting the oldest range until `ackFrameSize` fits gave.
 * The receiver's set keeps 32 ranges, so `AckTracker`'s own property test never crosses the range-count
 * field's 1-to-2-byte step (64 ranges); this one does, at rooms on each side of every count's size, with
 * gaps, lengths and delays on their varint steps.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type PnRange, ackFrameSize, ackRangesThatFit } from '../src/wire/ack-frame.js';

/** The count the sender took before: the oldest range cut until the frame fits; 0 when even one range does not. */
function cutOneAtATime(ranges: readonly PnRange[], delayMicros: number, count: number, room: number): number {
  while (count > 1 && ackFrameSize(ranges, delayMicros, count) > room) count--;
  return count === 0 || ackFrameSize(ranges, delayMicros, count) > room ? 0 : count;
}

/** Ranges from the top down, each `[gap, length]` as the frame carries them (a next range sits gap + 2 below). */
function rangesOf(gapsAndLengths: readonly (readonly [number, number])[]): PnRange[] {
  const ranges: PnRange[] = [];
  let hi = 2 ** 40;
  for (const [gap, length] of gapsAndLengths) {
    ranges.push({ lo: hi - length, hi });
    hi -= length + gap + 2;
  }
  return ranges;
}

const onSteps = (steps: readonly number[]): fc.Arbitrary<number> => fc.oneof(fc.constantFrom(...steps), fc.integer({ min: 0, max: 70_000 }));
const VARINT_STEPS = [0, 1, 62, 63, 64, 65, 16_382, 16_383, 16_384, 16_385];
/** µs: 8 µs units, so 504 µs is 63 units and 131,072 µs 16,384. */
const DELAY_STEPS = [0, 7.9, 8, 503, 504, 505, 131_068, 131_072, 1e9];

describe('ackRangesThatFit', () => {
  it('property: the count cutting one range at a time gave, at rooms on both sides of every count’s frame size', () => {
    fc.assert(
      fc.property(
        // Up to 300 ranges, drawn over the whole span (fast-check draws short arrays by default).
        fc.array(fc.tuple(onSteps(VARINT_STEPS), onSteps(VARINT_STEPS)), { minLength: 1, maxLength: 300, size: 'max' }),
        fc.oneof(fc.constantFrom(...DELAY_STEPS), fc.double({ min: 0, max: 1e10, noNaN: true })),
        fc.nat(),
        // Counts about the field's step (64 ranges: a count field of 63 or 64) or anywhere.
        fc.oneof(fc.constantFrom(62, 63, 64, 65), fc.nat()),
        fc.integer({ min: -1, max: 1 }),
        (gapsAndLengths, delay, c, k, slack) => {
          const ranges = rangesOf(gapsAndLengths);
          const count = c % (ranges.length + 1);
          const room = ackFrameSize(ranges, delay, 1 + (k % ranges.length)) + slack;
          expect(ackRangesThatFit(ranges, delay, count, room)).toBe(cutOneAtATime(ranges, delay, count, room));
        },
      ),
      { seed: 7, numRuns: 3_000 },
    );
  });

  it('0 with no range, a count of 0, or a room smaller than the newest range alone', () => {
    const ranges = rangesOf([[0, 5]]);
    expect(ackRangesThatFit([], 0, 0, 100)).toBe(0);
    expect(ackRangesThatFit(ranges, 0, 0, 100)).toBe(0);
    expect(ackRangesThatFit(ranges, 0, 1, ackFrameSize(ranges, 0, 1) - 1)).toBe(0);
    expect(ackRangesThatFit(ranges, 0, 1, ackFrameSize(ranges, 0, 1))).toBe(1);
  });
});
