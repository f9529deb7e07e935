/**
 * CRC-32C (Castagnoli), the checksum iSCSI, SCTP and ext4 use: better burst
 * error detection than CRC-32 for the same cost.
 *
 * Slicing-by-16: one flat table of 16 × 256 entries folds 16 input bytes per
 * step, read as four little-endian 32-bit words. In V8 this is about 2.5×
 * the slicing-by-8 loop over single bytes and 8 separate tables it replaces
 * (fewer loads and shifts per byte, one table base instead of eight). The
 * values are the same reflected CRC-32C as before, so the wire is unchanged.
 * Where WebAssembly is available the same loop runs there (`crc32c-wasm.ts`).
 */

import { createWasmCrc32c } from './crc32c-wasm.js';

const POLY = 0x82f63b78;
/** Bytes folded per step of the main loop. */
const SLICE = 16;

/**
 * `TABLE[k * 256 + b]` is the CRC contribution of byte `b` followed by `k`
 * zero bytes. Int32 rather than Uint32 keeps every value a small integer in
 * V8 (no heap numbers); `>>> 0` at the end restores the unsigned result.
 */
const TABLE: Int32Array = (() => {
  const t = new Int32Array(SLICE * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n] as number;
    for (let k = 1; k < SLICE; k++) {
      c = (t[c & 0xff] as number) ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
})();

/*
 * Word reads go through a DataView (unaligned, endian-explicit, inlined by
 * TurboFan). One view per ArrayBuffer is kept, so the send path, which
 * checksums the same scratch buffer every packet, allocates nothing; each
 * received datagram has its own buffer and costs one view.
 */
let viewBuffer: ArrayBufferLike | undefined;
let view: DataView = new DataView(new ArrayBuffer(0));

function viewOf(buffer: ArrayBufferLike): DataView {
  if (buffer !== viewBuffer) {
    view = new DataView(buffer);
    viewBuffer = buffer;
  }
  return view;
}

/** Inputs shorter than this stay in JS: the copy and call into WebAssembly would cost more than they save. */
const WASM_MIN_BYTES = 64;
const wasmCrc32c = createWasmCrc32c(TABLE);

/** CRC-32C of `bytes[start, end)` (the range is clipped to `bytes`). */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  // Clipped so a bad range can never make the word reads stray outside `bytes` into its buffer.
  if (end > bytes.length) end = bytes.length;
  if (start < 0) start = 0;
  if (wasmCrc32c !== undefined && end - start >= WASM_MIN_BYTES) return wasmCrc32c(bytes, start, end);
  return crc32cPortable(bytes, start, end);
}

/** The same CRC-32C in plain JS: where WebAssembly is unavailable, for short inputs, and as the tests' reference. */
export function crc32cPortable(bytes: Uint8Array, start = 0, end = bytes.length): number {
  const t = TABLE;
  if (end > bytes.length) end = bytes.length;
  let crc = -1;
  let i = start > 0 ? start : 0;
  if (end - i >= SLICE) {
    const dv = viewOf(bytes.buffer);
    const base = bytes.byteOffset;
    const last = end - SLICE;
    for (; i <= last; i += SLICE) {
      const p = base + i;
      const a = crc ^ dv.getInt32(p, true);
      const b = dv.getInt32(p + 4, true);
      const c = dv.getInt32(p + 8, true);
      const d = dv.getInt32(p + 12, true);
      crc =
        (t[3840 + (a & 0xff)] as number) ^
        (t[3584 + ((a >>> 8) & 0xff)] as number) ^
        (t[3328 + ((a >>> 16) & 0xff)] as number) ^
        (t[3072 + (a >>> 24)] as number) ^
        (t[2816 + (b & 0xff)] as number) ^
        (t[2560 + ((b >>> 8) & 0xff)] as number) ^
        (t[2304 + ((b >>> 16) & 0xff)] as number) ^
        (t[2048 + (b >>> 24)] as number) ^
        (t[1792 + (c & 0xff)] as number) ^
        (t[1536 + ((c >>> 8) & 0xff)] as number) ^
        (t[1280 + ((c >>> 16) & 0xff)] as number) ^
        (t[1024 + (c >>> 24)] as number) ^
        (t[768 + (d & 0xff)] as number) ^
        (t[512 + ((d >>> 8) & 0xff)] as number) ^
        (t[256 + ((d >>> 16) & 0xff)] as number) ^
        (t[d >>> 24] as number);
    }
  }
  for (; i < end; i++) crc = (t[(crc ^ (bytes[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return ~crc >>> 0;
}
