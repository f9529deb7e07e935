/**
 * The endpoint parses every datagram's header into one reused object
 * (`parseHeaderInto`, wire/packet.ts) with offsets instead of views.
 * Each parse must replace every field, and `parseHeader`, which callers may
 * keep, must still hand out objects of their own.
 */
import { describe, expect, it } from 'vitest';
import { HeaderScratch, PacketType, PacketWriter, TAG_SIZE, parseHeader, parseHeaderInto } from '../src/wire/packet.js';

function plainDatagram(dcid: number, pn: number, pnBytes: 2 | 4, payload: number[]): Uint8Array {
  const w = new PacketWriter(new Uint8Array(128), PacketType.Data, dcid, pn, pnBytes);
  for (const b of payload) w.u8(b);
  return w.finish().slice();
}

function protectedDatagram(dcid: number, pn: number, payloadLength: number): Uint8Array {
  const w = new PacketWriter(new Uint8Array(128), PacketType.Protected1, dcid, pn, 4);
  for (let i = 0; i < payloadLength; i++) w.u8(i);
  // The tag's room (not checked by the header parser: the connection opens the packet).
  return new Uint8Array([...w.finish(), ...new Uint8Array(TAG_SIZE)]);
}

describe('parseHeaderInto', () => {
  it('two datagrams parsed back to back into one scratch: every field is the second one’s', () => {
    const h = new HeaderScratch();
    const a = plainDatagram(7, 3 * 2 ** 16 + 5, 2, [1, 2, 3, 4, 5]);
    const b = protectedDatagram(99, 1234567, 9);
    expect(parseHeaderInto(a, h)).toBeUndefined();
    expect({ type: h.type, dcid: h.dcid, pn: h.pn, pnBytes: h.pnBytes, epoch: h.epoch, start: h.payloadStart, end: h.payloadEnd }).toEqual({
      type: PacketType.Data,
      dcid: 7,
      pn: 5,
      pnBytes: 2,
      epoch: 3,
      start: 7,
      end: 12,
    });
    expect(h.datagram).toBe(a);
    expect(parseHeaderInto(b, h)).toBeUndefined();
    expect({ type: h.type, dcid: h.dcid, pn: h.pn, pnBytes: h.pnBytes, epoch: h.epoch, start: h.payloadStart, end: h.payloadEnd }).toEqual({
      type: PacketType.Protected1,
      dcid: 99,
      pn: 1234567,
      pnBytes: 4,
      epoch: 0,
      start: 9,
      end: 9 + 9 + TAG_SIZE,
    });
    expect(h.datagram).toBe(b);
  });

  it('a datagram that fails says why', () => {
    const h = new HeaderScratch();
    const a = plainDatagram(7, 5, 4, [1, 2, 3]);
    a[a.length - 1] = (a[a.length - 1] as number) ^ 1;
    expect(parseHeaderInto(a, h)).toBe('checksum');
    expect(parseHeaderInto(new Uint8Array(3), h)).toBe('short');
  });

  it('parseHeader results are objects of their own, with views of their own datagram', () => {
    const a = plainDatagram(7, 5, 4, [1, 2, 3]);
    const b = plainDatagram(8, 6, 4, [9, 9]);
    const ha = parseHeader(a);
    const hb = parseHeader(b);
    if (typeof ha === 'string' || typeof hb === 'string') throw new Error('dropped');
    expect(ha).not.toBe(hb);
    expect([ha.dcid, ha.pn, [...ha.payload], [...ha.header]]).toEqual([7, 5, [1, 2, 3], [...a.subarray(0, 9)]]);
    expect([hb.dcid, hb.pn, [...hb.payload]]).toEqual([8, 6, [9, 9]]);
  });
});
