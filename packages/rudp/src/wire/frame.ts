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
 *
 * ACK ranges follow RFC 9000 §19.3: the first range covers
 * [largest − first, largest]; each next range sits `gap + 2` below the
 * previous smallest and spans `length + 1` packets.
 */
import type { PacketWriter } from './packet.js';
import { Reader, varintSize } from './varint.js';

/** Frame type bytes. */
export const FrameType = { Padding: 0, Ping: 1, Ack: 2, Fragment: 3, MaxData: 4, Close: 5 } as const;

/** An inclusive range of packet numbers. */
export interface PnRange {
  readonly lo: number;
  readonly hi: number;
}

/** ACK: ranges sorted from the highest down. */
export interface AckFrame {
  readonly type: 'ack';
  readonly ranges: readonly PnRange[];
  readonly delayMicros: number;
}

/** A piece of a message. */
export interface FragmentFrame {
  readonly type: 'fragment';
  readonly messageId: number;
  readonly messageLength: number;
  readonly offset: number;
  readonly data: Uint8Array;
}

/** Any frame. */
export type Frame =
  | { readonly type: 'ping' }
  | AckFrame
  | FragmentFrame
  | { readonly type: 'max-data'; readonly limit: number }
  | { readonly type: 'close'; readonly code: number; readonly reason: string };

/** Largest close reason we send or accept, in bytes. */
export const MAX_CLOSE_REASON = 256;

/** Bytes a FRAGMENT header takes before its data. */
export function fragmentHeaderSize(messageId: number, messageLength: number, offset: number, length: number): number {
  return 1 + varintSize(messageId) + varintSize(messageLength) + varintSize(offset) + varintSize(length);
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

/** Bytes an ACK frame for `ranges` takes. */
export function ackFrameSize(ranges: readonly PnRange[], delayMicros: number): number {
  const first = ranges[0];
  if (!first) return 0;
  let n = 1 + varintSize(first.hi) + varintSize(delayMicros) + varintSize(ranges.length - 1) + varintSize(first.hi - first.lo);
  for (let i = 1; i < ranges.length; i++) {
    const prev = ranges[i - 1] as PnRange;
    const r = ranges[i] as PnRange;
    n += varintSize(prev.lo - r.hi - 2) + varintSize(r.hi - r.lo);
  }
  return n;
}

/** Writes an ACK frame; `ranges` must be disjoint, sorted highest first, non-adjacent. */
export function writeAck(w: PacketWriter, ranges: readonly PnRange[], delayMicros: number): void {
  const first = ranges[0];
  if (!first) return;
  w.u8(FrameType.Ack);
  w.varint(first.hi);
  w.varint(delayMicros);
  w.varint(ranges.length - 1);
  w.varint(first.hi - first.lo);
  for (let i = 1; i < ranges.length; i++) {
    const prev = ranges[i - 1] as PnRange;
    const r = ranges[i] as PnRange;
    w.varint(prev.lo - r.hi - 2);
    w.varint(r.hi - r.lo);
  }
}

/** Writes a PING frame. */
export function writePing(w: PacketWriter): void {
  w.u8(FrameType.Ping);
}

/** Writes a MAX_DATA frame. */
export function writeMaxData(w: PacketWriter, limit: number): void {
  w.u8(FrameType.MaxData);
  w.varint(limit);
}

/** Bytes a CLOSE frame takes. */
export function closeFrameSize(code: number, reason: Uint8Array): number {
  return 1 + varintSize(code) + varintSize(reason.length) + reason.length;
}

/** Writes a CLOSE frame (`reason` already UTF-8 encoded and cut to `MAX_CLOSE_REASON`). */
export function writeClose(w: PacketWriter, code: number, reason: Uint8Array): void {
  w.u8(FrameType.Close);
  w.varint(code);
  w.varint(reason.length);
  w.bytes(reason);
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Parses every frame of a DATA payload; `undefined` if any frame is malformed. Never throws. */
export function parseFrames(payload: Uint8Array): Frame[] | undefined {
  const r = new Reader(payload, 0, payload.length);
  const frames: Frame[] = [];
  while (r.remaining() > 0) {
    const t = r.u8();
    switch (t) {
      case FrameType.Padding:
        break;
      case FrameType.Ping:
        frames.push({ type: 'ping' });
        break;
      case FrameType.Ack: {
        const ack = readAck(r);
        if (!ack) return undefined;
        frames.push(ack);
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
        frames.push({ type: 'fragment', messageId, messageLength, offset, data });
        break;
      }
      case FrameType.MaxData: {
        const limit = r.varint();
        if (!r.ok) return undefined;
        frames.push({ type: 'max-data', limit });
        break;
      }
      case FrameType.Close: {
        const code = r.varint();
        const len = r.varint();
        if (!r.ok || len > MAX_CLOSE_REASON) return undefined;
        const reason = r.bytes(len);
        if (!reason) return undefined;
        frames.push({ type: 'close', code, reason: utf8.decode(reason) });
        break;
      }
      default:
        return undefined;
    }
  }
  return frames;
}

/** Most ACK ranges accepted in one frame; more is treated as malformed. */
export const MAX_ACK_RANGES = 256;

function readAck(r: Reader): AckFrame | undefined {
  const largest = r.varint();
  const delayMicros = r.varint();
  const count = r.varint();
  const firstLen = r.varint();
  if (!r.ok || count > MAX_ACK_RANGES || firstLen > largest) return undefined;
  const ranges: PnRange[] = [{ lo: largest - firstLen, hi: largest }];
  let lo = largest - firstLen;
  for (let i = 0; i < count; i++) {
    const gap = r.varint();
    const len = r.varint();
    if (!r.ok) return undefined;
    const hi = lo - gap - 2;
    const newLo = hi - len;
    if (newLo < 0) return undefined;
    ranges.push({ lo: newLo, hi });
    lo = newLo;
  }
  return { type: 'ack', ranges, delayMicros };
}
