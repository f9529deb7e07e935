/**
 * Times are fractional milliseconds in the Node adapter (`performance.now()`). A `Connection` field V8
 * first saw as a small integer (a `= 0` initializer) turns, once any connection stores a fraction in it,
 * into a boxed 16-byte number in every connection of the process (see flow-control-boxing.test.ts).
 * `heardAgainAt` is set by any connection whose peer is heard after half an idle timeout of silence: with
 * the default 15 s keep-alive and 30 s idle timeout, the first idle connection's first keep-alive.
 * Measured on the heap, in a file of its own (a field boxed by another test in the worker would already
 * be counted before it starts).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONNECTION_CONFIG, type ConnectionConfig } from '../../src/core/config.js';
import { Connection, type ConnectionHost } from '../../src/core/connection.js';
import type { EndpointEvent } from '../../src/core/events.js';
import { writePing } from '../../src/wire/frame.js';
import { HEADER_SIZE, PacketType } from '../../src/wire/packet.js';
import { writerWithRoom } from './fixtures.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

class Host implements ConnectionHost {
  emit(_event: EndpointEvent): void {}
  readable(): void {}
  wake(): void {}
  drawRandom(): number {
    return 0;
  }
  migrated(): void {}
  hostRoom(): boolean {
    return true;
  }
  pathValidation(): void {}
}

const host = new Host();
const config: ConnectionConfig = { ...DEFAULT_CONNECTION_CONFIG, keepAliveMs: 0, idleTimeoutMs: 30_000 };

/** A server connection as the endpoint makes one (time 0.5: fractional, as `performance.now()`). */
function make(cid: number): Connection {
  return new Connection(host, config, 'server', cid, 2, '10.0.0.1:1', 0.5, 1 << 20);
}

/** Reads the time fields of each, so V8 moves every object off a map it gave up. */
function touch(all: readonly Connection[]): number {
  let sum = 0;
  for (const c of all) sum += c.heardAgainAt + c.lastReceived;
  return sum;
}

describe('Connection: one peer heard again after a silence', () => {
  it('boxes no time in the other connections (no heap grows per object)', () => {
    const N = 40_000;
    const others = Array.from({ length: N }, (_, i) => make(i + 10));
    touch(others);
    gc();
    gc();
    const before = process.memoryUsage().heapUsed;

    const heard = make(1);
    const w = writerWithRoom(100);
    writePing(w);
    const header = { type: PacketType.Data, dcid: 0, pn: 1, pnBytes: 4, epoch: 0, datagram: w.buf.slice(0, w.pos), payloadStart: HEADER_SIZE, payloadEnd: w.pos } as const;
    // Half an idle timeout of silence, then a packet, at a fractional time.
    expect(heard.handlePacket(15_000.75, header, w.pos + 4)).toBe('ok');
    expect(heard.heardAgainAt).toBe(15_000.75);

    touch(others);
    gc();
    gc();
    const perObject = (process.memoryUsage().heapUsed - before) / N;
    // A box is 12 to 16 bytes in each; the heard connection's own few KB spread over 40,000 are well under 1; the noise measured ±3.3 B at 20,000 (the merged code: 10.8 to 11.9 B).
    expect(perObject).toBeLessThan(8);
  });
});
