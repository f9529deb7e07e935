/**
 * The socket census the Node API tests use (`helpers/open-sockets.ts`), in
 * the situation that made the tests counting all sockets flaky: an earlier
 * test's socket finishing its close while the test opens its own.
 */
import dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { canCountSockets, socketsNow, socketsSince } from './helpers/open-sockets.js';

const bound = async (): Promise<dgram.Socket> => {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  return s;
};
const closed = (s: dgram.Socket): Promise<void> => new Promise<void>((r) => s.close(() => r()));

describe.skipIf(!canCountSockets)('socketsSince', () => {
  it("counts the sockets opened since the baseline, not the change in all of them: another's closing neither hides nor fakes one", async () => {
    const earlier = await bound(); // an earlier test's socket, still closing when the baseline is taken
    const before = socketsNow();
    const total = before.size;
    const mine = await bound();
    await closed(earlier);
    // The total did not move (one opened, one gone): a wait for `total + 1` never ended, a check for `<= total` passed with `mine` open.
    expect(socketsNow().size).toBe(total);
    expect(socketsSince(before)).toBe(1);
    await closed(mine);
    expect(socketsSince(before)).toBe(0);
  });
});
