/**
 * A connection's send queue holds the stream offset of the next message (`startedStreamEnd`), past
 * 2^31 once 2 GiB of messages (in window credit) have left: that must not box the offset in every
 * other connection's queue (see helpers/field-boxing.ts). A file of its own, as the helper asks.
 */
import { describe, expect, it } from 'vitest';
import { FlowControl } from '../../src/core/flow-control.js';
import { SendQueue } from '../../src/core/send/send-queue.js';
import { PAST_SMI, heapGrowthPerObject } from '../helpers/field-boxing.js';
import { PacketType } from '../../src/wire/packet.js';
import { writerWithRoom } from './fixtures.js';

const ROOM = 60_000;
const MESSAGE = new Uint8Array(64 << 20);

/** Objects measured: a box a field (16 B each) is still 1.6 MB against a noise of a few hundred KB at most. */
const COUNT = 100_000;

describe('SendQueue: one connection past 2 GiB sent', () => {
  it('boxes no stream offset in the other connections (no heap grows per queue)', () => {
    const idleFlow = new FlowControl(1 << 20, 1 << 20);
    const perObject = heapGrowthPerObject({
      make: () => new SendQueue(idleFlow, ROOM),
      read: (q) => q.startedStreamEnd + q.bufferedAmount,
      push: () => {
        const long = new SendQueue(new FlowControl(1 << 20, 2 ** 32), ROOM);
        const small = { rememberSmall: (): void => undefined };
        // One packet buffer written again and again (a fresh one a packet zeroed 2 GiB more).
        const w = writerWithRoom(ROOM);
        const buf = w.buf;
        while (long.startedStreamEnd < PAST_SMI) {
          long.push(MESSAGE);
          while (long.hasNewData()) long.fillNewData(w.reset(buf, PacketType.Data, 7, 1, 4), [], 0, small);
        }
        expect(long.startedStreamEnd).toBeGreaterThan(PAST_SMI);
      },
    }, COUNT);
    expect(perObject).toBeLessThan(8);
  });
});
