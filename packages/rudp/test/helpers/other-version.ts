/**
 * What a peer of another protocol version sends, made from ours: the
 * INITIAL's layout is the same in every version (version-packet.ts), so our
 * datagram with its version nibble changed is theirs.
 */
import type { Endpoint } from '../../src/core/endpoint.js';
import { crc32c } from '../../src/wire/crc32c.js';
import { TRAILER_SIZE } from '../../src/wire/packet.js';
import { writeU32 } from '../../src/wire/varint.js';

/** `datagram` (a plain packet) as a peer of protocol `version` would send it: the nibble changed, the checksum made good. */
export const asVersion = (datagram: Uint8Array, version: number): Uint8Array => {
  const d = Uint8Array.from(datagram);
  d[0] = (version << 4) | ((d[0] as number) & 0x0f);
  writeU32(d, d.length - TRAILER_SIZE, crc32c(d, 0, d.length - TRAILER_SIZE));
  return d;
};

/** Every datagram `ep` has to send at `now`, in order. */
export const drain = (ep: Endpoint, now: number): Uint8Array[] => {
  const out: Uint8Array[] = [];
  for (let t = ep.pollTransmit(now); t !== undefined; t = ep.pollTransmit(now)) out.push(t.data);
  return out;
};
