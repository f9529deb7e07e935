/**
 * The datagram layout. Every datagram is one packet:
 *
 * ```
 *  0          1                 5                  5+L           n-4      n
 *  +----------+-----------------+------------------+-------------+--------+
 *  | VVVV LTTT| destination CID | packet number    |  payload    | CRC-32C|
 *  |   (u8)   |   (u32, BE)     | (L = 2 or 4, BE) |             | (u32)  |
 *  +----------+-----------------+------------------+-------------+--------+
 * ```
 *
 * Byte 0 holds the version (high four bits), the packet number length
 * (bit 3: 0 → 2 bytes, 1 → 4) and the type (low three bits). A two-byte
 * packet number is the low 16 bits of the full one; the receiver restores it
 * from the largest it has seen (RFC 9000 §17.1, Appendix A.3), and the sender
 * uses it only while fewer than 2^14 of its packets are unacknowledged.
 * The CRC-32C covers bytes [0, n-4). With a two-byte packet number the
 * trailer is that CRC XOR `epochMask(pn >>> 16)`: the bits the wire leaves
 * out are still checked, so a packet restored to the wrong full number (a
 * copy delayed by more than 2^15 packets) fails its checksum instead of
 * being taken for a newer one. Payload by type:
 * - INITIAL (client → server, padded to 1200 bytes so a server reply is never
 *   an amplifier): source CID u32, token (varint length + bytes), receive window varint.
 * - RETRY (server → client): token (varint length + bytes), the stateless cookie.
 * - ACCEPT (server → client): source CID u32, receive window varint.
 * - DATA: a sequence of frames (see `frame.ts`), in clear with the CRC
 *   trailer (plaintext mode only).
 * - PROTECTED (types 5 and 6, key phase 0 and 1): a DATA packet sealed with
 *   the connection's AEAD (crypto/packet-protection.ts). The header is the
 *   associated data, the full packet number the nonce, and the 16-byte tag
 *   takes the CRC's place: a packet restored to the wrong number, altered or
 *   forged fails to open and is dropped.
 * - INITIAL and ACCEPT also carry the handshake (crypto/secure-handshake.ts):
 *   the client's hello after the receive window; after the server's, a kind
 *   byte (0 plaintext, 1 server hello, 2 wrong key, 3 busy: the server
 *   refuses, at a connection limit or because the client does not encrypt
 *   as the server does) and its bytes.
 */
import { crc32c } from './crc32c.js';
import { Reader, readU32, varintSize, writeU32, writeVarint } from './varint.js';

/** Protocol version carried in the high four bits of byte 0. */
export const PROTOCOL_VERSION = 7;
/** The base datagram size: INITIALs are padded to it, and every path is assumed to carry it. */
export const MAX_DATAGRAM = 1200;
/** Largest datagram path MTU discovery may raise the size to (a 1500-byte IPv4 MTU less 28 bytes of IP and UDP header); the largest accepted. */
export const MAX_PROBED_DATAGRAM = 1472;
/** Most bytes of header before the payload (with a four-byte packet number). */
export const HEADER_SIZE = 9;
/** Fewest bytes of header (two-byte packet number). */
const MIN_HEADER_SIZE = 7;
/** Bytes of checksum after the payload. */
export const TRAILER_SIZE = 4;
/** Largest handshake token accepted. */
export const MAX_TOKEN = 64;
/** Bytes of the AEAD tag that ends a protected packet. */
export const TAG_SIZE = 16;
/** Largest handshake message carried in an INITIAL or ACCEPT. */
export const MAX_HANDSHAKE_BYTES = 1_100;

/** Packet types (low three bits of byte 0). */
export const PacketType = { Initial: 1, Retry: 2, Accept: 3, Data: 4, Protected0: 5, Protected1: 6 } as const;
/** One of the `PacketType` values. */
export type PacketType = (typeof PacketType)[keyof typeof PacketType];

/** The fixed header of a parsed packet; `payload` is a view into the datagram. */
export interface PacketHeader {
  readonly type: PacketType;
  /** The header's bytes (a protected packet's associated data). */
  readonly header: Uint8Array;
  readonly dcid: number;
  /** The packet number as sent: the whole of it, or its low 16 bits (`pnBytes` 2). */
  readonly pn: number;
  readonly pnBytes: PnLength;
  /** With `pnBytes` 2: the packet number's high bits (`pn >>> 16`) the checksum vouches for. */
  readonly epoch: number;
  readonly payload: Uint8Array;
}

