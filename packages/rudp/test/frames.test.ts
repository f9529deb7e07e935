import { describe, expect, it } from 'vitest';
import {
  type Frame,
  channelFrameSize,
  datagramFrameSize,
  messageFrameSize,
  parseFrames,
  parseFramesInto,
  repairFrameSize,
  MAX_CLOSE_REASON,
  PATH_DATA_BYTES,
  PATH_FRAME_BYTES,
  writeChannel,
  writeCloseFitting,
  writeDatagram,
  writeFragment,
  writeMessage,
  writeMessageAck,
  writePathChallenge,
  writePathResponse,
  writeRepair,
} from '../src/wire/frame.js';
import { type AckFrame, ackFrameSize, writeAck } from '../src/wire/ack-frame.js';
import { FrameScratch } from '../src/wire/frame-scratch.js';
import { FrameType } from '../src/wire/frame-type.js';
import { PacketType, PacketWriter, parseHeader } from '../src/wire/packet.js';
import { framesIn, writerWithRoom } from './unit/fixtures.js';

/** The frames written by `write`, as a receiver parses them. */
function roundTrip(write: (w: PacketWriter) => void): Frame[] | undefined {
  const w = new PacketWriter(new Uint8Array(1200), PacketType.Data, 7, 1);
  write(w);
  const h = parseHeader(w.finish());
  if (typeof h === 'string') throw new Error(h);
  return parseFrames(h.payload);
}

/** The payload of a DATA packet whose frames `write` writes. */
function payloadOf(write: (w: PacketWriter) => void): Uint8Array {
  const w = new PacketWriter(new Uint8Array(1200), PacketType.Data, 7, 1);
  write(w);
  const h = parseHeader(w.finish().slice());
  if (typeof h === 'string') throw new Error(h);
  return h.payload;
}

describe('parseFramesInto (one list reused from packet to packet)', () => {
  it('two packets parsed back to back into one list: the count and the slots are the second one’s', () => {
    const out: Frame[] = [];
    const a = payloadOf((w) => {
      writeMessage(w, 1, new Uint8Array([1]));
      writeMessage(w, 2, new Uint8Array([2]));
      writeMessageAck(w, 5);
    });
    const b = payloadOf((w) => writeMessage(w, 9, new Uint8Array([9, 9])));
    expect(parseFramesInto(a, out)).toBe(3);
    const first = out[0];
    expect(parseFramesInto(b, out)).toBe(1);
    expect(out[0]).toEqual({ type: 'fragment', messageId: 9, messageLength: 2, offset: 0, data: new Uint8Array([9, 9]) });
    // A frame object handed out before is not rewritten by the next parse.
    expect(first).toEqual({ type: 'fragment', messageId: 1, messageLength: 1, offset: 0, data: new Uint8Array([1]) });
    expect(parseFrames(a)).toHaveLength(3);
  });
});

describe('parseFramesInto (one reader for every packet)', () => {
  it('a packet after a malformed or a longer one parses as if it came first', () => {
    const out: Frame[] = [];
    const good = payloadOf((w) => writeMessage(w, 3, new Uint8Array([3, 3, 3])));
    const long = payloadOf((w) => {
      for (let id = 0; id < 20; id++) writeMessage(w, id, new Uint8Array(30).fill(id));
    });
    // A MESSAGE frame claiming more bytes than the packet has: the read fails (the reader's `ok` drops).
    const truncated = good.slice(0, good.length - 1);
    expect(parseFramesInto(truncated, out)).toBeUndefined();
    expect(parseFramesInto(good, out)).toBe(1);
    expect(out[0]).toEqual({ type: 'fragment', messageId: 3, messageLength: 3, offset: 0, data: new Uint8Array([3, 3, 3]) });
    expect(parseFramesInto(long, out)).toBe(20);
    // The end is the shorter packet's own: a frame past it would parse from the longer one's bytes.
    expect(parseFramesInto(good.subarray(0, 1), out)).toBeUndefined();
    expect(parseFramesInto(good, out)).toBe(1);
  });
});

