/**
 * A send pending when the connection ends says whether any of its message left (`RudpError.sent`): `false` for one
 * still queued (here behind the peer's full flow-control window) or refused by the close, `true` for one that
 * left and was not acknowledged. An application tells from it whether sending it again could deliver it twice.
 * Runs twice, as every node-api test file (vitest.config.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../src/index.js';
import { startUdpForwarder } from './helpers/udp-forwarder.js';
import { closeOpened, opened, pair, rejection, server } from './helpers/node-loopback.js';

afterEach(closeOpened);

describe("send's rejection at the connection's end: was the message sent?", () => {
  it('a message queued behind a full window never left: sent false; so is a send after the end', async () => {
    // The server grants 4 KiB and reads nothing: the first message takes nearly all of it for good.
    const { client } = await pair(() => undefined, { receiveWindow: 4096 });
    await client.send(new Uint8Array(3_500));
    const queued = rejection(client.send(new Uint8Array(500)));
    expect(client.bufferedAmount).toBe(500);
    // Held by the window, not merely not polled yet: the queue has nothing the peer's credit lets leave.
    expect(client.core.sendQueue.hasNewReliableData()).toBe(false);
    client.destroy('giving up');
    const e = await queued;
    expect({ code: e.code, sent: e.sent }).toEqual({ code: 'ERR_RUDP_CLOSED', sent: false });
    expect(e.reason).toMatchObject({ kind: 'local', message: 'giving up' });
    const after = await rejection(client.send('too late'));
    expect({ code: after.code, sent: after.sent }).toEqual({ code: 'ERR_RUDP_CLOSED', sent: false });
  });

  it('a message that left and was never acknowledged: sent true (it may have arrived)', async () => {
    const s = await server();
    const relay = await startUdpForwarder(s.address().port);
    opened.push(relay);
    const conn = await connect({ port: relay.port, idleTimeoutMs: 400, keepAliveMs: 0 });
    opened.push({ close: async () => conn.destroy() });
    relay.silence();
    const pending = rejection(conn.send('into the void'));
    const e = await pending;
    expect({ code: e.code, sent: e.sent }).toEqual({ code: 'ETIMEDOUT', sent: true });
    expect(conn.stats().bytesSent).toBeGreaterThan(0);
  });
});
