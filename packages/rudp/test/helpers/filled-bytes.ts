/**
 * Test payloads whose every byte says where it sits. Built in a plain loop: `Uint8Array.from({ length },
 * fn)` reads each index of the array-like and calls `fn` through the builtin, about 100 ns a byte, and
 * the multi-MiB messages of the receive-budget and autotune tests spent more CPU being made (over half
 * of transport-receive-autotune's) than crossing the simulator. The same bytes, 25 times faster.
 */

/** `length` bytes, byte `k` being `byteAt(k) & 0xff` (what `Uint8Array.from({ length }, (_, k) => byteAt(k))` holds). */
export function filledBytes(length: number, byteAt: (k: number) => number): Uint8Array {
  const out = new Uint8Array(length);
  for (let k = 0; k < out.length; k++) out[k] = byteAt(k);
  return out;
}
