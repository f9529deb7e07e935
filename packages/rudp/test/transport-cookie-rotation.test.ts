/**
 * The cookie key rotates on the endpoint's clock: a cookie of the previous
 * key still opens a connection, one tagged under a key two rotations old
 * (as with a key read out of the server's memory) does not.
 */
import { describe, expect, it } from 'vitest';
import { Endpoint } from '../src/core/endpoint.js';
import { COOKIE_KEY_ROTATION_MS, CookieJar } from '../src/core/cookie.js';
import { MAX_DATAGRAM, PacketType, decodeRetry, encodeInitial, parseHeader } from '../src/wire/packet.js';
import { createRandom } from '../src/testing/prng.js';
import { SimNetwork } from '../src/testing/sim-network.js';
import { deterministicCrypto } from '../src/testing/deterministic-crypto.js';
import { nodeCryptoProvider } from '../src/node/crypto-provider.js';

const FROM = '1.2.3.4:5';
const SEED = 4;

function initial(scid: number, token: Uint8Array = new Uint8Array(0)): Uint8Array {
  return encodeInitial(new Uint8Array(MAX_DATAGRAM), 0, { scid, token, params: { receiveWindow: 1 << 20, initialLimit: 1 << 20 }, hello: new Uint8Array(0) }).slice();
}

function drain(ep: Endpoint, now: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let t = ep.pollTransmit(now); t; t = ep.pollTransmit(now)) out.push(t.data);
  return out;
}

/** The cookie the server answers a token-less INITIAL of `scid` with at `now`. */
function cookieFor(ep: Endpoint, now: number, scid: number): Uint8Array {
  ep.handleDatagram(now, initial(scid), FROM);
  const h = parseHeader(drain(ep, now)[0] as Uint8Array);
  if (typeof h === 'string' || h.type !== PacketType.Retry) throw new Error('expected a RETRY');
  return decodeRetry(h.payload) as Uint8Array;
}

/** A jar that mints under the server's first cookie key at any time: a key leaked from its memory. */
function leakedFirstKey(): CookieJar {
  // The server draws its first key first from its random source: the same four numbers here, every time.
  const r = createRandom(SEED);
  const key = [r(), r(), r(), r()];
  let i = 0;
  return new CookieJar(() => key[i++ % 4] as number);
}

describe('cookie key rotation', () => {
  it('refuses a cookie tagged under a key two rotations old, fresh issue time or not', () => {
    const ep = new Endpoint({ random: createRandom(SEED), acceptIncoming: true, plaintext: true });
    const leaked = leakedFirstKey();
    // While the key is current, the leak mints valid cookies (the test's premise).
    ep.handleDatagram(10_000, initial(1, leaked.mint(10_000, FROM, 1)), FROM);
    expect(ep.connectionCount).toBe(1);
    // Two rotations on, with a fresh issue time: the key is gone.
    const later = 2 * COOKIE_KEY_ROTATION_MS + 10_000;
    ep.handleDatagram(later, initial(2, leaked.mint(later, FROM, 2)), FROM);
    expect(ep.connectionCount).toBe(1);
    expect(ep.stats().dropped.badToken).toBe(1);
    // A cookie the server mints now still opens a connection.
    ep.handleDatagram(later, initial(3, cookieFor(ep, later, 3)), FROM);
    expect(ep.connectionCount).toBe(2);
  });

  it('refuses the old key after one rotation for any issue time of the new period', () => {
    const ep = new Endpoint({ random: createRandom(SEED), acceptIncoming: true, plaintext: true });
    const leaked = leakedFirstKey();
    const next = COOKIE_KEY_ROTATION_MS + 1000;
    ep.handleDatagram(next, initial(1, leaked.mint(next, FROM, 1)), FROM);
    expect(ep.connectionCount).toBe(0);
    expect(ep.stats().dropped.badToken).toBe(1);
  });

  it('accepts a cookie of the previous key: one minted just before a rotation, echoed just after', () => {
    const ep = new Endpoint({ random: createRandom(SEED), acceptIncoming: true, plaintext: true });
    const before = COOKIE_KEY_ROTATION_MS - 500;
    const token = cookieFor(ep, before, 1);
    // Another client's handshake after the boundary rotates the key first.
    const after = COOKIE_KEY_ROTATION_MS + 500;
    ep.handleDatagram(after, initial(2, cookieFor(ep, after, 2)), FROM);
    expect(ep.connectionCount).toBe(1);
    ep.handleDatagram(after, initial(1, token), FROM);
    expect(ep.connectionCount).toBe(2);
    expect(ep.stats().dropped.badToken).toBe(0);
  });

  it('connects an encrypting client whose cookie exchange straddles a rotation, in the simulator', () => {
    const sim = new SimNetwork({ seed: 9, defaultLink: { delayMs: 60, jitterMs: 0 } });
    const crypto = (label: string) => deterministicCrypto(nodeCryptoProvider, sim.random(`${label}-crypto`));
    const server = new Endpoint({ random: sim.random('server'), acceptIncoming: true, crypto: crypto('server') });
    sim.addNode('10.0.0.2:4000', server, { onActivity: () => void server.pollEvent() });
    const client = new Endpoint({ random: sim.random('client'), crypto: crypto('client') });
    sim.addNode('10.0.0.1:5000', client, { onActivity: () => void client.pollEvent() });
    // The RETRY is minted 60 ms before the boundary, the cookie comes back 60 ms after it.
    sim.runFor(COOKIE_KEY_ROTATION_MS - 120);
    const conn = client.connect(sim.now, '10.0.0.2:4000');
    sim.wake('10.0.0.1:5000');
    sim.runFor(1000);
    expect(conn.state).toBe('established');
    expect(server.stats().dropped.badToken).toBe(0);
  });

  it('keeps minting cookies that verify after the clock is set back (a driver passing a wall clock)', () => {
    const ep = new Endpoint({ random: createRandom(SEED), acceptIncoming: true, plaintext: true });
    const late = 3 * COOKIE_KEY_ROTATION_MS + 5000;
    ep.handleDatagram(late, initial(1, cookieFor(ep, late, 1)), FROM);
    expect(ep.connectionCount).toBe(1);
    // Two periods back. Before, every cookie minted until the clock caught up was refused.
    const back = COOKIE_KEY_ROTATION_MS + 5000;
    ep.handleDatagram(back, initial(2, cookieFor(ep, back, 2)), FROM);
    expect(ep.stats().dropped.badToken).toBe(0);
    expect(ep.connectionCount).toBe(2);
  });

  it('a clock a little behind across a boundary mints under the previous key, which verifies on both sides of it', () => {
    const ep = new Endpoint({ random: createRandom(SEED), acceptIncoming: true, plaintext: true });
    const after = COOKIE_KEY_ROTATION_MS + 500;
    ep.handleDatagram(after, initial(1, cookieFor(ep, after, 1)), FROM);
    const behind = COOKIE_KEY_ROTATION_MS - 1500;
    const token = cookieFor(ep, behind, 2);
    ep.handleDatagram(after, initial(2, token), FROM);
    ep.handleDatagram(behind, initial(3, cookieFor(ep, behind, 3)), FROM);
    expect(ep.stats().dropped.badToken).toBe(0);
    expect(ep.connectionCount).toBe(3);
  });
});
