/**
 * Seeded fuzz of what protocol versions 4 and 5 added to the wire: the first
 * limit in INITIAL, ACCEPT and the server's sealed parameters, and the BLOCKED
 * frame (4); the WINDOW frame (5). Values of every varint size round-trip;
 * damaged copies (bytes flipped, cut short, varints past 2^53 - 1) decode to
 * nothing or to fields that are whole numbers within the varint range (a
 * WINDOW's within `MAX_RECEIVE_WINDOW`), never throw.
 */
import { describe, expect, it } from 'vitest';
import { decodeServerParams, encodeServerParams } from '../../src/core/security.js';
import { createRandom, fillRandomBytes } from '../../src/testing/prng.js';
import { MAX_RECEIVE_WINDOW, parseFrames, writeBlocked, writeMaxData, writeWindow } from '../../src/wire/frame.js';
import { FrameType } from '../../src/wire/frame-type.js';
import { AcceptKind, HEADER_SIZE, decodeAccept, decodeInitial, encodeAccept, encodeInitial, parseHeader } from '../../src/wire/packet.js';
import { VARINT_MAX } from '../../src/wire/varint.js';
import { writerWithRoom } from './fixtures.js';
import { expectEqual, expectIs } from '../helpers/cheap-expect.js';

const SEED = 0x5eed_b10c;
const ROUNDS = 20_000;

const inRange = (v: number): boolean => Number.isInteger(v) && v >= 0 && v <= VARINT_MAX;