describe('FrameScratch: the first ACK frame of each packet, reused', () => {
  const ackOf = (f: Frame | undefined): AckFrame => {
    if (f?.type !== 'ack') throw new Error('not an ACK');
    return f;
  };
  const plain = (f: AckFrame): unknown => ({ ranges: f.ranges.map((r) => ({ ...r })), delayMicros: f.delayMicros });

  it('two packets back to back: the second ACK has exactly its own ranges, however many the first had', () => {
    const scratch = new FrameScratch();
    const out: Frame[] = [];
    const three = payloadOf((w) => writeAck(w, [{ lo: 20, hi: 30 }, { lo: 10, hi: 15 }, { lo: 1, hi: 5 }], 800));
    const one = payloadOf((w) => writeAck(w, [{ lo: 40, hi: 41 }], 16));
    expect(parseFramesInto(three, out, scratch)).toBe(1);
    const first = ackOf(out[0]);
    expect(first).toBe(scratch.ack.frame);
    expect(plain(first)).toEqual({ ranges: [{ lo: 20, hi: 30 }, { lo: 10, hi: 15 }, { lo: 1, hi: 5 }], delayMicros: 800 });
    expect(parseFramesInto(one, out, scratch)).toBe(1);
    expect(ackOf(out[0])).toBe(scratch.ack.frame);
    expect(plain(ackOf(out[0]))).toEqual({ ranges: [{ lo: 40, hi: 41 }], delayMicros: 16 });
    expect(parseFramesInto(three, out, scratch)).toBe(1);
    expect(plain(ackOf(out[0]))).toEqual({ ranges: [{ lo: 20, hi: 30 }, { lo: 10, hi: 15 }, { lo: 1, hi: 5 }], delayMicros: 800 });
  });

  it('a second ACK frame in the same packet is its own object; without a scratch every frame is', () => {
    const scratch = new FrameScratch();
    const out: Frame[] = [];
    const two = payloadOf((w) => {
      writeAck(w, [{ lo: 7, hi: 9 }, { lo: 1, hi: 2 }], 8);
      writeAck(w, [{ lo: 3, hi: 4 }], 24);
    });
    expect(parseFramesInto(two, out, scratch)).toBe(2);
    const [a, b] = [ackOf(out[0]), ackOf(out[1])];
    expect(a).toBe(scratch.ack.frame);
    expect(b).not.toBe(a);
    expect([plain(a), plain(b)]).toEqual([
      { ranges: [{ lo: 7, hi: 9 }, { lo: 1, hi: 2 }], delayMicros: 8 },
      { ranges: [{ lo: 3, hi: 4 }], delayMicros: 24 },
    ]);
    const x = ackOf(parseFrames(two)?.[0]);
    const y = ackOf(parseFrames(two)?.[0]);
    expect(x).not.toBe(y);
    expect(x).not.toBe(scratch.ack.frame);
    expect(x.ranges[0]).not.toBe(y.ranges[0]);
  });
});

describe('FrameScratch: the fragment frames of each packet, reused', () => {
  it('two packets back to back: every fragment has the second packet’s fields, its CHANNEL annotation or none', () => {
    const scratch = new FrameScratch();
    const out: Frame[] = [];
    const first = payloadOf((w) => {
      writeChannel(w, { channel: 3, ordered: true, predecessorDelta: 2 });
      writeMessage(w, 7, new Uint8Array([7]));
      writeFragment(w, 8, 5000, 1000, new Uint8Array([8, 8]));
    });
    const second = payloadOf((w) => {
      writeMessage(w, 9, new Uint8Array([9, 9, 9]));
      writeChannel(w, { channel: 1, ordered: false, predecessorDelta: 0 });
      writeFragment(w, 10, 6000, 2000, new Uint8Array([10]));
      writeMessage(w, 11, new Uint8Array([11]));
    });
    const plain = (f: Frame | undefined): unknown => ({ ...f });
    expect(parseFramesInto(first, out, scratch)).toBe(2);
    const a = out[0];
    expect([plain(out[0]), plain(out[1])]).toEqual([
      { type: 'fragment', messageId: 7, messageLength: 1, offset: 0, data: new Uint8Array([7]), delivery: { channel: 3, ordered: true, predecessorDelta: 2 } },
      { type: 'fragment', messageId: 8, messageLength: 5000, offset: 1000, data: new Uint8Array([8, 8]), delivery: undefined },
    ]);
    const kept = a?.type === 'fragment' ? a.data : undefined;
    // Not released in between: `fragment` alone rewrites every field.
    expect(parseFramesInto(second, out, scratch)).toBe(3);
    expect(out[0]).toBe(a);
    expect([plain(out[0]), plain(out[1]), plain(out[2])]).toEqual([
      { type: 'fragment', messageId: 9, messageLength: 3, offset: 0, data: new Uint8Array([9, 9, 9]), delivery: undefined },
      { type: 'fragment', messageId: 10, messageLength: 6000, offset: 2000, data: new Uint8Array([10]), delivery: { channel: 1, ordered: false, predecessorDelta: 0 } },
      { type: 'fragment', messageId: 11, messageLength: 1, offset: 0, data: new Uint8Array([11]), delivery: undefined },
    ]);
    // A data view handed out stays the first packet's bytes.
    expect(kept).toEqual(new Uint8Array([7]));
    // Released: the frames point at no packet.
    scratch.release();
    expect(a?.type === 'fragment' && [a.data.length, a.delivery]).toEqual([0, undefined]);
  });
});

