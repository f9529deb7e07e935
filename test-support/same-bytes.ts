import { assert } from 'vitest';

/**
 * Exact comparison of binary data for tests, in native code. vitest's `toEqual`/`toStrictEqual` walk a Buffer or
 * Uint8Array element by element through their generic deep equality: 16 KiB took about 1 s of CPU and 1 MiB 27 s at load 12
 * on 2 cores, with the test process's event loop stopped meanwhile (a relay or server in it stalled). Shared by the
 * packages' tests (imported by relative path, as scripts/ is): no package depends on another's tests for it.
 */

/** Bytes shown either side of the first difference in a failure message. */
const CONTEXT_BYTES = 8;

const view = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/** `b`'s bytes around `at` in hex, `…` where more were left out, `|` before the one at `at`. */
const around = (b: Uint8Array, at: number): string => {
  const from = Math.max(0, at - CONTEXT_BYTES);
  const to = Math.min(b.length, at + CONTEXT_BYTES + 1);
  const hex = (s: number, e: number): string => view(b.subarray(s, e)).toString('hex').replace(/(..)(?!$)/g, '$1 ');
  const before = hex(from, Math.min(at, to));
  const after = at < b.length ? hex(at, to) : '(end)';
  return `${from > 0 ? '… ' : ''}${before}${before === '' ? '' : ' '}| ${after}${to < b.length ? ' …' : ''}`;
};

/**
 * How `got` differs from `want` (lengths, the first differing offset and the bytes around it), or undefined when
 * they hold the same bytes. Every byte is compared; the offset is looked for only once they differ.
 */
export const bytesDifference = (got: Uint8Array, want: Uint8Array): string | undefined => {
  if (view(got).equals(view(want))) return undefined;
  const shorter = Math.min(got.length, want.length);
  let at = 0;
  while (at < shorter && got[at] === want[at]) at++;
  const lengths = got.length === want.length ? `${got.length} bytes each` : `${got.length} bytes, expected ${want.length}`;
  return `${lengths}; first difference at byte ${at}: got ${around(got, at)}, expected ${around(want, at)}`;
};

/** Asserts that `got` holds exactly `want`'s bytes; the failure names `what` and says where they first differ. */
export const expectSameBytes = (got: Uint8Array | undefined, want: Uint8Array, what = 'bytes'): void => {
  if (got === undefined) return assert.fail(`${what}: got nothing, expected ${want.length} bytes`);
  const difference = bytesDifference(got, want);
  if (difference !== undefined) assert.fail(`${what}: ${difference}`);
};

/** Asserts that `got` holds exactly `want`'s byte strings (messages, datagrams), in order; the failure names the first that differs. */
export const expectSameByteLists = (got: readonly Uint8Array[], want: readonly Uint8Array[], what = 'messages'): void => {
  const shorter = Math.min(got.length, want.length);
  for (let i = 0; i < shorter; i++) {
    const difference = bytesDifference(got[i] as Uint8Array, want[i] as Uint8Array);
    if (difference !== undefined) return assert.fail(`${what}: ${got.length} of them, expected ${want.length}; #${i} differs: ${difference}`);
  }
  if (got.length !== want.length) assert.fail(`${what}: ${got.length} of them, expected ${want.length}; the first ${shorter} are the same`);
};
