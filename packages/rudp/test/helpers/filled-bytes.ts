/**
 * Test payloads whose every byte says where it sits. Built in a plain loop: `Uint8Array.from({ length },
 * fn)` reads each index of the array-like and calls `fn` through the builtin, about 100 ns a byte, and
 * the multi-MiB messages of the receive-budget and autotune tests spent more CPU being made (over half
 * of transport-receive-autotune's) than crossing the simulator. The same bytes, 25 times faster; with a
 * period, the first period's bytes copied over the rest, faster again.
 */

/**
 * `length` bytes, byte `k` being `byteAt(k) & 0xff` (what `Uint8Array.from({ length }, (_, k) => byteAt(k))`
 * holds). `period`: `byteAt` repeats every `period` bytes (as `(k * a + b) & 0xff` does every 256), so only
 * the first `period` are computed.
 */
export function filledBytes(length: number, byteAt: (k: number) => number, period?: number): Uint8Array {
  const out = new Uint8Array(length);
  const computed = period === undefined ? out.length : Math.min(period, out.length);
  for (let k = 0; k < computed; k++) out[k] = byteAt(k);
  for (let filled = computed; filled < out.length; filled *= 2) out.copyWithin(filled, 0, Math.min(filled, out.length - filled));
  return out;
}