describe('frames', () => {
  it('a MESSAGE frame parses as a whole-message fragment and takes the size it claims', () => {
    const data = new Uint8Array(64).fill(9);
    let written = 0;
    const frames = roundTrip((w) => {
      const before = w.room();
      writeMessage(w, 300, data);
      written = before - w.room();
    });
    expect(frames).toEqual([{ type: 'fragment', messageId: 300, messageLength: 64, offset: 0, data }]);
    expect(written).toBe(messageFrameSize(300, 64));
  });

  it('REPAIR and MESSAGE_ACK frames round-trip; uniform repairs carry no length byte', () => {
    const symbol = new Uint8Array(64).fill(3);
    let written = 0;
    const frames = roundTrip((w) => {
      const before = w.room();
      writeRepair(w, 1000, 5, true, 64, symbol);
      written = before - w.room();
      writeMessageAck(w, 123_456);
    });
    expect(written).toBe(repairFrameSize(1000, 64));
    expect(frames).toEqual([
      { type: 'repair', baseId: 1000, count: 5, uniform: true, symbol },
      { type: 'message-ack', next: 123_456 },
    ]);
    expect(roundTrip((w) => writeRepair(w, 1000, 32, false, 10, new Uint8Array(11)))).toEqual([
      { type: 'repair', baseId: 1000, count: 32, uniform: false, symbol: new Uint8Array(11) },
    ]);
  });

  it('refuses a second REPAIR in one packet (its coefficients would repeat the first\'s)', () => {
    const twice = roundTrip((w) => {
      writeRepair(w, 0, 2, true, 4, new Uint8Array(4));
      writeRepair(w, 2, 2, true, 4, new Uint8Array(4));
    });
    expect(twice).toBeUndefined();
  });

  it('refuses REPAIR frames covering no message or more than 32, with a short symbol, or with ids past 2^53', () => {
    for (const [count, uniform, width, bytes] of [
      [0, true, 4, 4],
      [33, true, 4, 4],
      [3, false, 4, 4], // a length byte is missing
    ] as const) {
      expect(roundTrip((w) => writeRepair(w, 0, count, uniform, width, new Uint8Array(bytes)))).toBeUndefined();
    }
    // A base so high that base + count would round in a double (a receiver once looped forever on it).
    expect(roundTrip((w) => writeRepair(w, 2 ** 53 - 1, 32, true, 1, new Uint8Array(1)))).toBeUndefined();
    expect(roundTrip((w) => writeRepair(w, Number.MAX_SAFE_INTEGER - 32, 32, true, 1, new Uint8Array(1)))).toHaveLength(1);
  });

  it('ACK delays travel in 8 µs units', () => {
    // 25,003 µs is sent as 3,125 units and read back as 25,000 µs.
    const frames = roundTrip((w) => writeAck(w, [{ lo: 1, hi: 40 }], 25_003));
    expect(frames).toEqual([{ type: 'ack', ranges: [{ lo: 1, hi: 40 }], delayMicros: 25_000 }]);
    // 25 ms (the default max ack delay) fits a two-byte varint.
    expect(ackFrameSize([{ lo: 1, hi: 40 }], 25_000)).toBe(1 + 1 + 2 + 1 + 1);
  });

  it('a CHANNEL frame annotates the FRAGMENT or MESSAGE after it; DATAGRAM frames round-trip; sizes are as claimed', () => {
    const data = new Uint8Array(10).fill(4);
    const ordered = { channel: 200, ordered: true, predecessorDelta: 70 };
    const unordered = { channel: 3, ordered: false, predecessorDelta: 0 };
    const sizes: number[] = [];
    const frames = roundTrip((w) => {
      const at = (): number => w.room();
      let before = at();
      writeChannel(w, ordered);
      sizes.push(before - at());
      writeMessage(w, 500, data);
      before = at();
      writeChannel(w, unordered);
      sizes.push(before - at());
      writeFragment(w, 501, 3000, 1000, data);
      writeMessage(w, 502, data);
      before = at();
      writeDatagram(w, 255, data);
      sizes.push(before - at());
    });
    expect(sizes).toEqual([channelFrameSize(ordered), channelFrameSize(unordered), datagramFrameSize(255, 10)]);
    expect(frames).toEqual([
      { type: 'fragment', messageId: 500, messageLength: 10, offset: 0, data, delivery: ordered },
      { type: 'fragment', messageId: 501, messageLength: 3000, offset: 1000, data, delivery: unordered },
      { type: 'fragment', messageId: 502, messageLength: 10, offset: 0, data },
      { type: 'datagram', channel: 255, data },
    ]);
  });

  it('refuses a CHANNEL frame with nothing (or the wrong frame) after it, and channels above 255', () => {
    const d = { channel: 1, ordered: true, predecessorDelta: 1 };
    expect(roundTrip((w) => writeChannel(w, d))).toBeUndefined();
    expect(roundTrip((w) => {
      writeChannel(w, d);
      writeMessageAck(w, 3);
    })).toBeUndefined();
    expect(roundTrip((w) => {
      writeChannel(w, { ...d, channel: 256 });
      writeMessage(w, 1, new Uint8Array(1));
    })).toBeUndefined();
    expect(roundTrip((w) => writeDatagram(w, 256, new Uint8Array(1)))).toBeUndefined();
  });
});

