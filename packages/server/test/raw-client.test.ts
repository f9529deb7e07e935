/**
 * The e2e tests' protocol client itself: a connection that ends under a
 * request must fail that request, not leave an unhandled rejection behind
 * (which fails the whole test run, whichever test it lands in).
 */
import { listen } from 'rudpx';
import { afterEach, describe, expect, it } from 'vitest';
import { rawClient } from './raw-client.js';

const unhandled: unknown[] = [];
const collect = (reason: unknown): void => void unhandled.push(reason);
afterEach(() => {
  process.off('unhandledRejection', collect);
  unhandled.length = 0;
});

describe('rawClient', () => {
  it.each(['request', 'sendRaw'] as const)('%s on a connection that ends before the send is acknowledged rejects, and nothing is left unhandled', async (call) => {
    process.on('unhandledRejection', collect);
    const server = await listen({ port: 0 });
    try {
      const client = await rawClient(server.address().port);
      const pending = call === 'request' ? client.request('1', 'LST', []) : client.sendRaw(new Uint8Array([1]));
      // Before the send can be acknowledged: the send fails, and the close rejects the awaited reply as well.
      client.conn.destroy('gone');
      await expect(pending).rejects.toThrow();
      await client.closed;
      // Unhandled rejections are reported after the microtask queue drains.
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).toEqual([]);
    } finally {
      await server.close();
    }
  });
});
