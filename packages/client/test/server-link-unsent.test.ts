/**
 * A request still queued in rudpx when the connection ends (held behind the server's flow-control window: none of
 * it left) is told not sent, and that it may be sent again, not "may or may not have reached the server"; one the
 * server's transport acknowledged is still said received. Real rudpx connections on loopback: the server grants a
 * 4 KiB window and never reads, so the first request takes nearly all of it and the second waits for credit that
 * never comes, until the server ends the connection.
 */
import { once } from 'node:events';
import { connect, listen, type RudpConnection } from 'rudpx';
import { afterEach, describe, expect, it } from 'vitest';
import { type LinkError, ServerLink } from '../src/server-link.js';
import { unansweredWriteText } from '../src/unanswered-write.js';

const WINDOW = 4096;

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** What a request failed with (it must fail). */
const failureOf = (asked: Promise<unknown>): Promise<LinkError> =>
  asked.then(
    () => Promise.reject(new Error('answered')),
    (e: unknown) => e as LinkError,
  );

/** Waits (polling the event loop, bounded) until `done` holds. */
const until = async (done: () => boolean, what: string): Promise<void> => {
  for (let i = 0; i < 500 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  if (!done()) throw new Error(`still not: ${what}`);
};

describe('ServerLink over rudpx: a request the connection ended before it left', () => {
  it('is said not sent, and that it can be sent again; the one the server had received is said received', async () => {
    const server = await listen({ port: 0, receiveWindow: WINDOW });
    closers.push(() => server.close());
    const accepted = once(server, 'connection') as Promise<[RudpConnection]>;
    const conn = await connect({ port: server.address().port });
    closers.push(async () => conn.destroy());
    // The server reads nothing: what arrives stays in its receive buffer, and its window's credit is not given back.
    const [served] = await accepted;
    const link = new ServerLink(conn, 600_000, { notice: () => undefined, lost: () => undefined });
    // Nearly the whole window (its JSON and 256 bytes of credit): acknowledged, never answered.
    const received = failureOf(link.request('MSG', ['t', 'x'.repeat(3_600)]));
    await until(() => conn.bufferedAmount === 0, 'the first request acknowledged');
    // Too little credit left for it: queued in rudpx, no byte of it sent.
    const queued = failureOf(link.request('MSG', ['t', 'hello']));
    expect(conn.bufferedAmount).toBeGreaterThan(0);
    served.destroy('server going away');
    const [first, second] = await Promise.all([received, queued]);
    expect({ kind: first.kind, delivery: first.delivery, message: first.message }).toEqual({
      kind: 'lost',
      delivery: 'received',
      message: 'connection lost (server going away)',
    });
    // Before: delivery 'unknown', `connection lost (server going away)`, and the user told the MSG "may or may not
    // have reached the server: check before sending it again", of a request that never left.
    expect({ kind: second.kind, delivery: second.delivery, message: second.message }).toEqual({
      kind: 'lost',
      delivery: 'notSent',
      message: 'request not sent: connection lost (server going away)',
    });
    expect(unansweredWriteText('MSG', second.delivery)).toBe('the MSG was not sent (the connection had ended before it could leave): the server did not carry it out, and it can be sent again in a new session');
  });
});
