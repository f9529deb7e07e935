/**
 * postgres.js fetches the database's array types as each connection opens (`fetch_types`): a connection
 * cut while that statement runs (the database stopped or restarted then, a middlebox dropping the flow)
 * rejected it with nothing to catch it, an unhandled rejection, which ends a Node process such as
 * forum-server (seen as three in `e2e-pg-timeouts`, its database stopped as a connection opened). The
 * patch (patches/postgres@3.4.9.patch) leaves the failure to the connection's close, as for any statement
 * it ran: the waiting statement is failed or run on the next connection, and nothing escapes.
 */
import type { Socket } from 'node:net';
import postgres from 'postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { loopbackProxy } from './loopback-proxy.js';
import { usePostgres } from './postgres-harness.js';

const pg = usePostgres();

/** ReadyForQuery ('Z'): after it, the connection sends its first statement, here the type fetch. */
const READY_FOR_QUERY = 0x5a;

/**
 * Forwards the database's bytes to `client` until its first ReadyForQuery, then resets `client` once the
 * next statement (the type fetch) reached the database: the statement is in flight when the connection dies.
 */
const cutAfterFirstStatement = (client: Socket, upstream: Socket): void => {
  let pending = Buffer.alloc(0);
  let ready = false;
  upstream.on('data', (chunk: Buffer) => {
    if (ready) return;
    pending = Buffer.concat([pending, chunk]);
    let at = 0;
    while (pending.length - at >= 5) {
      const length = pending.readUInt32BE(at + 1);
      if (pending.length - at < 1 + length) break;
      if (pending[at] === READY_FOR_QUERY) ready = true;
      at += 1 + length;
    }
    client.write(pending.subarray(0, at));
    pending = pending.subarray(at);
  });
  client.on('data', (chunk: Buffer) => {
    upstream.write(chunk);
    if (ready) client.resetAndDestroy();
  });
};

describe('postgres.js: a connection cut while it fetches the array types', () => {
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown): void => void rejections.push(reason);
  afterEach(() => {
    process.off('unhandledRejection', onRejection);
  });

  it('leaves no unhandled rejection, and the statement that opened it is answered', async () => {
    process.on('unhandledRejection', onRejection);
    const proxy = await loopbackProxy(pg.url(), cutAfterFirstStatement);
    const sql = postgres(proxy.url, { max: 1, onnotice: () => undefined, connect_timeout: 2 });
    const outcome = await sql`SELECT 1 AS one`.then(
      () => 'answered',
      (e: unknown) => (e as { code?: string }).code ?? 'failed',
    );
    await sql.end({ timeout: 1 });
    await proxy.close();
    // A turn of the event loop for a rejection to be reported unhandled.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 50));
    expect(rejections).toEqual([]);
    expect(outcome).not.toBe('answered');
  });
});
