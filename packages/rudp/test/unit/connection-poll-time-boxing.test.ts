/**
 * Times are fractional milliseconds in the Node adapter (`performance.now()`). A `Connection` field V8
 * first saw as a small integer (a `= 0` initializer) turns, once any connection stores a fraction in it,
 * into a boxed 16-byte number in every connection of the process (see flow-control-boxing.test.ts).
 * `lastPollTime` is set by every connection the adapter polls for data.
 * Measured on the heap, in a file of its own (a field boxed by another test in the worker would already
 * be counted before it starts).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONNECTION_CONFIG, type ConnectionConfig } from '../../src/core/config.js';
import { Connection, type ConnectionHost } from '../../src/core/connection.js';
import type { EndpointEvent } from '../../src/core/events.js';
import { DatagramScratch } from '../../src/core/datagram-scratch.js';
import { MAX_DATAGRAM } from '../../src/wire/packet.js';

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
  for (const c of all) sum += c.heardAgainAt + c.lastReceived + c.lastPollTime + c.lastActivity;
  return sum;
}

describe('Connection: one connection polled at a fractional time', () => {
  it('boxes no time in the other connections (no heap grows per object)', () => {
    const N = 40_000;
    const others = Array.from({ length: N }, (_, i) => make(i + 10));
    touch(others);
    gc();
    gc();
    const before = process.memoryUsage().heapUsed;

    const polled = make(1);
    // Its ACCEPT, then a look for data at a fractional time.
    const scratch = new DatagramScratch(MAX_DATAGRAM);
    expect(polled.pollTransmit(1, scratch)).toBeDefined();
    for (let i = 0; i < 10 && polled.pollTransmit(1.25, scratch) !== undefined; i++);
    expect(polled.lastPollTime).toBe(1.25);

    touch(others);
    gc();
    gc();
    const perObject = (process.memoryUsage().heapUsed - before) / N;
    // A box is 12 to 16 bytes in each; the polled connection's own few KB spread over 40,000 are well under 1 (ca16db0: 16.8 B, the box of lastPollTime; -3.1 B with it set in the constructor).
    expect(perObject).toBeLessThan(8);
  });
});
