import { crc32 } from 'node:zlib';

/** Bytes of sequence number, length and checksum every benchmark payload carries. */
export const PAYLOAD_OVERHEAD = 12;

/**
 * Builds a `size`-byte payload: sequence number (u32), total length (u32),
 * a filler that depends on the sequence number, then a CRC-32 of everything
 * before it. The CRC is zlib's, independent of rudp's own CRC-32C, so a
 * transport bug cannot hide behind a matching checksum.
 */
export function makePayload(seq: number, size: number): Uint8Array {
  if (size < PAYLOAD_OVERHEAD) throw new RangeError(`payload size ${size} < ${PAYLOAD_OVERHEAD}`);
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, seq >>> 0);
  view.setUint32(4, size);
  for (let i = 8; i < size - 4; i++) bytes[i] = (seq * 31 + i * 7) & 0xff;
  view.setUint32(size - 4, crc32(bytes.subarray(0, size - 4)));
  return bytes;
}

/** A payload that passed its checks: its sequence number. */
export interface ParsedPayload {
  readonly seq: number;
}

/** Checks a delivered payload; `undefined` when its length or checksum is wrong. */
export function parsePayload(data: Uint8Array): ParsedPayload | undefined {
  if (data.byteLength < PAYLOAD_OVERHEAD) return undefined;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (view.getUint32(4) !== data.byteLength) return undefined;
  if (view.getUint32(data.byteLength - 4) !== crc32(data.subarray(0, data.byteLength - 4))) return undefined;
  return { seq: view.getUint32(0) };
}
