/**
 * The echo of a PATH_CHALLENGE (core/connection/path-response.ts): the
 * latest challenge's bytes, copied out of the datagram (its buffer is
 * reused), in one buffer a connection, sent once, alone in its packet.
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../src/core/connection.js';
import { notePathChallenge, pollPathResponse } from '../../src/core/connection/path-response.js';
import { DatagramScratch } from '../../src/core/datagram-scratch.js';
import { parseFrames } from '../../src/wire/frame.js';
import { parseHeader } from '../../src/wire/packet.js';

/** A plaintext connection, as much of one as the echo reads. */
const connection = (): Connection =>
  ({ config: { mtu: 1200 }, protection: undefined, remoteCid: 9, recovery: { largestAcked: -1 }, pathResponse: undefined, pathResponseDue: false }) as unknown as Connection;

describe('notePathChallenge / pollPathResponse', () => {
  it('echo the latest challenge once, alone in a packet, from a copy of its bytes', () => {
    const c = connection();
    const datagram = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
    notePathChallenge(c, datagram.subarray(0, 8));
    const buffer = c.pathResponse;
    notePathChallenge(c, datagram.subarray(8, 16));
    // The datagram's buffer is reused for the next one: the echo must not change with it.
    datagram.fill(0);
    expect(c.pathResponseDue).toBe(true);
    expect(c.pathResponse).toBe(buffer);
    const packet = pollPathResponse(c, new DatagramScratch(1500), 5);
    expect(c.pathResponseDue).toBe(false);
    const h = parseHeader(packet);
    if (typeof h === 'string') throw new Error(h);
    expect(parseFrames(h.payload)).toEqual([{ type: 'path-response', data: Uint8Array.of(9, 10, 11, 12, 13, 14, 15, 16) }]);
  });
});
