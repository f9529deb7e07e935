/**
 * The CRC-32C slicing-by-16 loop of `crc32c.ts` as a tiny WebAssembly
 * function. The same table and the same steps, but without the JS engine's
 * bounds checks on every table and data read: about 1.4× the JS loop on a
 * full datagram, copy into the module's memory included. The module is
 * assembled here from its instructions (a few hundred bytes), so there is no
 * binary to build or ship, and it is compiled synchronously once at load.
 *
 * Memory layout (one 64 KiB page): the 16 × 256 Int32 table at 0, the input
 * window after it.
 */

/** Bytes of the table at the start of memory. */
const TABLE_BYTES = 16 * 256 * 4;
/** Bytes of input the module checksums per call (the rest of its one page). */
const WINDOW_BYTES = 65536 - TABLE_BYTES;
/** Bytes outside the range that may be copied along to save making a view of the range. */
const WHOLE_COPY_SLACK = 64;

/** Unsigned LEB128. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 (i32.const immediates). */
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

// Opcodes used below (WebAssembly core spec, binary format).
const BLOCK = 0x02;
const LOOP = 0x03;
const VOID = 0x40;
const END = 0x0b;
const BR = 0x0c;
const BR_IF = 0x0d;
const I32_LOAD = 0x28;
const I32_LOAD8_U = 0x2d;
const I32_LT_U = 0x49;
const I32_GE_U = 0x4f;
const I32_ADD = 0x6a;
const I32_SUB = 0x6b;
const I32_AND = 0x71;
const I32_XOR = 0x73;
const I32_SHL = 0x74;
const I32_SHR_U = 0x76;
const I32 = 0x7f;

const get = (local: number): number[] => [0x20, local];
const set = (local: number): number[] => [0x21, local];
const i32 = (v: number): number[] => [0x41, ...sleb(v)];
/** `i32.load` at the address on the stack plus `offset` (4-byte alignment hint). */
const load = (offset: number): number[] => [I32_LOAD, 2, ...uleb(offset)];

// Locals: the three parameters, then six i32 locals.
const PTR = 0;
const LEN = 1;
const CRC = 2;
const P = 3;
const STOP = 4;
const WORDS = [5, 6, 7, 8] as const;

/** Byte offset into table row 0 of byte `k` (0 = lowest) of `word`: `((word >>> 8k) & 0xff) * 4`. */
function tableIndex(word: number, k: number): number[] {
  if (k === 0) return [...get(word), ...i32(2), I32_SHL, ...i32(0x3fc), I32_AND];
  return [...get(word), ...i32(8 * k - 2), I32_SHR_U, ...i32(0x3fc), I32_AND];
}

/** `crc(ptr, len, state) -> state`: folds the `len` bytes at memory address `ptr` into the (pre-inverted) CRC state. */
function crcFunctionBody(): number[] {
  // XOR of the 16 table lookups; byte j of the 16 (0 = first) reads row 15 - j, as in crc32c.ts.
  const fold: number[] = [];
  for (let j = 0; j < 16; j++) {
    fold.push(...tableIndex(WORDS[j >> 2] as number, j & 3), ...load((15 - j) * 1024));
    if (j > 0) fold.push(I32_XOR);
  }
  const body = [
    ...get(PTR), ...set(P),
    ...get(PTR), ...get(LEN), I32_ADD, ...set(STOP),
    // 16 bytes a step while 16 remain.
    BLOCK, VOID, LOOP, VOID,
    ...get(STOP), ...get(P), I32_SUB, ...i32(16), I32_LT_U, BR_IF, 1,
    ...get(CRC), ...get(P), ...load(0), I32_XOR, ...set(WORDS[0]),
    ...get(P), ...load(4), ...set(WORDS[1]),
    ...get(P), ...load(8), ...set(WORDS[2]),
    ...get(P), ...load(12), ...set(WORDS[3]),
    ...fold, ...set(CRC),
    ...get(P), ...i32(16), I32_ADD, ...set(P),
    BR, 0, END, END,
    // The tail a byte at a time.
    BLOCK, VOID, LOOP, VOID,
    ...get(P), ...get(STOP), I32_GE_U, BR_IF, 1,
    ...get(CRC), ...get(P), I32_LOAD8_U, 0, 0, I32_XOR, ...i32(2), I32_SHL, ...i32(0x3fc), I32_AND, ...load(0),
    ...get(CRC), ...i32(8), I32_SHR_U, I32_XOR, ...set(CRC),
    ...get(P), ...i32(1), I32_ADD, ...set(P),
    BR, 0, END, END,
    ...get(CRC), END,
  ];
  return [1, 6, I32, ...body];
}

