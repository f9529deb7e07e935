import { EventEmitter } from 'node:events';
import type { RudpConnection } from 'rudpx';
import { describe, expect, it } from 'vitest';
import { LinkError, ServerLink } from '../src/server-link.js';

/** A connection whose every send fails as rudp's does for a message larger than the peer's window. */
class RefusingConnection extends EventEmitter {
  send(bytes: Uint8Array): Promise<void> {
    return Promise.reject(new RangeError(`message of ${bytes.length} bytes exceeds the peer's window`));
  }
}

describe('ServerLink', () => {
  // Before, the send's failure was swallowed and the request waited out its timeout (10 minutes here: the test timed out).
  it('a request that cannot be sent fails at once with the reason, not after the reply timeout', async () => {
    const conn = new RefusingConnection() as unknown as RudpConnection;
    const link = new ServerLink(conn, 600_000, { notice: () => undefined, lost: () => undefined });
    const failure = await link.request('MSG', ['t', 'x'.repeat(100)]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(LinkError);
    expect((failure as LinkError).kind).toBe('lost');
    expect((failure as LinkError).message).toMatch(/^request not sent: message of \d+ bytes exceeds the peer's window$/);
  });
});
