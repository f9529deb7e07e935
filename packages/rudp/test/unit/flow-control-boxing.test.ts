/**
 * A connection's flow control holds stream offsets that pass 2^31 after 2 GiB. A field V8 first saw
 * as a small integer (a `= 0` initializer) turns, once any object holds a larger number in it, into a
 * boxed 16-byte number in every object of the class: one connection's long transfer would cost each of
 * a server's 10,000 idle connections 16 bytes a field. Measured on the heap, in a file of its own (a
 * field made a box by another test in the same worker would already be counted before it starts).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { FlowControl } from '../../src/core/flow-control.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Past the largest small integer V8 keeps unboxed on 64-bit Node (2^31 − 1). */
const PAST_SMI = 2 ** 31 + 4096;
const MIB = 1 << 20;

/** Reads a field of each (through getters), so V8 moves every object off a map it gave up. */
function touch(all: readonly FlowControl[]): number {
  let sum = 0;
  for (const f of all) sum += f.limit + f.credit + f.begunCredit + (f.allows(0) ? 1 : 0);
  return sum;
}

describe('FlowControl: one connection past 2 GiB of stream', () => {
  it('boxes no stream offset in the other connections (no heap grows per object)', () => {
    const N = 200_000;
    const others = Array.from({ length: N }, () => new FlowControl(MIB, MIB));
    touch(others);
    gc();
    gc();
    const before = process.memoryUsage().heapUsed;

    const long = new FlowControl(32 * MIB, MIB);
    // The receiver side: the grant grows with the rate read (epochConsumed), the messages begun and read
    // (begun, consumed) pass 2 GiB, and the limit announced (advertisedLimit) with them.
    for (let read = 0; read < PAST_SMI; read += MIB) {
      long.growByRate(MIB, read / MIB, 1);
      long.began(MIB);
      long.onRead(MIB);
    }
    // The sender side: waiting for a limit past 2 GiB (blockedAt).
    expect(long.allows(PAST_SMI + long.peerWindow)).toBe(false);
    expect(long.limit).toBeGreaterThan(PAST_SMI);
    expect(long.begunCredit).toBeGreaterThan(PAST_SMI);

    touch(others);
    gc();
    gc();
    const perObject = (process.memoryUsage().heapUsed - before) / N;
    // One box is 16 bytes in each; the long connection's own few hundred bytes spread over 200,000 are ~0, and what the test runner allocates meanwhile (up to ~250 KB: 4.6 B an object over 50,000) well under a box.
    expect(perObject).toBeLessThan(8);
  });
});