/**
 * The same fields as `PacketHeader`, with the header and payload given as
 * offsets into the datagram rather than views of it: a view is a heap object,
 * and the receive path cuts only the ones it needs.
 */
export interface HeaderFields {
  readonly type: PacketType;
  readonly dcid: number;
  readonly pn: number;
  readonly pnBytes: PnLength;
  readonly epoch: number;
  /** The whole datagram. */
  readonly datagram: Uint8Array;
  /** Where the payload starts: the header is `datagram[0, payloadStart)`. */
  readonly payloadStart: number;
  /** Where the payload ends (before the checksum; a protected payload includes its tag). */
  readonly payloadEnd: number;
}

/**
 * A `HeaderFields` that `parseHeaderInto` overwrites with every datagram: one
 * per endpoint, read before the next datagram is parsed and never kept.
 */
export class HeaderScratch implements HeaderFields {
  type: PacketType = PacketType.Data;
  dcid = 0;
  pn = 0;
  pnBytes: PnLength = 4;
  epoch = 0;
  datagram: Uint8Array = new Uint8Array(0);
  payloadStart = 0;
  payloadEnd = 0;
}

/** Bytes of a packet number on the wire. */
export type PnLength = 2 | 4;

/** Why a datagram was rejected. */
export type DropReason = 'short' | 'checksum' | 'version' | 'type' | 'malformed';

/** Whether `type` is a protected DATA packet. */
export function isProtected(type: number): boolean {
  return type === PacketType.Protected0 || type === PacketType.Protected1;
}

/**
 * Checks length, checksum (plain packets; a protected one is checked when
 * the connection opens it), version and type; never throws. A new object
 * with views of the datagram: for tools and tests (the endpoint uses
 * `parseHeaderInto`).
 */
export function parseHeader(data: Uint8Array): PacketHeader | DropReason {
  const h = new HeaderScratch();
  const drop = parseHeaderInto(data, h);
  if (drop !== undefined) return drop;
  return { type: h.type, header: data.subarray(0, h.payloadStart), dcid: h.dcid, pn: h.pn, pnBytes: h.pnBytes, epoch: h.epoch, payload: data.subarray(h.payloadStart, h.payloadEnd) };
}

/**
 * As `parseHeader`, but writes the fields into `out` (overwriting what it
 * held) and returns `undefined`, or why the datagram is dropped (then `out`
 * holds nothing of use). Allocates nothing.
 */
export function parseHeaderInto(data: Uint8Array, out: HeaderScratch): DropReason | undefined {
  if (data.length < MIN_HEADER_SIZE + TRAILER_SIZE || data.length > MAX_PROBED_DATAGRAM) return 'short';
  // Fixed offsets inside a length already checked: plain reads, no Reader per datagram.
  const first = data[0] as number;
  const pnBytes: PnLength = (first & 0x08) !== 0 ? 4 : 2;
  const type = first & 0x07;
  const headerEnd = 5 + pnBytes;
  let end: number;
  let epoch = 0;
  if (isProtected(type)) {
    if (first >>> 4 !== PROTOCOL_VERSION) return 'version';
    if (data.length < headerEnd + TAG_SIZE) return 'short';
    end = data.length;
  } else {
    end = data.length - TRAILER_SIZE;
    // What is left of the trailer after the CRC: 0, or for DATA with a two-byte number the mask of its
    // epoch (checked exactly once the connection has restored the full number).
    const residual = (readU32(data, end) ^ crc32c(data, 0, end)) >>> 0;
    const masked = pnBytes === 2 && type === PacketType.Data;
    epoch = masked ? epochOfMask(residual) : 0;
    if (masked ? epoch >= 2 ** 16 : residual !== 0) return 'checksum';
    if (first >>> 4 !== PROTOCOL_VERSION) return 'version';
    if (type < PacketType.Initial || type > PacketType.Data) return 'type';
    // A four-byte number needs two more bytes than the shortest datagram has.
    if (headerEnd > end) return 'short';
  }
  out.type = type as PacketType;
  out.dcid = readU32(data, 1);
  out.pn = pnBytes === 4 ? readU32(data, 5) : (data[5] as number) * 256 + (data[6] as number);
  out.pnBytes = pnBytes;
  out.epoch = epoch;
  out.datagram = data;
  out.payloadStart = headerEnd;
  out.payloadEnd = end;
  return undefined;
}

