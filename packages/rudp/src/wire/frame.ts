/**
 * Frames carried in DATA packets. Each starts with a one-byte type:
 *
 * | type | frame     | fields (varints unless noted)                                    |
 * |------|-----------|-------------------------------------------------------------------|
 * | 0x00 | PADDING   | —                                                                 |
 * | 0x01 | PING      | — (ack-eliciting, nothing else)                                   |
 * | 0x02 | ACK       | largest, ack delay (µs), range count, first range, (gap, length)* |
 * | 0x03 | FRAGMENT  | message id, message length, offset, length, bytes                 |
 * | 0x04 | MAX_DATA  | highest message byte position the peer may send                  |
 * | 0x05 | CLOSE     | code, reason length, reason (UTF-8)                               |
 * | 0x06 | MESSAGE   | message id, length (u8), bytes: a whole message of ≤ 255 bytes    |
 * | 0x07 | REPAIR    | base message id, count (u8, top bit: uniform), width (u8), symbol |
 * | 0x08 | MESSAGE_ACK | next: every message with a smaller id is whole at the sender    |
 * | 0x09 | CHANNEL   | tag (channel << 1 | unordered), [predecessor delta]: annotates the next frame |
 * | 0x0a | DATAGRAM  | tag (channel), length, bytes: an unreliable message, no id          |
 * | 0x0b | PATH_CHALLENGE | 8 bytes of unpredictable data: answer with a PATH_RESPONSE     |
 * | 0x0c | PATH_RESPONSE  | the 8 bytes of the PATH_CHALLENGE it answers                   |
 * | 0x0d | BLOCKED   | the limit the sender waits for (the end of its next message)      |
 * | 0x0e | WINDOW    | the sender's receive window, raised (≤ `MAX_RECEIVE_WINDOW`)      |
 *
 * A FRAGMENT or MESSAGE frame alone is a message of channel 0, reliable and
 * ordered, whose predecessor on its channel is the message with the id just
 * below (none for id 0): all default traffic, byte for byte as before
 * channels existed. Any other reliable message is preceded by a CHANNEL frame
 * in every packet that carries a piece of it. For an ordered message the
 * CHANNEL frame holds `id − predecessor id` (0: the first of its channel), so
 * the receiver can release it as soon as its predecessor is released, without
 * knowing the channels of the ids in between.
 *
 * A packet carries at most one REPAIR frame.
 *
 * Beside this file: the type bytes (`frame-type.ts`), the ACK frame
 * (`ack-frame.ts`), and the frame objects reused from packet to packet
 * (`frame-scratch.ts`).
 */
import { type AckFrame, readAck } from './ack-frame.js';
import { type FrameScratch, NO_BYTES } from './frame-scratch.js';
import { FrameType } from './frame-type.js';
import type { PacketWriter } from './packet.js';
import { Reader, varintSize } from './varint.js';

/** Bytes of data a PATH_CHALLENGE or PATH_RESPONSE frame carries (RFC 9000 §19.17). */
export const PATH_DATA_BYTES = 8;

/** Largest message a MESSAGE frame carries. */
export const MAX_SMALL_MESSAGE = 255;
/** Most messages a REPAIR frame covers. */
export const MAX_REPAIR_COVER = 32;

/**
 * Largest receive window a WINDOW frame may carry, bytes (2^40, the most the `receiveWindow` option and
 * `raiseReceiveWindow` take): past it the packet is malformed, as a frame no honest peer sends.
 */
export const MAX_RECEIVE_WINDOW = 2 ** 40;

/** Channels are numbered 0 … `MAX_CHANNEL`. */
export const MAX_CHANNEL = 255;

/**
 * How a reliable message other than the default (channel 0, ordered, right
 * after a message of the same kind) is delivered: its CHANNEL frame.
 */
export interface Delivery {
  readonly channel: number;
  readonly ordered: boolean;
  /** Ordered: `id − predecessor id` on the channel (0: the first message of its channel). Unordered: 0. */
  readonly predecessorDelta: number;
}

