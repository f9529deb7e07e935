/**
 * A send key at its confidentiality limit (RFC 9001 §6.6) across whole
 * connections: the limit (2^52 packets a key) is lowered to a few hundred
 * here (the suite's limits, which every connection takes: core/security.ts),
 * so a short transfer reaches it. Where a key update may start
 * the keys are updated and the transfer goes on; where none may, the
 * connection closes with `PROTOCOL_VIOLATION` and a message saying why, its
 * CLOSE sealed within the key's reserve, and no key seals past its limit.
 * Before, sealing threw a plain `Error` out of the endpoint's poll.
 */
import { describe, expect, it, vi } from 'vitest';
import type { PacketProtection } from '../src/crypto/index.js';
import { CLOSE_RESERVE } from '../src/crypto/packet-protection.js';
import { PROTOCOL_VIOLATION } from '../src/core/connection/close.js';
import { KEY_SPENT } from '../src/core/connection/transmit.js';
import { CLIENT, SERVER, firstOf, makePair, messagesOf } from './helpers/pair.js';

/** The lowered confidentiality limit, packets a key. */
const LIMIT = vi.hoisted(() => 400);

// The suite's limits, as every connection takes them (core/security.ts), with the confidentiality limit lowered.
vi.mock('../src/crypto/aead-limits.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../src/crypto/aead-limits.js')>();
  return { ...actual, CHACHA20_POLY1305_LIMITS: { ...actual.CHACHA20_POLY1305_LIMITS, confidentialityLimit: LIMIT } };
});

/** `count` messages of about 3 KB each (three packets). */
const messages = (count: number): Uint8Array[] => Array.from({ length: count }, (_, i) => new Uint8Array(3000).fill(i & 0xff));

/**
 * A connected pair (keys updated only at the limit: `keyUpdateAfterPackets` stays 2^23) and the server's
 * side, over 2 Mbit/s: some 200 packets a second, so a key's 400 last two seconds, past the three probe
 * timeouts each update waits for after the last (a faster sender would find no update possible, and close).
 */
function connected(seed: number) {
  const p = makePair({ seed, link: { delayMs: 10, jitterMs: 2, bandwidthBps: 2_000_000, queueBytes: 64 * 1024 } });
  p.sim.runFor(300);
  const server = p.serverConn();
  if (server === undefined || p.conn.state !== 'established') throw new Error('not connected');
  return { p, server };
}

describe('a send key at its confidentiality limit (simulated, limit lowered)', () => {
  it.each([1, 2])('seed %i: where a key update may start, the keys are updated at the limit and a transfer of several keys\' worth arrives whole', (seed) => {
    const { p, server } = connected(seed);
    const up = messages(600);
    for (const m of up) p.conn.send(m);
    p.sim.wake(CLIENT);
    p.sim.runFor(20_000);
    const got = messagesOf(p.serverEvents);
    expect(got.length === up.length && got.every((m, i) => Buffer.from(m).equals(up[i] as Uint8Array))).toBe(true);
    expect(p.conn.state).toBe('established');
    const protection = p.conn.protection as PacketProtection;
    // Over 1,200 packets sealed (1.8 MB), never 400 with one key: at least three updates.
    expect(protection.counters().sealed).toBeGreaterThan(3 * LIMIT);
    expect(p.conn.stats().keyUpdates).toBeGreaterThanOrEqual(3);
    expect(server.state).toBe('established');
  });

  it.each([1, 2])('seed %i: where no key update may start, the connection closes CLOSE_RESERVE packets before the limit with PROTOCOL_VIOLATION, the peer is told, and no key seals past its limit', (seed) => {
    const { p, server } = connected(seed);
    const protection = p.conn.protection as PacketProtection;
    // A peer that never lets the keys update, as one that never takes the new phase would.
    protection.initiateKeyUpdate = () => false;
    for (const m of messages(600)) p.conn.send(m);
    p.sim.wake(CLIENT);
    p.sim.runFor(20_000);
    const want = { kind: 'local', code: PROTOCOL_VIOLATION, message: KEY_SPENT };
    expect(firstOf(p.clientEvents, 'closed')?.event).toMatchObject({ reason: want });
    expect(p.conn.closeReason).toEqual(want);
    // The CLOSE arrived, sealed: the server's side ended at once, told why.
    expect(firstOf(p.serverEvents, 'closed')?.event).toMatchObject({ reason: { kind: 'peer', code: PROTOCOL_VIOLATION, message: KEY_SPENT } });
    expect(server.state).toBe('closed');
    const sealed = protection.counters().sealed;
    expect(sealed).toBeGreaterThanOrEqual(LIMIT - CLOSE_RESERVE);
    expect(sealed).toBeLessThanOrEqual(LIMIT);
    expect(messagesOf(p.serverEvents).length).toBeLessThan(600);
    expect(p.server.stats().dropped.auth).toBe(0);
  });

  it.each([1, 2])('seed %i: a draining connection whose key reached its limit seals no more CLOSEs, though the peer\'s packets keep arriving', (seed) => {
    const { p } = connected(seed);
    const protection = p.conn.protection as PacketProtection;
    protection.initiateKeyUpdate = () => false;
    let spentAt: { readonly fromClient: number; readonly toClient: number } | undefined;
    p.onClientEvent = (e) => {
      if (e.type !== 'closed') return;
      // The reserve used up at once, as 63 CLOSEs answering the peer's packets would: the key is at its limit.
      const header = new Uint8Array(9);
      for (let pn = 1_000_000; protection.counters().sealed < LIMIT; pn++) protection.sealInto(header, pn, new Uint8Array(1), new Uint8Array(17));
      spentAt = { fromClient: p.sim.linkStats(CLIENT, SERVER).sentDatagrams, toClient: p.sim.linkStats(SERVER, CLIENT).deliveredDatagrams };
    };
    for (const m of messages(600)) p.conn.send(m);
    p.sim.wake(CLIENT);
    p.sim.runFor(20_000);
    expect(p.conn.closeReason).toEqual({ kind: 'local', code: PROTOCOL_VIOLATION, message: KEY_SPENT });
    expect(protection.counters().sealed).toBe(LIMIT);
    // The server's packets in flight (its ACKs) came after: each would make a CLOSE due, and none went.
    expect(p.sim.linkStats(SERVER, CLIENT).deliveredDatagrams).toBeGreaterThan(spentAt?.toClient ?? Infinity);
    expect(p.sim.linkStats(CLIENT, SERVER).sentDatagrams).toBe(spentAt?.fromClient);
  });
});