/**
 * Builds one packet in a caller-owned buffer: header first, then payload
 * writes, then `finish()` appends the checksum and returns the datagram view.
 * A protected packet keeps room for the AEAD tag instead, and `finish()`
 * returns header and plaintext for the connection to seal.
 */
export class PacketWriter {
  /** Next write position. */
  pos = 0;
  /** The buffer written into (replaced by `reset`). */
  buf: Uint8Array;
  /** Where the payload starts. */
  headerLength = 0;
  private mask = 0;
  private trailer = 0;

  /** `pnBytes` 2 writes the low 16 bits of `pn` (see `packetNumberLength`). */
  constructor(buf: Uint8Array, type: PacketType, dcid: number, pn: number, pnBytes: PnLength = 4) {
    this.buf = buf;
    this.reset(buf, type, dcid, pn, pnBytes);
  }

  /**
   * Starts a new packet in `buf`, as a new writer would: one writer serves
   * packet after packet (a writer per packet is a heap object per packet).
   * Every field is rewritten, so nothing of the previous packet leaks in.
   */
  reset(buf: Uint8Array, type: PacketType, dcid: number, pn: number, pnBytes: PnLength = 4): this {
    this.buf = buf;
    buf[0] = (PROTOCOL_VERSION << 4) | (pnBytes === 4 ? 0x08 : 0) | type;
    this.mask = pnBytes === 2 && type === PacketType.Data ? epochMask(Math.floor(pn / 2 ** 16)) : 0;
    writeU32(buf, 1, dcid);
    if (pnBytes === 4) {
      writeU32(buf, 5, pn);
    } else {
      buf[5] = (pn >>> 8) & 0xff;
      buf[6] = pn & 0xff;
    }
    this.pos = 5 + pnBytes;
    this.headerLength = this.pos;
    this.trailer = isProtected(type) ? TAG_SIZE : TRAILER_SIZE;
    return this;
  }