/** A piece of a message. */
export interface FragmentFrame {
  readonly type: 'fragment';
  readonly messageId: number;
  readonly messageLength: number;
  readonly offset: number;
  readonly data: Uint8Array;
  /** The CHANNEL frame before it; absent: the default delivery. */
  readonly delivery?: Delivery;
}

/** DATAGRAM: an unreliable message, delivered if it arrives, never resent. */
export interface DatagramFrame {
  readonly type: 'datagram';
  readonly channel: number;
  readonly data: Uint8Array;
}

/**
 * REPAIR: Σ cᵢ · sᵢ over the source symbols of messages `baseId` …
 * `baseId + count − 1` (see core/repair/repair-code.ts).
 */
export interface RepairFrame {
  readonly type: 'repair';
  readonly baseId: number;
  readonly count: number;
  /** The symbol has no length byte: every covered message is `symbol.length` bytes. */
  readonly uniform: boolean;
  readonly symbol: Uint8Array;
}

/**
 * PATH_CHALLENGE or PATH_RESPONSE (RFC 9000 §19.17, §19.18): `data` is
 * `PATH_DATA_BYTES` bytes, a view of the received datagram (copy it to keep it).
 */
export interface PathFrame {
  readonly type: 'path-challenge' | 'path-response';
  readonly data: Uint8Array;
}

/** Any frame. A MESSAGE frame parses as a whole-message FRAGMENT. */
export type Frame =
  | { readonly type: 'ping' }
  | AckFrame
  | FragmentFrame
  | RepairFrame
  | DatagramFrame
  | PathFrame
  | { readonly type: 'message-ack'; readonly next: number }
  | { readonly type: 'max-data'; readonly limit: number }
  | { readonly type: 'blocked'; readonly limit: number }
  | { readonly type: 'window'; readonly window: number }
  | { readonly type: 'close'; readonly code: number; readonly reason: string };

/** Largest close reason we send or accept, in bytes. */
export const MAX_CLOSE_REASON = 256;

/** Bytes a FRAGMENT header takes before its data. */
export function fragmentHeaderSize(messageId: number, messageLength: number, offset: number, length: number): number {
  return 1 + varintSize(messageId) + varintSize(messageLength) + varintSize(offset) + varintSize(length);
}

/**
 * Most bytes the FRAGMENT header of any piece of at most `room` bytes of a
 * `messageLength`-byte message takes. Offsets stay below the length and a
 * piece is never longer than the message, so a 16 KiB message's offsets take
 * two bytes, not the four its length does: cutting chunks by this bound
 * instead of the length fills each packet to the byte.
 */
export function fragmentHeaderBound(messageId: number, messageLength: number, room: number): number {
  return fragmentHeaderSize(messageId, messageLength, Math.max(0, messageLength - 1), Math.min(room, messageLength));
}

/** Writes a FRAGMENT frame. */
export function writeFragment(w: PacketWriter, messageId: number, messageLength: number, offset: number, data: Uint8Array): void {
  w.u8(FrameType.Fragment);
  w.varint(messageId);
  w.varint(messageLength);
  w.varint(offset);
  w.varint(data.length);
  w.bytes(data);
}

/** Bytes a MESSAGE frame for a message of `length` (≤ `MAX_SMALL_MESSAGE`) takes. */
export function messageFrameSize(messageId: number, length: number): number {
  return 1 + varintSize(messageId) + 1 + length;
}

/** Writes a MESSAGE frame: a whole message of at most `MAX_SMALL_MESSAGE` bytes. */
export function writeMessage(w: PacketWriter, messageId: number, data: Uint8Array): void {
  w.u8(FrameType.Message);
  w.varint(messageId);
  w.u8(data.length);
  w.bytes(data);
}

/** Bytes a CHANNEL frame for `d` takes. */
export function channelFrameSize(d: Delivery): number {
  return 1 + varintSize(d.channel * 2 + (d.ordered ? 0 : 1)) + (d.ordered ? varintSize(d.predecessorDelta) : 0);
}

