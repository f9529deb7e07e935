/**
 * A session the transport ended because its peer broke the rules (rudpx's close code
 * `PROTOCOL_VIOLATION`: an optimistic ACK, forged packets) is logged with the transport's reason before
 * `U exited`, so that an operator tells a hostile account from one that left (attack round 16: both were
 * `U exited` alone); so is one that timed out (the client went silent: attack round 21). A peer's own
 * close says nothing more: its reason is the peer's text, not ours.
 */
import { PROTOCOL_VIOLATION, type CloseReason } from 'rudpx';
import { expect, it } from 'vitest';
import { loggedIn, memoryContext } from './served-connection.js';
import { until } from './until.js';

/** The log of a session of alice's whose connection closed with `reason`, once it said `alice exited`. */
const logAfterClose = async (reason: CloseReason): Promise<string[]> => {
  const log: string[] = [];
  const conn = await loggedIn(memoryContext([], { log: (line) => log.push(line) }), 'alice', '127.0.0.1');
  conn.closed = true;
  conn.emit('close', reason);
  expect(await until(() => log.includes('alice exited'), 5_000)).toBe(true);
  return log.slice(log.indexOf('alice successfully logged in') + 1);
};

it("says why the transport ended a session for a protocol violation, then that the user exited", async () => {
  const message = 'protocol violation: the peer acknowledged a packet never sent';
  expect(await logAfterClose({ kind: 'local', code: PROTOCOL_VIOLATION, message })).toEqual([
    `alice's connection ended by the transport: ${message}`,
    'alice exited',
  ]);
});

it.each<[string, CloseReason]>([
  ['the peer closed it, whatever its code and text', { kind: 'peer', code: PROTOCOL_VIOLATION, message: 'protocol violation: forged by the peer' }],
  ['the server destroyed it', { kind: 'local', code: 1, message: 'reply backlog not acknowledged' }],
])('logs only that the user exited when %s', async (_, reason) => {
  expect(await logAfterClose(reason)).toEqual(['alice exited']);
});

it('says that a session timed out (the client went silent), then that the user exited', async () => {
  const message = 'no packet from 127.0.0.1:5000 for 10012 ms';
  // Before: `alice exited` alone, as for a logout.
  expect(await logAfterClose({ kind: 'timeout', code: 0, message })).toEqual([`alice's connection timed out: ${message}`, 'alice exited']);
});
