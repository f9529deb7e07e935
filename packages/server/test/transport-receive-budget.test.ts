/**
 * The server's rudp receive budget against its sessions. rudp charges each connection the credit it
 * granted (a logged-in one its 128 KiB session window, sent or not) and keeps a sixteenth of the budget
 * in reserve, so under rudp's default 1 GiB budget sessions past some 7,680 are granted a 4 KiB floor.
 * Until rudp announced a raised window apart from the credit (the WINDOW frame, protocol version 5),
 * their peers never learnt the raised window and `send` refused their requests over 7,936 bytes (the
 * rudpx review of session 32), so the server set a budget of 100,000 × 128 KiB, and what hostile
 * logged-in accounts could make it hold grew without bound. Now it keeps rudp's default: such a request
 * waits a round trip for credit (BLOCKED) and arrives.
 */
import { describe, expect, it } from 'vitest';
import { MAX_REQUEST_BYTES } from 'forum-protocol';
import { type Connection, DEFAULT_MAX_RECEIVE_BUFFER_BYTES, Endpoint, MESSAGE_CREDIT } from 'rudpx/core';
import { SimNetwork } from 'rudpx/testing';
import { MAX_TRANSPORT_CONNECTIONS, SESSION_RECEIVE_WINDOW, TRANSPORT, TRANSPORT_RECEIVE_BUDGET } from '../src/server-defaults.js';

/** What of `budget` rudp grants before it falls back to floors: all but its reserve, a sixteenth. */
const grantable = (budget: number): number => budget - Math.floor(budget / 16);

const SERVER = '10.0.0.2:4000';
const CLIENT = '10.0.0.1:5000';
/** Past the 7,680 sessions whose 128 KiB windows the default budget grants: the last 120 get the floor. */
const SESSIONS = 7_800;

describe('forum-server transport receive budget', () => {
  it("is rudp's default: bounded whatever the accounts logged in, and below what every session's window would take", () => {
    expect(TRANSPORT_RECEIVE_BUDGET).toBe(DEFAULT_MAX_RECEIVE_BUFFER_BYTES);
    // Not every session can be granted its whole window at once: the case the test below is for.
    expect(Math.floor(grantable(TRANSPORT_RECEIVE_BUDGET) / SESSION_RECEIVE_WINDOW)).toBeLessThan(SESSIONS);
    expect(SESSION_RECEIVE_WINDOW).toBeGreaterThan(MAX_REQUEST_BYTES);
  });

  it('past the sessions the budget grants whole windows, a session granted the floor still sends its largest request: it waits for credit, then arrives', () => {
    // Plaintext rudp, windows of 8 KiB raised to the session's 128 KiB as at login, 7,800 connections of
    // one client (the server's per-host limits raised to hold them).
    const sim = new SimNetwork({ seed: 32, defaultLink: { delayMs: 10, jitterMs: 1 } });
    const server = new Endpoint({
      random: sim.random('server'),
      acceptIncoming: true,
      plaintext: true,
      maxConnections: MAX_TRANSPORT_CONNECTIONS,
      maxConnectionsPerHost: SESSIONS,
      handshakeBurstPerHost: SESSIONS,
      maxReceiveBufferBytes: TRANSPORT_RECEIVE_BUDGET,
      ...TRANSPORT,
    });
    const sessions: Connection[] = [];
    const received = new Map<Connection, Uint8Array[]>();
    sim.addNode(SERVER, server, {
      onActivity: () => {
        for (let e = server.pollEvent(); e !== undefined; e = server.pollEvent()) {
          // Every connection logs in at once: its window is raised as the forum raises it at login.
          if (e.type === 'incoming') {
            sessions.push(e.connection);
            e.connection.raiseReceiveWindow(SESSION_RECEIVE_WINDOW);
          }
          if (e.type === 'message') received.set(e.connection, [...(received.get(e.connection) ?? []), e.data]);
        }
      },
    });
    const client = new Endpoint({ random: sim.random('client'), plaintext: true, ...TRANSPORT });
    sim.addNode(CLIENT, client, { onActivity: () => void drain(client) });
    const peers = Array.from({ length: SESSIONS }, () => client.connect(sim.now, SERVER));
    sim.wake(CLIENT);
    for (let t = 0; t < 30 && !(sessions.length === SESSIONS && peers.every((p) => p.state === 'established')); t++) sim.runFor(100);
    expect(sessions).toHaveLength(SESSIONS);
    sim.runFor(200);
    const last = peers[SESSIONS - 1] as Connection;
    const lastSession = sessions.find((s) => s.localCid === last.remoteCid) as Connection;
    // The budget is spent: the last sessions' raises wait for credit (their grants are what the 8 KiB window took).
    expect(lastSession.receiveWindow()).toBe(SESSION_RECEIVE_WINDOW);
    const budget = server.stats().receiveBuffer;
    expect(budget.granted).toBeGreaterThan(grantable(TRANSPORT_RECEIVE_BUDGET) - SESSION_RECEIVE_WINDOW);
    expect(budget.waiting).toBeGreaterThanOrEqual(SESSIONS - Math.floor(grantable(TRANSPORT_RECEIVE_BUDGET) / SESSION_RECEIVE_WINDOW) - 1);
    // Before: 7,936 (the 8 KiB window), and the request below was a RangeError.
    expect(last.maxMessageSize()).toBe(SESSION_RECEIVE_WINDOW - MESSAGE_CREDIT);
    const request = Uint8Array.from({ length: MAX_REQUEST_BYTES }, (_, k) => (k * 31 + 7) & 0xff);
    last.send(request);
    sim.wake(CLIENT);
    for (let t = 0; t < 50 && (received.get(lastSession)?.length ?? 0) === 0; t++) sim.runFor(100);
    const got = received.get(lastSession) ?? [];
    expect(got).toHaveLength(1);
    expect(Buffer.from(got[0] as Uint8Array).equals(Buffer.from(request))).toBe(true);
  });
});

/** Discards `e`'s events (the client's application reads nothing here). */
function drain(e: Endpoint): void {
  while (e.pollEvent() !== undefined);
}
