import { describe, expect, it } from 'vitest';
import { utf8 } from '../../src/crypto/bytes.js';
import { createExporter } from '../../src/crypto/exporter.js';
import { KeyArena } from '../../src/crypto/key-arena.js';
import { ReplayWindow } from '../../src/crypto/replay-window.js';
import { PacketKey, packetKeyBytes } from '../../src/crypto/packet-key.js';
import { PacketProtection, protectionArenaBytes } from '../../src/crypto/packet-protection.js';
import { nodeCryptoProvider as crypto } from '../../src/node/crypto-provider.js';

describe('KeyArena', () => {
  it('hands out disjoint, zeroed places in its one view, and buffers of their own once full', () => {
    const arena = new KeyArena(3 + 5 + 8);
    const places = [arena.take(3), arena.take(5), arena.take(8)];
    // One view for everything: a view per key is what the arena is there to save.
    for (const p of places) expect(p.bytes).toBe(arena.bytes);
    expect(places.map((p) => p.at)).toEqual([0, 3, 8]);
    expect(arena.bytes.every((x) => x === 0)).toBe(true);
    places.forEach((p, i) => p.bytes.fill(i + 1, p.at, p.at + [3, 5, 8][i]!));
    // Nothing written into one place shows in another.
    expect([...arena.bytes]).toEqual([1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3]);
    // The arena is full: a further place is a buffer of its own.
    const extra = arena.take(1);
    expect(extra.bytes).not.toBe(arena.bytes);
    expect(extra).toEqual({ bytes: new Uint8Array(1), at: 0 });
  });

  it('packet protection keeps its window and keys in the arena it is given, and interoperates with one without', () => {
    const c2s = crypto.randomBytes(32);
    const s2c = crypto.randomBytes(32);
    const options = { sendSecret: c2s, receiveSecret: s2c };
    const arena = new KeyArena(protectionArenaBytes(options));
    const client = new PacketProtection(crypto, { ...options, arena });
    const server = new PacketProtection(crypto, { sendSecret: s2c, receiveSecret: c2s });
    // The arena is used up exactly: a further place is a buffer of its own.
    expect(arena.take(1).bytes).not.toBe(arena.bytes);
    // The keys' secrets are in the arena's view, not views of their own.
    expect(arena.bytes.some((b) => b !== 0)).toBe(true);
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

  it('a replay window and an exporter secret at an offset of the arena keep to their own bytes', () => {
    const arena = new KeyArena(3 + 8 + 32 + 3);
    const before = arena.take(3);
    const w = new ReplayWindow(64, arena);
    const secret = crypto.randomBytes(32);
    const place = arena.take(32);
    place.bytes.set(secret, place.at);
    const after = arena.take(3);
    // Neighbours with every bit set must neither read as seen packets nor be cleared by the window.
    before.bytes.fill(0xff, before.at, before.at + 3);
    after.bytes.fill(0xff, after.at, after.at + 3);
    for (let pn = 0; pn < 300; pn += 3) {
      expect(w.check(pn)).toBe('fresh');
      expect(w.mark(pn)).toBe(true);
      expect(w.check(pn)).toBe('duplicate');
      if (pn >= 1) expect(w.check(pn - 1)).toBe('fresh');
    }
    expect([...arena.bytes.subarray(0, 3), ...arena.bytes.subarray(43)]).toEqual(new Array<number>(6).fill(0xff));
    expect([...arena.bytes.subarray(11, 43)]).toEqual([...secret]);
    const ctx = utf8('ctx');
    expect(createExporter(crypto, place.bytes, place.at, 32).exportKeyingMaterial('l', ctx, 16)).toEqual(createExporter(crypto, secret).exportKeyingMaterial('l', ctx, 16));
  });

  it('a wiped packet key keeps no secret, key or IV bytes', () => {
    const arena = new KeyArena(2 * packetKeyBytes(32));
    const key = new PacketKey(crypto, crypto.randomBytes(32), arena);
    const neighbour = new PacketKey(crypto, crypto.randomBytes(32), arena);
    const header = Uint8Array.of(1);
    const before = key.seal(header, 7, utf8('x'));
    const neighbourBefore = neighbour.seal(header, 7, utf8('x'));
    key.wipe();
    expect(key.secret.every((b) => b === 0)).toBe(true);
    // Only its own bytes: the other key in the arena still seals as before.
    expect(neighbour.secret.some((b) => b !== 0)).toBe(true);
    expect(Buffer.compare(neighbour.seal(header, 7, utf8('x')), neighbourBefore)).toBe(0);
    // Sealing now uses an all-zero key and IV: not what the real key gave.
    expect(Buffer.compare(key.seal(header, 7, utf8('x')), before)).not.toBe(0);
  });
});
