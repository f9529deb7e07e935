import { describe, expect, it } from 'vitest';
import { utf8 } from '../../src/crypto/bytes.js';
import { KeyArena } from '../../src/crypto/key-arena.js';
import { PacketKey, packetKeyBytes } from '../../src/crypto/packet-key.js';
import { PacketProtection, protectionArenaBytes } from '../../src/crypto/packet-protection.js';
import { nodeCryptoProvider as crypto } from '../../src/node/crypto-provider.js';

describe('KeyArena', () => {
  it('hands out disjoint, zeroed views of one buffer, words aligned, and buffers of their own once full', () => {
    const arena = new KeyArena(4 * 3 + 5 + 8);
    const words = arena.words(3);
    const a = arena.bytes(5);
    const b = arena.bytes(8);
    expect(words.buffer).toBe(a.buffer);
    expect(b.buffer).toBe(a.buffer);
    expect([...a, ...b, ...words].every((x) => x === 0)).toBe(true);
    words.fill(0xffffffff);
    a.fill(1);
    b.fill(2);
    // Nothing written through one view shows through another.
    expect([...a]).toEqual([1, 1, 1, 1, 1]);
    expect([...b]).toEqual(new Array<number>(8).fill(2));
    expect([...words]).toEqual([0xffffffff, 0xffffffff, 0xffffffff]);
    // `a` took 5 bytes, rounded up to 8 so that later words stay aligned: the arena is full.
    const c = arena.bytes(1);
    expect(c.buffer).not.toBe(a.buffer);
    expect(arena.words(1).buffer).not.toBe(a.buffer);
  });

  it('packet protection keeps its window and keys in the arena it is given, and interoperates with one without', () => {
    const c2s = crypto.randomBytes(32);
    const s2c = crypto.randomBytes(32);
    const options = { sendSecret: c2s, receiveSecret: s2c };
    const arena = new KeyArena(protectionArenaBytes(options));
    const client = new PacketProtection(crypto, { ...options, arena });
    const server = new PacketProtection(crypto, { sendSecret: s2c, receiveSecret: c2s });
    // The arena is used up exactly: a further view is a buffer of its own.
    expect(arena.bytes(1).buffer.byteLength).toBe(1);
    const header = Uint8Array.of(0x40, 1, 2, 3);
    for (let pn = 0; pn < 50; pn++) {
      const up = client.seal(header, pn, utf8(`up ${pn}`));
      const down = server.seal(header, pn, utf8(`down ${pn}`));
      if (!up.ok || !down.ok) throw new Error('seal failed');
      const atServer = server.open(header, 0, pn, up.packet);
      const atClient = client.open(header, 0, pn, down.packet);
      expect(atServer.ok && new TextDecoder().decode(atServer.plaintext)).toBe(`up ${pn}`);
      expect(atClient.ok && new TextDecoder().decode(atClient.plaintext)).toBe(`down ${pn}`);
      // The replay window in the arena refuses the same packet again.
      expect(client.open(header, 0, pn, down.packet)).toEqual({ ok: false, reason: 'duplicate' });
    }
  });

  it('a wiped packet key keeps no secret, key or IV bytes', () => {
    const key = new PacketKey(crypto, crypto.randomBytes(32), new KeyArena(packetKeyBytes(32)));
    const header = Uint8Array.of(1);
    const before = key.seal(header, 7, utf8('x'));
    key.wipe();
    expect(key.secret.every((b) => b === 0)).toBe(true);
    // Sealing now uses an all-zero key and IV: not what the real key gave.
    expect(Buffer.compare(key.seal(header, 7, utf8('x')), before)).not.toBe(0);
  });
});