describe('PATH_CHALLENGE and PATH_RESPONSE', () => {
  const data = Uint8Array.of(0, 1, 0xfe, 0xff, 0x80, 0x7f, 9, 200);

  it('round-trip with their 8 bytes, take the size claimed, and parse among other frames', () => {
    let size = 0;
    const frames = roundTrip((w) => {
      writeMessageAck(w, 3);
      const before = w.room();
      writePathChallenge(w, data);
      size = before - w.room();
      writePathResponse(w, data.slice().reverse());
      writeMessageAck(w, 4);
    });
    expect(size).toBe(PATH_FRAME_BYTES);
    expect(PATH_FRAME_BYTES).toBe(1 + PATH_DATA_BYTES);
    expect(frames).toEqual([
      { type: 'message-ack', next: 3 },
      { type: 'path-challenge', data },
      { type: 'path-response', data: data.slice().reverse() },
      { type: 'message-ack', next: 4 },
    ]);
    expect([FrameType.PathChallenge, FrameType.PathResponse]).toEqual([0x0b, 0x0c]);
  });

  it('refuse a frame short of its 8 bytes, and are never written with another length', () => {
    for (const type of [FrameType.PathChallenge, FrameType.PathResponse]) {
      for (let n = 0; n < PATH_DATA_BYTES; n++) {
        expect(roundTrip((w) => {
          w.u8(type);
          w.bytes(new Uint8Array(n));
        })).toBeUndefined();
      }
    }
    const w = writerWithRoom(100);
    expect(() => writePathChallenge(w, new Uint8Array(7))).toThrow(RangeError);
    expect(() => writePathResponse(w, new Uint8Array(9))).toThrow(RangeError);
  });

  it('a type past PATH_RESPONSE is no frame: the packet is malformed (what a version without these frames makes of them)', () => {
    expect(roundTrip((w) => w.u8(FrameType.PathResponse + 1))).toBeUndefined();
  });
});

describe('writeCloseFitting', () => {
  it('keeps the reason whole where it fits, and cuts it to the room left where not (a small mtu)', () => {
    const reason = new Uint8Array(MAX_CLOSE_REASON).fill(65);
    const roomy = writerWithRoom(400);
    writeCloseFitting(roomy, 7, reason);
    expect(framesIn(roomy)).toEqual([{ type: 'close', code: 7, reason: 'A'.repeat(MAX_CLOSE_REASON) }]);
    // 40 bytes: the frame type, the code and room for the longest length (two bytes) leave 36 for the reason,
    // whose length then takes one: one byte is left over, never one too many.
    const small = writerWithRoom(40);
    writeCloseFitting(small, 7, reason);
    expect(framesIn(small)).toEqual([{ type: 'close', code: 7, reason: 'A'.repeat(36) }]);
    expect(small.room()).toBe(1);
  });

  it('cuts at a character boundary: never half of a multi-byte character (a U+FFFD at the peer)', () => {
    const reason = new TextEncoder().encode(`${'A'.repeat(34)}😀`);
    const small = writerWithRoom(40);
    writeCloseFitting(small, 7, reason);
    // 36 bytes of room end inside the 4-byte emoji: cut before it. Before: 'A' × 34 and U+FFFD.
    expect(framesIn(small)).toEqual([{ type: 'close', code: 7, reason: 'A'.repeat(34) }]);
  });
});
