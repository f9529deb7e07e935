/**
 * Node's sockets hand the endpoint each datagram as a `Buffer`. The views
 * the core cuts from it (the opened payload, the frames, a message) are
 * plain `Uint8Array`s: a `Buffer`'s `subarray` goes through its JavaScript
 * constructor, and its `slice` is a view, not the copy `Uint8Array#slice`
 * is, so a small message "copied" out of a datagram in a shared buffer used
 * to pin (and share) the whole buffer.
 */
import { describe, expect, it } from 'vitest';
import { Endpoint } from '../src/core/endpoint.js';
import { nodeCryptoProvider } from '../src/node/crypto-provider.js';
import { createRandom } from '../src/testing/prng.js';
import { deterministicCrypto } from '../src/testing/deterministic-crypto.js';
import { drain } from './helpers/drain.js';

const CLIENT = '10.0.0.1:5000';
const SERVER = '10.0.0.2:4000';

for (const plaintext of [false, true]) {
  describe(`${plaintext ? 'plaintext' : 'encrypted'}: datagrams handed over as Buffers`, () => {
    it('messages are plain arrays of their own bytes, even from datagrams in one shared Buffer', () => {
      const random = createRandom(5);
      const options = (): { crypto: ReturnType<typeof deterministicCrypto> } | { plaintext: true } => (plaintext ? { plaintext: true } : { crypto: deterministicCrypto(nodeCryptoProvider, random) });
      const client = new Endpoint({ random, ...options() });
      const server = new Endpoint({ random, acceptIncoming: true, ...options() });
      // Every datagram to the server is copied into this one Buffer, as `Buffer.from` pools small copies.
      const pool = Buffer.allocUnsafeSlow(8192);
      let at = 0;
      const inPool = (d: Uint8Array): Buffer => {
        if (at + d.length > pool.length) at = 0;
        pool.set(d, at);
        at += d.length;
        return pool.subarray(at - d.length, at);
      };
      let now = 0;
      const conn = client.connect(now, SERVER);
      const got: Uint8Array[] = [];
      const round = (): void => {
        now += 10;
        for (const t of drain(client, now)) server.handleDatagram(now, inPool(t.data), CLIENT);
        for (let e = server.pollEvent(); e; e = server.pollEvent()) if (e.type === 'message') got.push(e.data);
        for (const t of drain(server, now)) client.handleDatagram(now, Buffer.from(t.data), SERVER);
        for (let e = client.pollEvent(); e; e = client.pollEvent());
      };
      for (let i = 0; i < 10 && conn.state === 'handshake'; i++) round();
      expect(conn.state).toBe('established');
      const sent = [1, 2, 3].map((i) => new Uint8Array(16).fill(i));
      for (const m of sent) {
        conn.send(m);
        round();
      }
      expect(got).toHaveLength(3);
      for (const m of got) {
        expect(Buffer.isBuffer(m)).toBe(false);
        expect(m.buffer).not.toBe(pool.buffer);
      }
      pool.fill(0);
      expect(got).toEqual(sent);
      expect(server.stats().droppedTotal).toBe(0);
    });
  });
}