  /** Bytes still free for payload (the checksum's or tag's room is already kept back). */
  room(): number {
    return this.buf.length - this.trailer - this.pos;
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

  /** Appends the checksum and returns the finished datagram (a view of `buf`); a protected packet: header and plaintext, to seal. */
  finish(): Uint8Array {
    if (this.trailer === TAG_SIZE) return this.buf.subarray(0, this.pos);
    const sum = (crc32c(this.buf, 0, this.pos) ^ this.mask) >>> 0;
    this.pos = writeU32(this.buf, this.pos, sum);
    return this.buf.subarray(0, this.pos);
  }
}

/** Odd multiplier of the epoch mask (Fibonacci hashing: a bijection on 32-bit words). */
const EPOCH_MULTIPLIER = 0x9e3779b1;
/** Its inverse modulo 2^32. */
const EPOCH_MULTIPLIER_INVERSE = 0x0e8b2f51;

/** What the trailer of a two-byte-numbered packet adds to its CRC for packet-number epoch `epoch` (0 for the first 2^16). */
export function epochMask(epoch: number): number {
  return Math.imul(epoch, EPOCH_MULTIPLIER) >>> 0;
}

/** The epoch a trailer residual stands for (≥ 2^16: none; the datagram is corrupt). */
function epochOfMask(mask: number): number {
  return Math.imul(mask, EPOCH_MULTIPLIER_INVERSE) >>> 0;
}

/**
 * How many bytes packet number `pn` needs when `largestAcked` is the
 * largest the peer has acknowledged (-1: none): two while the peer's
 * largest received packet is surely within 2^15 of it.
 */
export function packetNumberLength(pn: number, largestAcked: number): PnLength {
  return pn - Math.max(largestAcked, 0) < 1 << 14 ? 2 : 4;
}

/**
 * The full packet number of a received `truncated` one of `pnBytes` bytes,
 * given the largest full number received so far (-1: none): the candidate
 * closest to the next expected one (RFC 9000 Appendix A.3).
 */
export function expandPacketNumber(largest: number, truncated: number, pnBytes: PnLength): number {
  const win = pnBytes === 4 ? 2 ** 32 : 2 ** 16;
  const half = win / 2;
  const expected = largest + 1;
  const candidate = expected - (expected % win) + truncated;
  if (candidate <= expected - half && candidate + win <= 0xffffffff) return candidate + win;
  if (candidate > expected + half && candidate >= win) return candidate - win;
  return candidate;
}

/** Parameters each side announces in the handshake. */
export interface TransportParams {
  /** The receive window: the most credit we ever grant (the largest message is `MESSAGE_CREDIT` less). */
  readonly receiveWindow: number;
  /** The limit granted at first (flow-control.ts: the window grows toward `receiveWindow` as the application reads). */
  readonly initialLimit: number;
}

/** INITIAL payload. */
export interface InitialPayload {
  readonly scid: number;
  readonly token: Uint8Array;
  readonly params: TransportParams;
  /** The client's handshake message (empty: plaintext mode). */
  readonly hello: Uint8Array;
}

/** Encodes an INITIAL packet (padded to `MAX_DATAGRAM`). */
export function encodeInitial(buf: Uint8Array, pn: number, p: InitialPayload): Uint8Array {
  const w = new PacketWriter(buf, PacketType.Initial, 0, pn, 2);
  w.u32(p.scid);
  w.varint(p.token.length);
  w.bytes(p.token);
  w.varint(p.params.receiveWindow);
  w.varint(p.params.initialLimit);
  w.varint(p.hello.length);
  w.bytes(p.hello);
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
  const initialLimit = r.varint();
  const helloLength = r.varint();
  const hello = helloLength >= 0 && helloLength <= MAX_HANDSHAKE_BYTES ? r.bytes(helloLength) : undefined;
  if (!r.ok || token === undefined || hello === undefined) return undefined;
  return { scid, token, params: { receiveWindow, initialLimit }, hello };
}

/** Encodes a RETRY packet carrying `token` to the client CID `dcid`. */
export function encodeRetry(buf: Uint8Array, dcid: number, token: Uint8Array): Uint8Array {
  const w = new PacketWriter(buf, PacketType.Retry, dcid, 0, 2);
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

/**
 * What an ACCEPT carries of the handshake. `Busy` is the server's refusal of
 * a client that proved its address, while the server is at a connection
 * limit or the client's host past its handshake rate, or when the client's mode (encrypted or plaintext) is not the
 * server's: its handshake field is one `BusyReason` byte, and it makes no
 * connection.
 */
export const AcceptKind = { Plaintext: 0, ServerHello: 1, WrongKey: 2, Busy: 3 } as const;
/** One of the `AcceptKind` values. */
export type AcceptKind = (typeof AcceptKind)[keyof typeof AcceptKind];

/**
 * Why a `Busy` ACCEPT refused: the server's connection limit, its limit per
 * client host, a plaintext hello to a server that encrypts
 * (`EncryptionRequired`), or an encrypted hello to a plaintext server
 * (`NoEncryption`), or too many handshakes from the client's host lately
 * (`HostRate`). A client of an older version reads the last three as
 * "too many connections": refused at once all the same.
 */
export const BusyReason = { ServerFull: 0, HostFull: 1, EncryptionRequired: 2, NoEncryption: 3, HostRate: 4 } as const;
/** One of the `BusyReason` values. */
export type BusyReason = (typeof BusyReason)[keyof typeof BusyReason];

/** ACCEPT payload. */
export interface AcceptPayload {
  readonly scid: number;
  readonly params: TransportParams;
  readonly kind: AcceptKind;
  /** The server's handshake message (ServerHello), its public key (WrongKey), or a `BusyReason` byte (Busy). */
  readonly handshake: Uint8Array;
}

/** Encodes an ACCEPT packet to the client CID `dcid`. */
export function encodeAccept(buf: Uint8Array, dcid: number, p: AcceptPayload): Uint8Array {
  const w = new PacketWriter(buf, PacketType.Accept, dcid, 0, 2);
  w.u32(p.scid);
  w.varint(p.params.receiveWindow);
  w.varint(p.params.initialLimit);
  w.u8(p.kind);
  w.varint(p.handshake.length);
  w.bytes(p.handshake);
  return w.finish();
}

/** Decodes an ACCEPT payload. */
export function decodeAccept(payload: Uint8Array): AcceptPayload | undefined {
  const r = new Reader(payload, 0, payload.length);
  const scid = r.u32();
  const receiveWindow = r.varint();
  const initialLimit = r.varint();
  const kind = r.u8();
  const length = r.varint();
  const handshake = length >= 0 && length <= MAX_HANDSHAKE_BYTES ? r.bytes(length) : undefined;
  if (!r.ok || handshake === undefined || kind > AcceptKind.Busy) return undefined;
  return { scid, params: { receiveWindow, initialLimit }, kind: kind as AcceptKind, handshake };
}

/** Size in bytes of a varint-prefixed byte string. */
export function prefixedSize(n: number): number {
  return varintSize(n) + n;
}