/** Writes a CHANNEL frame: it annotates the FRAGMENT or MESSAGE frame written right after it. */
export function writeChannel(w: PacketWriter, d: Delivery): void {
  w.u8(FrameType.Channel);
  w.varint(d.channel * 2 + (d.ordered ? 0 : 1));
  if (d.ordered) w.varint(d.predecessorDelta);
}

/** Bytes a DATAGRAM frame takes. */
export function datagramFrameSize(channel: number, length: number): number {
  return 1 + varintSize(channel) + varintSize(length) + length;
}

/** Writes a DATAGRAM frame. */
export function writeDatagram(w: PacketWriter, channel: number, data: Uint8Array): void {
  w.u8(FrameType.Datagram);
  w.varint(channel);
  w.varint(data.length);
  w.bytes(data);
}

/** Bytes a REPAIR frame with a `symbolLength`-byte symbol takes. */
export function repairFrameSize(baseId: number, symbolLength: number): number {
  return 1 + varintSize(baseId) + 2 + symbolLength;
}

/** Writes a REPAIR frame; `width` is the message width the symbol stands for (≤ 255). */
export function writeRepair(w: PacketWriter, baseId: number, count: number, uniform: boolean, width: number, symbol: Uint8Array): void {
  w.u8(FrameType.Repair);
  w.varint(baseId);
  w.u8((uniform ? 0x80 : 0) | count);
  w.u8(width);
  w.bytes(symbol);
}

/** Writes a MESSAGE_ACK frame. */
export function writeMessageAck(w: PacketWriter, next: number): void {
  w.u8(FrameType.MessageAck);
  w.varint(next);
}

/** Writes one PADDING byte: a packet with nothing else in it is no frame at all, and asks for no acknowledgement. */
export function writePadding(w: PacketWriter): void {
  w.u8(FrameType.Padding);
}

/** Writes a PING frame. */
export function writePing(w: PacketWriter): void {
  w.u8(FrameType.Ping);
}

/** Bytes a PATH_CHALLENGE or PATH_RESPONSE frame takes. */
export const PATH_FRAME_BYTES = 1 + PATH_DATA_BYTES;

/** Writes a PATH_CHALLENGE frame carrying `data` (`PATH_DATA_BYTES` bytes). */
export function writePathChallenge(w: PacketWriter, data: Uint8Array): void {
  writePathFrame(w, FrameType.PathChallenge, data);
}

/** Writes a PATH_RESPONSE frame echoing `data`, a PATH_CHALLENGE's (`PATH_DATA_BYTES` bytes). */
export function writePathResponse(w: PacketWriter, data: Uint8Array): void {
  writePathFrame(w, FrameType.PathResponse, data);
}

function writePathFrame(w: PacketWriter, type: number, data: Uint8Array): void {
  if (data.length !== PATH_DATA_BYTES) throw new RangeError(`rudp: path data must be ${PATH_DATA_BYTES} bytes, got ${data.length}`);
  w.u8(type);
  w.bytes(data);
}

/** Writes a MAX_DATA frame. */
export function writeMaxData(w: PacketWriter, limit: number): void {
  w.u8(FrameType.MaxData);
  w.varint(limit);
}

/** Writes a BLOCKED frame: the sender waits for the peer's limit to reach `limit` (the end of its next message). */
export function writeBlocked(w: PacketWriter, limit: number): void {
  w.u8(FrameType.Blocked);
  w.varint(limit);
}

/** Bytes a WINDOW frame announcing `window` takes. */
export function windowFrameSize(window: number): number {
  return 1 + varintSize(window);
}

/**
 * Writes a WINDOW frame: our receive window grew to `window` (`raiseReceiveWindow`), so the peer may
 * send messages up to it, waiting for credit (BLOCKED) where the limit is short.
 */
export function writeWindow(w: PacketWriter, window: number): void {
  w.u8(FrameType.Window);
  w.varint(window);
}

/** Bytes a CLOSE frame takes. */
export function closeFrameSize(code: number, reason: Uint8Array): number {
  return 1 + varintSize(code) + varintSize(reason.length) + reason.length;
}

