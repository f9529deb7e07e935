/**
 * Key updates across whole connections with each packet cipher the library
 * ships (OpenSSL's addon, libsodium, node:crypto): key derivation now wipes
 * its temporaries (the next traffic secret, HMAC blocks, the provider's
 * digest) and the old send keys, so a wipe of bytes still in use (a key the
 * addon holds, the secret the next update derives from) would show here as
 * packets that fail authentication or a transfer that stalls after an update.
 */
import { describe, expect, it } from 'vitest';
import type { PacketProtection } from '../src/crypto/index.js';
import { packetCipherProviders } from '../src/node/crypto-provider.js';
import { deterministicCrypto } from '../src/testing/deterministic-crypto.js';
import { deriveRandom } from '../src/testing/prng.js';
import { CLIENT, SERVER, makePair, messagesOf } from './helpers/pair.js';
import { expectSameByteLists } from '../../../test-support/same-bytes.js';

/** `count` distinct messages of up to 4 KB. */
const messages = (side: number, count: number): Uint8Array[] =>
  Array.from({ length: count }, (_, i) => new Uint8Array(1 + ((i * 7919) % 4000)).map((_, k) => (i * 31 + k * 7 + side) & 0xff));

describe.each(packetCipherProviders)('key updates across a whole connection: %s', (_, provider) => {
  it.each([1, 2])('seed %i: both directions cross a dozen key phases, every message arrives, no packet fails authentication', (seed) => {
    const side = (label: string) => ({ crypto: deterministicCrypto(provider, deriveRandom(seed, label)), keyUpdateAfterPackets: 32 });
    const p = makePair({ seed, link: { delayMs: 5, jitterMs: 2, bandwidthBps: 4_000_000, queueBytes: 64 * 1024 }, client: side('client'), server: side('server') });
    p.sim.runFor(300);
    const server = p.serverConn();
    if (server === undefined) throw new Error('not connected');
    const up = messages(1, 1500);
    const down = messages(2, 1500);
    for (const m of up) p.conn.send(m);
    for (const m of down) server.send(m);
    p.sim.wake(CLIENT);
    p.sim.wake(SERVER);
    p.sim.runFor(30_000);
    expectSameByteLists(messagesOf(p.serverEvents), up, 'messages up');
    expectSameByteLists(messagesOf(p.clientEvents), down, 'messages down');
    const updates = (p.conn.protection as PacketProtection).counters().keyUpdates;
    expect(updates).toBeGreaterThanOrEqual(12);
    expect(p.client.stats().dropped.auth + p.server.stats().dropped.auth).toBe(0);
    expect(p.conn.state).toBe('established');
  });
});