function moduleBytes(): Uint8Array {
  const section = (id: number, content: number[]): number[] => [id, ...uleb(content.length), ...content];
  const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (ch) => ch.charCodeAt(0))];
  const code = crcFunctionBody();
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 3, I32, I32, I32, 1, I32]), // type 0: (i32, i32, i32) -> i32
    ...section(3, [1, 0]), // function 0 has type 0
    ...section(5, [1, 0x00, 1]), // one memory of one page, no maximum
    ...section(7, [2, ...name('crc'), 0x00, 0, ...name('mem'), 0x02, 0]),
    ...section(10, [1, ...uleb(code.length), ...code]),
  ]);
}

/** A CRC-32C of `bytes[start, end)` (range already clipped), same contract as `crc32c`. */
export type Crc32cRange = (bytes: Uint8Array, start: number, end: number) => number;

/**
 * Builds the WebAssembly CRC-32C over `table` (the slicing-by-16 table of
 * `crc32c.ts`), or `undefined` where WebAssembly is unavailable (e.g. a
 * runtime started with `--jitless`); the caller then keeps the JS loop.
 */
export function createWasmCrc32c(table: Int32Array): Crc32cRange | undefined {
  // Reached through globalThis: the core is typed against plain ES, with no DOM or Node globals.
  const wasm = (globalThis as { readonly WebAssembly?: WasmApi }).WebAssembly;
  if (wasm === undefined) return undefined;
  let run: (ptr: number, len: number, crc: number) => number;
  let mem: Uint8Array;
  try {
    const { exports } = new wasm.Instance(new wasm.Module(moduleBytes()));
    const memory = exports['mem'] as { readonly buffer?: unknown } | undefined;
    const fn = exports['crc'];
    if (!(memory?.buffer instanceof ArrayBuffer) || typeof fn !== 'function') return undefined;
    // The memory never grows, so this view (and the table written through it) stays valid.
    mem = new Uint8Array(memory.buffer);
    run = fn as (ptr: number, len: number, crc: number) => number;
  } catch {
    return undefined;
  }
  // WebAssembly memory is little-endian, as the table rows are read.
  new Int32Array(mem.buffer, 0, table.length).set(table);
  return (bytes, start, end) => {
    // A range that is (nearly) all of a small array, as every datagram is: copy the whole array, with
    // no view made per call, and fold just the range.
    if (bytes.length <= WINDOW_BYTES && bytes.length - (end - start) <= WHOLE_COPY_SLACK) {
      mem.set(bytes, TABLE_BYTES);
      return ~run(TABLE_BYTES + start, end - start, -1) >>> 0;
    }
    let crc = -1;
    for (let i = start; i < end; i += WINDOW_BYTES) {
      const stop = Math.min(end, i + WINDOW_BYTES);
      mem.set(bytes.subarray(i, stop), TABLE_BYTES);
      crc = run(TABLE_BYTES, stop - i, crc);
    }
    return ~crc >>> 0;
  };
}

/** The part of the WebAssembly JS API used here. */
interface WasmApi {
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (module: object) => { readonly exports: Readonly<Record<string, unknown>> };
}