/** Writes a CLOSE frame (`reason` already UTF-8 encoded and cut to `MAX_CLOSE_REASON`). */
function writeClose(w: PacketWriter, code: number, reason: Uint8Array): void {
  w.u8(FrameType.Close);
  w.varint(code);
  w.varint(reason.length);
  w.bytes(reason);
}

/** Bytes of reason a CLOSE frame with `code` carries in `room` bytes of packet (at most `MAX_CLOSE_REASON`). */
export function closeReasonRoom(room: number, code: number): number {
  return Math.max(0, Math.min(MAX_CLOSE_REASON, room - 1 - varintSize(code) - varintSize(MAX_CLOSE_REASON)));
}

/**
 * How many of UTF-8 `bytes`' first `max` bytes end on a character boundary:
 * a reason cut there decodes to a prefix of the text, not to a U+FFFD.
 */
export function utf8PrefixLength(bytes: Uint8Array, max: number): number {
  if (bytes.length <= max) return bytes.length;
  let end = Math.max(0, max);
  // Back over continuation bytes (10xxxxxx) to the start of the character the cut would split.
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return end;
}

/** Writes a CLOSE frame with `reason` cut, at a character boundary, to the room `w` has left: a small `mtu` may not hold the longest reason, and the packet must not overflow. */
export function writeCloseFitting(w: PacketWriter, code: number, reason: Uint8Array): void {
  writeClose(w, code, reason.subarray(0, utf8PrefixLength(reason, closeReasonRoom(w.room(), code))));
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Every PING frame parses to this one object: it has no fields, and it is frozen. */
const PING_FRAME: Frame = Object.freeze({ type: 'ping' });

/** Parses every frame of a DATA payload; `undefined` if any frame is malformed. Never throws. */
export function parseFrames(payload: Uint8Array): Frame[] | undefined {
  const frames: Frame[] = [];
  return parseFramesInto(payload, frames) === undefined ? undefined : frames;
}

/**
 * As `parseFrames`, but writes the frames into `out` from index 0 and
 * returns how many there are (`undefined`: malformed); slots past the count
 * keep whatever they held. An array reused from packet to packet keeps its
 * storage, where a new one grows room for 17 frames at its first push.
 * With `scratch`, the packet's first ACK frame and its FRAGMENT and MESSAGE
 * frames are that scratch's objects, rewritten by the next call that passes it.
 */
export function parseFramesInto(payload: Uint8Array, out: Frame[], scratch?: FrameScratch): number | undefined {
  const r = FRAME_READER.reset(payload, 0, payload.length);
  try {
    return readFrames(r, out, scratch);
  } finally {
    // The reader must not keep the datagram alive until the next packet.
    r.reset(NO_BYTES, 0, 0);
  }
}

/**
 * The reader of `parseFramesInto`, one for every call (a reader per packet
 * is a heap object per packet): parsing runs no code that parses another.
 */
const FRAME_READER = new Reader(new Uint8Array(0), 0, 0);

function readFrames(r: Reader, out: Frame[], scratch: FrameScratch | undefined): number | undefined {
  let n = 0;
  let fragments = 0;
  let repairs = 0;
  let acks = 0;
  /** A CHANNEL frame waiting for the FRAGMENT or MESSAGE frame it annotates. */
  let delivery: Delivery | undefined;
  while (r.remaining() > 0) {
    const t = r.u8();
    // A CHANNEL frame annotates exactly the next frame, which must carry a piece of a message.
    if (delivery !== undefined && t !== FrameType.Fragment && t !== FrameType.Message) return undefined;
    switch (t) {
      case FrameType.Padding:
        break;
      case FrameType.Ping:
        out[n++] = PING_FRAME;
        break;
      case FrameType.Ack: {
        // Only the first: a second ACK frame in the packet must not overwrite the first.
        const ack = readAck(r, acks++ === 0 ? scratch?.ack : undefined);
        if (!ack) return undefined;
        out[n++] = ack;
        break;
      }
      case FrameType.Fragment: {
        const messageId = r.varint();
        const messageLength = r.varint();
        const offset = r.varint();
        const length = r.varint();
        if (!r.ok || offset + length > messageLength) return undefined;
        const data = r.bytes(length);
        if (!data) return undefined;
        if (scratch !== undefined) out[n++] = scratch.fragment(fragments++, messageId, messageLength, offset, data, delivery);
        else out[n++] = delivery === undefined ? { type: 'fragment', messageId, messageLength, offset, data } : { type: 'fragment', messageId, messageLength, offset, data, delivery };
        delivery = undefined;
        break;
      }
      case FrameType.Message: {
        const messageId = r.varint();
        const length = r.u8();
        if (!r.ok) return undefined;
        const data = r.bytes(length);
        if (!data) return undefined;
        if (scratch !== undefined) out[n++] = scratch.fragment(fragments++, messageId, length, 0, data, delivery);
        else
          out[n++] =
            delivery === undefined
              ? { type: 'fragment', messageId, messageLength: length, offset: 0, data }
              : { type: 'fragment', messageId, messageLength: length, offset: 0, data, delivery };
        delivery = undefined;
        break;
      }
      case FrameType.Channel: {
        const tag = r.varint();
        const ordered = (tag & 1) === 0;
        const predecessorDelta = ordered ? r.varint() : 0;
        const channel = Math.floor(tag / 2);
        if (!r.ok || channel > MAX_CHANNEL) return undefined;
        delivery = { channel, ordered, predecessorDelta };
        break;
      }
      case FrameType.Datagram: {
        const channel = r.varint();
        const length = r.varint();
        if (!r.ok || channel > MAX_CHANNEL) return undefined;
        const data = r.bytes(length);
        if (!data) return undefined;
        out[n++] = { type: 'datagram', channel, data };
        break;
      }
      case FrameType.PathChallenge:
      case FrameType.PathResponse: {
        const data = r.bytes(PATH_DATA_BYTES);
        if (!data) return undefined;
        out[n++] = { type: t === FrameType.PathChallenge ? 'path-challenge' : 'path-response', data };
        break;
      }
      case FrameType.Repair: {
        const baseId = r.varint();
        const flags = r.u8();
        const width = r.u8();
        const count = flags & 0x7f;
        // One per packet: its coefficients come from the packet number, so a second would repeat them.
        // Ids must stay exact in a double: a base near 2^53 would make `baseId + count` round.
        if (!r.ok || count === 0 || count > MAX_REPAIR_COVER || baseId > Number.MAX_SAFE_INTEGER - MAX_REPAIR_COVER || ++repairs > 1) return undefined;
        const uniform = (flags & 0x80) !== 0;
        const symbol = r.bytes(uniform ? width : width + 1);
        if (!symbol) return undefined;
        out[n++] = { type: 'repair', baseId, count, uniform, symbol };
        break;
      }
      case FrameType.MessageAck: {
        const next = r.varint();
        if (!r.ok) return undefined;
        out[n++] = { type: 'message-ack', next };
        break;
      }
      case FrameType.MaxData: {
        const limit = r.varint();
        if (!r.ok) return undefined;
        out[n++] = { type: 'max-data', limit };
        break;
      }
      case FrameType.Blocked: {
        const limit = r.varint();
        if (!r.ok) return undefined;
        out[n++] = { type: 'blocked', limit };
        break;
      }
      case FrameType.Window: {
        const window = r.varint();
        if (!r.ok || window > MAX_RECEIVE_WINDOW) return undefined;
        out[n++] = { type: 'window', window };
        break;
      }
      case FrameType.Close: {
        const code = r.varint();
        const len = r.varint();
        if (!r.ok || len > MAX_CLOSE_REASON) return undefined;
        const reason = r.bytes(len);
        if (!reason) return undefined;
        out[n++] = { type: 'close', code, reason: utf8.decode(reason) };
        break;
      }
      default:
        return undefined;
    }
  }
  // A CHANNEL frame with nothing after it annotates nothing.
  if (delivery !== undefined) return undefined;
  return n;
}
