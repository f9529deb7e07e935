/**
 * The VERSION packet: a server's answer to an INITIAL of another protocol
 * version, so that a client and server of different releases learn why
 * they cannot connect instead of waiting for a timeout. Its layout is
 * fixed for every version from 5 on (the versions it names may change):
 *
 * | bytes | field |
 * |---|---|
 * | 1 | `0x00`: version nibble 0, which no protocol version takes, type 0 |
 * | 4 | the client's connection id, echoed from its INITIAL |
 * | 1 | n, the number of versions the server speaks (1 to 15) |
 * | n | the versions, one a byte |
 * | 4 | CRC-32C of the bytes before it |
 *
 * An INITIAL of any version from 4 on is at least `MAX_DATAGRAM` bytes, plain
 * (CRC-32C trailer), type 1 in its first byte's low three bits, and carries
 * the client's connection id in bytes 7 to 10 (after a two-byte packet
 * number): that much stays the same in every version, so a server can
 * answer one it cannot read.
 */
import { crc32c } from './crc32c.js';
import { MAX_DATAGRAM, PROTOCOL_VERSION, PacketType, TRAILER_SIZE } from './packet.js';
import { readU32, writeU32 } from './varint.js';

/** The first byte of a VERSION packet. */
export const VERSION_PACKET_BYTE = 0x00;

// The INITIAL invariant above: the two-byte packet number (flag 0x08 clear) puts the client's id at byte 7.
const INITIAL_CID_AT = 7;
const MAX_VERSIONS = 15;

/**
 * The client's connection id of an INITIAL of another protocol version, or `undefined` if `data` is not
 * one: too short to be an INITIAL (so the answer is far smaller than what asked for it), a checksum that
 * fails (noise, not a peer), our own version, or another packet type.
 */
export function otherVersionInitialCid(data: Uint8Array): number | undefined {
  if (data.length < MAX_DATAGRAM) return undefined;
  const first = data[0] as number;
  const version = first >>> 4;
  if (version === PROTOCOL_VERSION || version === 0 || (first & 0x07) !== PacketType.Initial || (first & 0x08) !== 0) return undefined;
  const end = data.length - TRAILER_SIZE;
  if (readU32(data, end) !== crc32c(data, 0, end)) return undefined;
  return readU32(data, INITIAL_CID_AT);
}

/** A VERSION packet to client connection `clientCid`, naming `versions` (1 to 15 of them, each 1 to 15). */
export function encodeVersionPacket(clientCid: number, versions: readonly number[] = [PROTOCOL_VERSION]): Uint8Array {
  if (versions.length < 1 || versions.length > MAX_VERSIONS || versions.some((v) => !Number.isInteger(v) || v < 1 || v > 15)) throw new RangeError('rudp: a VERSION packet names 1 to 15 versions, each 1 to 15');
  const out = new Uint8Array(6 + versions.length + TRAILER_SIZE);
  out[0] = VERSION_PACKET_BYTE;
  writeU32(out, 1, clientCid);
  out[5] = versions.length;
  out.set(versions, 6);
  const end = 6 + versions.length;
  writeU32(out, end, crc32c(out, 0, end));
  return out;
}

/** A decoded VERSION packet. */
export interface VersionPacket {
  /** The client connection it answers. */
  readonly clientCid: number;
  /** The versions the server speaks. */
  readonly versions: readonly number[];
}

/** Decodes a VERSION packet; `undefined` if `data` is not a well-formed one. */
export function decodeVersionPacket(data: Uint8Array): VersionPacket | undefined {
  if (data.length < 6 + 1 + TRAILER_SIZE || data[0] !== VERSION_PACKET_BYTE) return undefined;
  const n = data[5] as number;
  if (n < 1 || n > MAX_VERSIONS || data.length !== 6 + n + TRAILER_SIZE) return undefined;
  const end = 6 + n;
  if (readU32(data, end) !== crc32c(data, 0, end)) return undefined;
  const versions = Array.from(data.subarray(6, end));
  if (versions.some((v) => v < 1 || v > 15)) return undefined;
  return { clientCid: readU32(data, 1), versions };
}