describe('first limit, BLOCKED and WINDOW on the wire (seeded fuzz)', () => {
  const rnd = createRandom(SEED);
  /** A varint value of a random size class, the edges of each included. */
  const value = (): number => {
    const edges = [0, 63, 64, 16_383, 16_384, 2 ** 30 - 1, 2 ** 30, VARINT_MAX];
    if (rnd() % 4 === 0) return edges[rnd() % edges.length] as number;
    const bits = [6, 14, 30, 53][rnd() % 4] as number;
    return Math.floor((rnd() / 2 ** 32) * 2 ** bits);
  };
  /** `bytes` with 1-3 random bytes changed, or cut at a random length. */
  const damaged = (bytes: Uint8Array): Uint8Array => {
    if (rnd() % 3 === 0) return bytes.slice(0, rnd() % bytes.length);
    const copy = bytes.slice();
    for (let k = 1 + (rnd() % 3); k > 0; k--) copy[rnd() % copy.length] = rnd() & 0xff;
    return copy;
  };

  it('INITIAL and ACCEPT carry any window and first limit back unchanged; damaged payloads never throw', () => {
    const buf = new Uint8Array(1200);
    for (let i = 0; i < ROUNDS; i++) {
      const params = { receiveWindow: value(), initialLimit: value() };
      const hello = fillRandomBytes(rnd, new Uint8Array(rnd() % 64));
      const initial = encodeInitial(buf, 0, { scid: rnd() | 1, token: new Uint8Array(0), params, hello });
      const ih = parseHeader(initial);
      if (typeof ih === 'string') throw new Error(`INITIAL did not parse: ${ih}`);
      expectEqual(decodeInitial(ih.payload)?.params, params);
      const accept = encodeAccept(buf, 9, { scid: rnd(), params, kind: AcceptKind.ServerHello, handshake: hello });
      const ah = parseHeader(accept);
      if (typeof ah === 'string') throw new Error(`ACCEPT did not parse: ${ah}`);
      expectEqual(decodeAccept(ah.payload)?.params, params);
      for (const d of [decodeInitial(damaged(ih.payload)), decodeAccept(damaged(ah.payload))]) {
        if (d !== undefined) expectIs(inRange(d.params.receiveWindow) && inRange(d.params.initialLimit), true);
      }
    }
  });

  it("the server's sealed parameters carry both back unchanged; damaged or padded ones decode to nothing or to whole numbers", () => {
    for (let i = 0; i < ROUNDS; i++) {
      const p = { scid: rnd() >>> 0, receiveWindow: value(), initialLimit: value(), resetToken: fillRandomBytes(rnd, new Uint8Array(16)) };
      const bytes = encodeServerParams(p);
      expectEqual(decodeServerParams(bytes), p);
      // A byte more or less: refused.
      expectEqual(decodeServerParams(Uint8Array.of(...bytes, 0)), undefined);
      expectEqual(decodeServerParams(bytes.subarray(0, bytes.length - 1)), undefined);
      const d = decodeServerParams(damaged(bytes));
      if (d !== undefined) expectIs(inRange(d.receiveWindow) && inRange(d.initialLimit), true);
    }
    // Version 3's payload (an id and a window, no first limit): refused.
    expect(decodeServerParams(Uint8Array.of(0, 0, 0, 1, 0x40, 0x01))).toBeUndefined();
  });

  it('BLOCKED frames parse back to their limits beside other frames; cut short or past 2^53 - 1 the packet is malformed', () => {
    for (let i = 0; i < ROUNDS; i++) {
      const w = writerWithRoom(200);
      const limits: number[] = [];
      for (let n = 1 + (rnd() % 8); n > 0; n--) {
        const v = value();
        limits.push(v);
        if (rnd() % 2 === 0) writeBlocked(w, v);
        else writeMaxData(w, v);
      }
      const payload = w.buf.slice(HEADER_SIZE, w.pos);
      const frames = parseFrames(payload);
      expectEqual(frames?.map((f) => (f.type === 'blocked' || f.type === 'max-data' ? f.limit : Number.NaN)), limits);
      const hurt = parseFrames(damaged(payload));
      for (const f of hurt ?? []) if (f.type === 'blocked') expectIs(inRange(f.limit), true);
    }
    // Each cut of a BLOCKED with an eight-byte limit, and a limit of 2^53 (in range of the encoding, past the reader's).
    const whole = Uint8Array.of(FrameType.Blocked, 0xc0, 0, 0, 0, 0, 0, 1, 0);
    for (let cut = 1; cut < whole.length; cut++) expect(parseFrames(whole.subarray(0, cut))).toBeUndefined();
    expect(parseFrames(whole)).toEqual([{ type: 'blocked', limit: 256 }]);
    expect(parseFrames(Uint8Array.of(FrameType.Blocked, 0xc0, 0x20, 0, 0, 0, 0, 0, 0))).toBeUndefined();
    expect(parseFrames(Uint8Array.of(FrameType.Blocked, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))).toBeUndefined();
  });

  it('WINDOW frames parse back to their windows beside MAX_DATA; cut short, or past 2^40 (the most a window may be), the packet is malformed', () => {
    for (let i = 0; i < ROUNDS; i++) {
      const w = writerWithRoom(200);
      const values: number[] = [];
      for (let n = 1 + (rnd() % 8); n > 0; n--) {
        const v = Math.min(value(), MAX_RECEIVE_WINDOW);
        values.push(v);
        if (rnd() % 2 === 0) writeWindow(w, v);
        else writeMaxData(w, v);
      }
      const payload = w.buf.slice(HEADER_SIZE, w.pos);
      expectEqual(parseFrames(payload)?.map((f) => (f.type === 'window' ? f.window : f.type === 'max-data' ? f.limit : Number.NaN)), values);
      const hurt = parseFrames(damaged(payload));
      for (const f of hurt ?? []) if (f.type === 'window') expectIs(inRange(f.window) && f.window <= MAX_RECEIVE_WINDOW, true);
    }
    // 2^40 exactly, in eight bytes, and each cut of it.
    const whole = Uint8Array.of(FrameType.Window, 0xc0, 0, 0x01, 0, 0, 0, 0, 0);
    expect(parseFrames(whole)).toEqual([{ type: 'window', window: MAX_RECEIVE_WINDOW }]);
    for (let cut = 1; cut < whole.length; cut++) expect(parseFrames(whole.subarray(0, cut))).toBeUndefined();
    // One past it; 2^53 (past the reader's range); the largest eight-byte varint.
    expect(parseFrames(Uint8Array.of(FrameType.Window, 0xc0, 0, 0x01, 0, 0, 0, 0, 1))).toBeUndefined();
    expect(parseFrames(Uint8Array.of(FrameType.Window, 0xc0, 0x20, 0, 0, 0, 0, 0, 0))).toBeUndefined();
    expect(parseFrames(Uint8Array.of(FrameType.Window, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))).toBeUndefined();
  });
});
