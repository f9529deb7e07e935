/**
 * The datagram layout. Every datagram is one packet:
 *
 * ```
 *  0        1        2                 6                 10            n-4      n
 *  +--------+--------+-----------------+-----------------+-------------+--------+
 *  | version|  type  | destination CID | packet number   |  payload    | CRC-32C|
 *  |  (1)   |  (u8)  |   (u32, BE)     |  (u32, BE)      |             | (u32)  |
 *  +--------+--------+-----------------+-----------------+-------------+--------+
 * ```
 *
 * The CRC-32C covers bytes [0, n-4). Payload by type:
 * - INITIAL (client → server, padded to 1200 bytes so a server reply is never
 *   an amplifier): source CID u32, token (varint length + bytes), receive window varint.
 * - RETRY (server → client): token (varint length + bytes), the stateless cookie.
 * - ACCEPT (server → client): source CID u32, receive window varint.
 * - DATA: a sequence of frames (see `frame.ts`).
 */
import { crc32c } from './crc32c.js';
import { Reader, readU32, varintSize, writeU32, writeVarint } from './varint.js';

/** Protocol version carried in byte 0. */
export const PROTOCOL_VERSION = 1;
/** Largest datagram rudp ever sends. */
export const MAX_DATAGRAM = 1200;
/** Bytes of header before the payload. */
export const HEADER_SIZE = 10;
/** Bytes of checksum after the payload. */
export const TRAILER_SIZE = 4;
/** Largest handshake token accepted. */
export const MAX_TOKEN = 64;

/** Packet types (byte 1). */
export const PacketType = { Initial: 1, Retry: 2, Accept: 3, Data: 4 } as const;
/** One of the `PacketType` values. */
export type PacketType = (typeof PacketType)[keyof typeof PacketType];

/** The fixed header of a parsed packet; `payload` is a view into the datagram. */
export interface PacketHeader {
  readonly type: PacketType;
  readonly dcid: number;
  readonly pn: number;
  readonly payload: Uint8Array;
}

/** Why a datagram was rejected. */
export type DropReason = 'short' | 'checksum' | 'version' | 'type' | 'malformed';

/** Checks length, checksum, version and type; never throws. */
export function parseHeader(data: Uint8Array): PacketHeader | DropReason {
  if (data.length < HEADER_SIZE + TRAILER_SIZE || data.length > MAX_DATAGRAM) return 'short';
  const end = data.length - TRAILER_SIZE;
  // Fixed offsets inside a length already checked: plain reads, no Reader per datagram.
  if (readU32(data, end) !== crc32c(data, 0, end)) return 'checksum';
  if (data[0] !== PROTOCOL_VERSION) return 'version';
  const type = data[1] as number;
  if (type < PacketType.Initial || type > PacketType.Data) return 'type';
  return { type: type as PacketType, dcid: readU32(data, 2), pn: readU32(data, 6), payload: data.subarray(HEADER_SIZE, end) };
}

/**
 * Builds one packet in a caller-owned buffer: header first, then payload
 * writes, then `finish()` appends the checksum and returns the datagram view.
 */
export class PacketWriter {
  /** Next write position. */
  pos = HEADER_SIZE;

  constructor(
    readonly buf: Uint8Array,
    type: PacketType,
    dcid: number,
    pn: number,
  ) {
    buf[0] = PROTOCOL_VERSION;
    buf[1] = type;
    writeU32(buf, 2, dcid);
    writeU32(buf, 6, pn);
  }

  /** Bytes still free for payload (the checksum's room is already kept back). */
  room(): number {
    return this.buf.length - TRAILER_SIZE - this.pos;
  }

  /** Appends a byte. */
  u8(v: number): void {
    this.buf[this.pos++] = v;
  }

  /** Appends a big-endian u32. */
  u32(v: number): void {
    this.pos = writeU32(this.buf, this.pos, v);
  }

  /** Appends a varint. */
  varint(v: number): void {
    this.pos = writeVarint(this.buf, this.pos, v);
  }

  /** Appends raw bytes. */
  bytes(b: Uint8Array): void {
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Zero bytes up to `size` total datagram length (checksum included). */
  padTo(size: number): void {
    const target = Math.min(size, this.buf.length) - TRAILER_SIZE;
    if (this.pos < target) {
      this.buf.fill(0, this.pos, target);
      this.pos = target;
    }
  }

  /** Appends the checksum and returns the finished datagram (a view of `buf`). */
  finish(): Uint8Array {
    const sum = crc32c(this.buf, 0, this.pos);
    this.pos = writeU32(this.buf, this.pos, sum);
    return this.buf.subarray(0, this.pos);
  }
}

/** Parameters each side announces in the handshake. */
export interface TransportParams {
  /** Bytes of message data the peer may send beyond what we have delivered. */
  readonly receiveWindow: number;
}

/** INITIAL payload. */
export interface InitialPayload {
  readonly scid: number;
  readonly token: Uint8Array;
  readonly params: TransportParams;
}

/** Encodes an INITIAL packet (padded to `MAX_DATAGRAM`). */
export function encodeInitial(buf: Uint8Array, pn: number, p: InitialPayload): Uint8Array {
  const w = new PacketWriter(buf, PacketType.Initial, 0, pn);
  w.u32(p.scid);
  w.varint(p.token.length);
  w.bytes(p.token);
  w.varint(p.params.receiveWindow);
  w.padTo(MAX_DATAGRAM);
  return w.finish();
}

/** Decodes an INITIAL payload; `undefined` if malformed. */
export function decodeInitial(payload: Uint8Array): InitialPayload | undefined {
  const r = new Reader(payload, 0, payload.length);
  const scid = r.u32();
  const len = r.varint();
  const token = len >= 0 && len <= MAX_TOKEN ? r.bytes(len) : undefined;
  const receiveWindow = r.varint();
  if (!r.ok || token === undefined) return undefined;
  return { scid, token, params: { receiveWindow } };
}

/** Encodes a RETRY packet carrying `token` to the client CID `dcid`. */
export function encodeRetry(buf: Uint8Array, dcid: number, token: Uint8Array): Uint8Array {
  const w = new PacketWriter(buf, PacketType.Retry, dcid, 0);
  w.varint(token.length);
  w.bytes(token);
  return w.finish();
}

/** Decodes a RETRY payload into its token. */
export function decodeRetry(payload: Uint8Array): Uint8Array | undefined {
  const r = new Reader(payload, 0, payload.length);
  const len = r.varint();
  if (len < 0 || len > MAX_TOKEN) return undefined;
  const token = r.bytes(len);
  return r.ok ? token : undefined;
}

/** ACCEPT payload. */
export interface AcceptPayload {
  readonly scid: number;
  readonly params: TransportParams;
}

/** Encodes an ACCEPT packet to the client CID `dcid`. */
export function encodeAccept(buf: Uint8Array, dcid: number, p: AcceptPayload): Uint8Array {
  const w = new PacketWriter(buf, PacketType.Accept, dcid, 0);
  w.u32(p.scid);
  w.varint(p.params.receiveWindow);
  return w.finish();
}

/** Decodes an ACCEPT payload. */
export function decodeAccept(payload: Uint8Array): AcceptPayload | undefined {
  const r = new Reader(payload, 0, payload.length);
  const scid = r.u32();
  const receiveWindow = r.varint();
  return r.ok ? { scid, params: { receiveWindow } } : undefined;
}

/** Size in bytes of a varint-prefixed byte string. */
export function prefixedSize(n: number): number {
  return varintSize(n) + n;
}
