/**
 * What the connection boxing tests share: many server connections made at a fractional time, a way to
 * move them all off a map V8 gave up, and the heap measured after full collections. Each test measures
 * in a file of its own (a field boxed by another test in the same worker would already be counted).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DEFAULT_CONNECTION_CONFIG, type ConnectionConfig } from '../../src/core/config.js';
import { Connection } from '../../src/core/connection.js';
import { QuietHost } from './fixtures.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const host = new QuietHost();
const config: ConnectionConfig = { ...DEFAULT_CONNECTION_CONFIG, keepAliveMs: 0, idleTimeoutMs: 30_000 };

/** A server connection as the endpoint makes one (at 0.5 ms: fractional, as `performance.now()`). */
export function serverConnection(cid: number): Connection {
  return new Connection(host, config, 'server', cid, 2, '10.0.0.1:1', 0.5, 1 << 20);
}

/** Reads the time fields of each, so V8 moves every object off a map it gave up. */
function touch(all: readonly Connection[]): number {
  let sum = 0;
  for (const c of all) sum += c.heardAgainAt + c.lastReceived + c.lastPollTime + c.lastActivity;
  return sum;
}

/**
 * Heap bytes per connection that `n` connections made before `act` grew by once it ran: 12 to 16 for
 * each field it made a box in every connection, about 0 otherwise.
 */
export function heapGrowthPerConnection(n: number, act: () => void): number {
  const others = Array.from({ length: n }, (_, i) => serverConnection(i + 10));
  touch(others);
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  act();
  touch(others);
  gc();
  gc();
  return (process.memoryUsage().heapUsed - before) / n;
}
