/**
 * What the connection boxing tests share: many server connections made at a fractional time, measured
 * on helpers/field-boxing.ts's rig. Each test measures in a file of its own (a field boxed by another
 * test in the same worker would already be counted).
 */
import { DEFAULT_CONNECTION_CONFIG, type ConnectionConfig } from '../../src/core/config.js';
import { Connection } from '../../src/core/connection.js';
import { heapGrowthPerObject } from '../helpers/field-boxing.js';
import { QuietHost } from './fixtures.js';

const host = new QuietHost();
const config: ConnectionConfig = { ...DEFAULT_CONNECTION_CONFIG, keepAliveMs: 0, idleTimeoutMs: 30_000 };

/** A server connection as the endpoint makes one (at 0.5 ms: fractional, as `performance.now()`). */
export function serverConnection(cid: number): Connection {
  return new Connection(host, config, 'server', cid, 2, '10.0.0.1:1', 0.5, 1 << 20);
}

/**
 * Heap bytes per connection that `n` connections made before `act` grew by once it ran: 12 to 16 for
 * each field it made a box in every connection, about 0 otherwise. (`n` is well under the rig's
 * 200,000 objects: a connection is about 4 KB.)
 */
export function heapGrowthPerConnection(n: number, act: () => void): number {
  let cid = 10;
  return heapGrowthPerObject<Connection>(
    {
      make: () => serverConnection(cid++),
      read: (c) => c.heardAgainAt + c.lastReceived + c.lastPollTime + c.lastActivity,
      push: act,
    },
    n,
  );
}
