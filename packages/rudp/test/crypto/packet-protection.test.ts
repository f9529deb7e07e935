import { describe, expect, it } from 'vitest';
import type { AeadLimits } from '../../src/crypto/aead-limits.js';
import { fromHex, toHex, utf8 } from '../../src/crypto/bytes.js';
import { createExporter } from '../../src/crypto/exporter.js';
import { hkdfExpand, hkdfExtract } from '../../src/crypto/hkdf.js';
import { CLOSE_RESERVE, PacketProtection, type KeyPhase } from '../../src/crypto/packet-protection.js';
import { DEFAULT_REPLAY_WINDOW, ReplayWindow } from '../../src/crypto/replay-window.js';
import type { CryptoProvider } from '../../src/crypto/crypto-provider.js';
import { nodeCryptoProvider as crypto, packetCipherProviders } from '../../src/node/crypto-provider.js';

const h = (s: string): Uint8Array => fromHex(s) ?? new Uint8Array(0);

describe('HKDF-SHA256', () => {
  it('matches RFC 5869 test case 1', () => {
    const prk = hkdfExtract(crypto, h('000102030405060708090a0b0c'), new Uint8Array(22).fill(0x0b));
    expect(toHex(prk)).toBe('077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5');
    expect(toHex(hkdfExpand(crypto, prk, h('f0f1f2f3f4f5f6f7f8f9'), 42))).toBe('3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865');
  });
});

/**
 * Every library that loads here, each through the per-call path (`seal`/`open`) and the
 * whole-datagram one (`sealPacket`/`openPacket`: OpenSSL's own in one call, the others through
 * views): the same tests hold for all of them.
 */
const ways = packetCipherProviders.flatMap(([library, provider]) => [
  { name: `${library}, per call`, provider, whole: false },
  { name: `${library}, whole datagrams${provider.packetAead === undefined ? ' (through views)' : ''}`, provider, whole: true },
]);

for (const way of ways) {
  const provider: CryptoProvider = way.provider;

  /** A connected pair of PacketProtections, as a client and a server would hold after one handshake. */
  const pair = (limits?: AeadLimits) => {
    const c2s = crypto.randomBytes(32);
    const s2c = crypto.randomBytes(32);
    return {
      client: new PacketProtection(provider, { sendSecret: c2s, receiveSecret: s2c, ...(limits ? { limits } : {}) }),
      server: new PacketProtection(provider, { sendSecret: s2c, receiveSecret: c2s, ...(limits ? { limits } : {}) }),
    };
  };

  /**
   * A pair as {@link pair}, the client's provider making keys that throw as they seal while `armed()` holds (a
   * key update's next phase, once armed); the others are the provider's own, per call and whole datagrams.
   */
  const pairWithNewKeysBreaking = (armed: () => boolean) => {
    const broke = (): never => {
      throw new Error('new keys broke');
    };
    const whole = provider.packetAead?.bind(provider);
    const breaking: CryptoProvider = {
      ...provider,
      aeadKey(key) {
        const k = provider.aeadKey(key);
        if (!armed()) return k;
        return { sealInto: broke, openInto: (nonce, ad, ciphertext, out) => k.openInto(nonce, ad, ciphertext, out) };
      },
      ...(whole === undefined
        ? {}
        : {
            packetAead(key: Uint8Array) {
              const k = whole(key);
              if (!armed()) return k;
              return { sealPacket: broke, openPacket: (pn: number, d: Uint8Array, hl: number, end: number) => k.openPacket(pn, d, hl, end) };
            },
          }),
    };
    const c2s = crypto.randomBytes(32);
    const s2c = crypto.randomBytes(32);
    return { client: new PacketProtection(breaking, { sendSecret: c2s, receiveSecret: s2c }), server: new PacketProtection(provider, { sendSecret: s2c, receiveSecret: c2s }) };
  };

  interface Wire {
    readonly header: Uint8Array;
    readonly phase: KeyPhase;
    readonly pn: number;
    readonly body: Uint8Array;
  }

  /** `from.sealPacket` of header and plaintext written into a larger source buffer, as the core writes them; the body after the header. */
  const sealWhole = (from: PacketProtection, header: Uint8Array, pn: number, plaintext: Uint8Array): Uint8Array | undefined => {
    const source = new Uint8Array(header.length + plaintext.length + 40).fill(0xee);
    source.set(header);
    source.set(plaintext, header.length);
    const datagram = new Uint8Array(header.length + plaintext.length + 16);
    if (!from.sealPacket(pn, source, header.length, header.length + plaintext.length, datagram)) return undefined;
    expect(datagram.subarray(0, header.length)).toEqual(header);
    return datagram.subarray(header.length);
  };

  const send = (from: PacketProtection, pn: number, text: string): Wire => {
    const phase = from.keyPhase();
    const header = Uint8Array.of(0x40 | phase, pn & 0xff, 7, 7);
    if (way.whole) {
      const body = sealWhole(from, header, pn, utf8(text));
      if (body === undefined) throw new Error('key-exhausted');
      return { header, phase, pn, body };
    }
    const sealed = from.seal(header, pn, utf8(text));
    if (!sealed.ok) throw new Error(sealed.reason);
    return { header, phase, pn, body: sealed.packet };
  };

  /** `to.openPacket` of header and body as one datagram (in place), as an `OpenResult`. */
  const openWhole = (to: PacketProtection, w: Wire): ReturnType<PacketProtection['open']> => {
    const datagram = new Uint8Array(w.header.length + w.body.length);
    datagram.set(w.header);
    datagram.set(w.body, w.header.length);
    // A key update shows as one more in the counters: receiving the peer's next phase makes us follow it.
    const updates = to.counters().keyUpdates;
    const failure = to.openPacket(w.phase, w.pn, datagram, w.header.length, datagram.length);
    if (failure !== undefined) return { ok: false, reason: failure };
    return { ok: true, plaintext: datagram.subarray(w.header.length, datagram.length - 16), keyUpdated: to.counters().keyUpdates !== updates };
  };
  const receive = (to: PacketProtection, w: Wire) => (way.whole ? openWhole(to, w) : to.open(w.header, w.phase, w.pn, w.body));
  const text = (r: ReturnType<typeof receive>): string => (r.ok ? new TextDecoder().decode(r.plaintext) : `dropped: ${r.reason}`);

  describe(`packet protection: ${way.name}`, () => {
    it('takes the whole-datagram path exactly where the provider offers one', () => {
      expect(pair().client.wholePackets).toBe(provider.packetAead !== undefined);
    });

    it('seals and opens; the ciphertext does not contain the plaintext', () => {
      const { client, server } = pair();
      const w = send(client, 0, 'PASSWORD hunter2');
      expect(Buffer.from(w.body).includes(Buffer.from('hunter2'))).toBe(false);
      expect(w.body.length).toBe('PASSWORD hunter2'.length + 16);
      expect(text(receive(server, w))).toBe('PASSWORD hunter2');
    });

    it('an altered header, body, tag, packet number or phase is dropped as auth, and the original still opens after', () => {
      const { client, server } = pair();
      const w = send(client, 5, 'MSG hello');
      const flip = (a: Uint8Array, i: number): Uint8Array => {
        const b = a.slice();
        b[i] = (b[i] ?? 0) ^ 0x01;
        return b;
      };
      expect(receive(server, { ...w, header: flip(w.header, 2) })).toEqual({ ok: false, reason: 'auth' });
      expect(receive(server, { ...w, body: flip(w.body, 0) })).toEqual({ ok: false, reason: 'auth' });
      expect(receive(server, { ...w, body: flip(w.body, w.body.length - 1) })).toEqual({ ok: false, reason: 'auth' });
      expect(receive(server, { ...w, body: w.body.subarray(0, 10) })).toEqual({ ok: false, reason: 'auth' });
      expect(receive(server, { ...w, pn: 6 })).toEqual({ ok: false, reason: 'auth' });
      expect(receive(server, { ...w, phase: 1 })).toEqual({ ok: false, reason: 'auth' });
      expect(server.counters().authFailures).toBe(6);
      // Forgeries do not move the replay window: the genuine packet is still accepted.
      expect(text(receive(server, w))).toBe('MSG hello');
    });

    it('openInto: the plaintext into the given array and no result object; a refusal as its reason', () => {
      const { client, server } = pair();
      const w = send(client, 3, 'MSG in place');
      const out = new Uint8Array(w.body.length - 16);
      expect(server.openInto(w.header, w.phase, w.pn, w.body, out)).toBeUndefined();
      expect(new TextDecoder().decode(out)).toBe('MSG in place');
      expect(server.openInto(w.header, w.phase, w.pn, w.body, out)).toBe('duplicate');
      const forged = send(client, 4, 'MSG forged');
      forged.body[0] = (forged.body[0] ?? 0) ^ 1;
      expect(server.openInto(forged.header, forged.phase, forged.pn, forged.body, new Uint8Array(forged.body.length - 16))).toBe('auth');
      expect(server.openInto(w.header, w.phase, 9, w.body.subarray(0, 10), new Uint8Array(0))).toBe('auth');
      expect(server.counters()).toMatchObject({ opened: 1, replays: 1, authFailures: 2 });
    });

    it('injected packets (random bytes, any packet number) never open', () => {
      const { server } = pair();
      for (let i = 0; i < 200; i++) {
        const r = server.open(crypto.randomBytes(4), (i & 1) as KeyPhase, i * 7919, crypto.randomBytes(16 + (i % 64)));
        expect(r).toEqual({ ok: false, reason: 'auth' });
      }
      // Nor does a packet sealed with the other direction's key (a reflection).
      const { client } = pair();
      const w = send(client, 1, 'reflected');
      expect(receive(client, w)).toEqual({ ok: false, reason: 'auth' });
    });

    it('a replayed packet is dropped as duplicate; reordered ones inside the window open; older ones are too-old', () => {
      const { client, server } = pair();
      const packets = Array.from({ length: 3000 }, (_, pn) => send(client, pn, `m${pn}`));
      const w10 = packets[10];
      const w2999 = packets[2999];
      const wOld = packets[2999 - DEFAULT_REPLAY_WINDOW - 50];
      const wInside = packets[2999 - DEFAULT_REPLAY_WINDOW + 40];
      if (!w10 || !w2999 || !wOld || !wInside) throw new Error('missing');
      expect(text(receive(server, w10))).toBe('m10');
      expect(receive(server, w10)).toEqual({ ok: false, reason: 'duplicate' });
      expect(text(receive(server, w2999))).toBe('m2999');
      expect(receive(server, w10)).toEqual({ ok: false, reason: 'too-old' });
      expect(text(receive(server, wInside))).toBe(`m${2999 - DEFAULT_REPLAY_WINDOW + 40}`);
      expect(receive(server, wInside)).toEqual({ ok: false, reason: 'duplicate' });
      expect(receive(server, wOld)).toEqual({ ok: false, reason: 'too-old' });
      expect(server.counters().replays).toBe(4);
    });

    it('authenticCopy: a duplicate that authenticates is a copy; a forged duplicate, a fresh packet or an unknown phase is not, and nothing is marked', () => {
      const { client, server } = pair();
      const w = send(client, 7, 'raced');
      const out = () => new Uint8Array(w.body.length - 16);
      // Not seen yet: not a duplicate, so no copy (and not marked: it opens after).
      expect(server.authenticCopy(w.header, w.phase, w.pn, w.body, out())).toBe('not-duplicate');
      expect(text(receive(server, w))).toBe('raced');
      expect(server.authenticCopy(w.header, w.phase, w.pn, w.body, out())).toBe('copy');
      expect(server.authenticCopy(w.header, w.phase, w.pn, w.body, out())).toBe('copy');
      // The same number with a broken tag: a forgery, counted as one.
      const forged = w.body.slice();
      forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 1;
      expect(server.authenticCopy(w.header, w.phase, w.pn, forged, out())).toBe('auth');
      expect(server.authenticCopy(w.header, w.phase === 0 ? 1 : 0, w.pn, w.body, out())).toBe('auth');
      expect(server.counters().authFailures).toBe(2);
      // Still a replay to open.
      expect(receive(server, w)).toEqual({ ok: false, reason: 'duplicate' });
    });

    it('authenticCopy: forged duplicates reach the integrity limit as any forgeries do (a tag check each), so the connection closes there', () => {
      const limits: AeadLimits = { updateAfterPackets: 1000, confidentialityLimit: 1000, integrityLimit: 3 };
      const { client, server } = pair(limits);
      const w = send(client, 7, 'raced');
      expect(text(receive(server, w))).toBe('raced');
      const forged = w.body.slice();
      forged[0] = (forged[0] as number) ^ 1;
      const out = new Uint8Array(w.body.length - 16);
      const short = w.body.subarray(0, 15);
      expect([server.authenticCopy(w.header, w.phase, w.pn, forged, out), server.authenticCopy(w.header, w.phase, w.pn, short, out), server.authenticCopy(w.header, w.phase, w.pn, forged, out)]).toEqual(['auth', 'auth', 'integrity-limit']);
      expect(server.counters().authFailures).toBe(3);
    });

    it('updates keys before the limit, the peer follows, and late packets of the old phase still open', () => {
      const limits: AeadLimits = { updateAfterPackets: 4, confidentialityLimit: 1000, integrityLimit: 1000 };
      const { client, server } = pair(limits);
      // The client may not update before the server has sent with the current keys.
      const early = [0, 1, 2, 3, 4].map((pn) => send(client, pn, `c${pn}`));
      expect(client.keyPhase()).toBe(0);
      for (const w of early) expect(receive(server, w).ok).toBe(true);
      expect(receive(client, send(server, 0, 's0')).ok).toBe(true);
      // Nor before the server acknowledged one of its packets of this phase (RFC 9001 §6.1).
      expect(client.initiateKeyUpdate()).toBe(false);
      client.acknowledged(4);
      // Now it may: the next packet past the threshold switches phase.
      const beforeSwitch = send(client, 5, 'c5');
      expect(beforeSwitch.phase).toBe(0);
      expect(client.keyPhase()).toBe(1);
      const updated = send(client, 6, 'c6');
      expect(updated.phase).toBe(1);
      const r = receive(server, updated);
      expect(r.ok && r.keyUpdated).toBe(true);
      expect(text(r)).toBe('c6');
      // The server answers in the new phase, and the client opens it.
      expect(server.keyPhase()).toBe(1);
      expect(text(receive(client, send(server, 1, 's1')))).toBe('s1');
      // c5 was delayed past the switch: opened with the previous keys.
      expect(text(receive(server, beforeSwitch))).toBe('c5');
      server.discardPreviousKeys();
      expect(client.counters().keyUpdates).toBe(1);
      expect(server.counters().keyUpdates).toBe(1);
    });

    it("new send keys that throw sealing their first packet (a provider's fault): the previous keys come back, with their phase bit and no update counted, and what they seal opens at the peer; no update is tried again", () => {
      let armed = false;
      // Keys made once armed (the client's next phase) throw as they seal; the others are the provider's own.
      const { client, server } = pairWithNewKeysBreaking(() => armed);
      expect(text(receive(server, send(client, 0, 'c0')))).toBe('c0');
      expect(text(receive(client, send(server, 0, 's0')))).toBe('s0');
      client.acknowledged(0);
      armed = true;
      expect(client.initiateKeyUpdate()).toBe(true);
      expect(client.keyPhase()).toBe(1);
      expect(() => send(client, 1, 'lost')).toThrow();
      expect([client.keyPhase(), client.counters().keyUpdates]).toEqual([0, 0]);
      armed = false;
      const goodbye = send(client, 2, 'goodbye');
      expect(goodbye.phase).toBe(0);
      expect(text(receive(server, goodbye))).toBe('goodbye');
      client.acknowledged(2);
      expect(client.initiateKeyUpdate()).toBe(false);
    });

    it("both ends begin a key update at once, and the client's new send keys throw on its first packet after the server's of the new phase opened: the previous keys come back, and the server (still reading them) opens the goodbye", () => {
      let armed = false;
      const { client, server } = pairWithNewKeysBreaking(() => armed);
      expect(text(receive(server, send(client, 0, 'c0')))).toBe('c0');
      expect(text(receive(client, send(server, 0, 's0')))).toBe('s0');
      client.acknowledged(0);
      server.acknowledged(0);
      armed = true;
      expect([client.initiateKeyUpdate(), server.initiateKeyUpdate()]).toEqual([true, true]);
      // The server's first packet of its new phase reaches the client before the client sealed any of its own.
      const s1 = send(server, 1, 's1');
      expect(s1.phase).toBe(1);
      expect(text(receive(client, s1))).toBe('s1');
      expect(() => send(client, 1, 'lost')).toThrow();
      expect([client.keyPhase(), client.counters().keyUpdates]).toEqual([0, 0]);
      armed = false;
      const goodbye = send(client, 2, 'goodbye');
      expect(goodbye.phase).toBe(0);
      expect(text(receive(server, goodbye))).toBe('goodbye');
      // The client still reads the server's new phase, and starts no update.
      expect(text(receive(client, send(server, 2, 's2')))).toBe('s2');
      client.acknowledged(2);
      expect(client.initiateKeyUpdate()).toBe(false);
    });

    it('the send keys a key update replaced are kept until the new ones sealed their first packet, then wiped', () => {
      const { client, server } = pair();
      expect(receive(server, send(client, 0, 'c0')).ok).toBe(true);
      expect(receive(client, send(server, 0, 's0')).ok).toBe(true);
      client.acknowledged(0);
      const replaced = client['send'];
      expect(client.initiateKeyUpdate()).toBe(true);
      expect(replaced.secret.some((b) => b !== 0)).toBe(true);
      expect(text(receive(server, send(client, 1, 'c1')))).toBe('c1');
      expect(replaced.secret.every((b) => b === 0)).toBe(true);
    });

    /** A pair one key update in (the client started it, the server followed), with the packets of each phase, none acknowledged yet. */
    const updated = () => {
      const { client, server } = pair({ updateAfterPackets: 4, confidentialityLimit: 1000, integrityLimit: 1000 });
      const old = [0, 1, 2, 3].map((pn) => send(client, pn, `c${pn}`));
      for (const w of old.slice(0, 2)) expect(receive(server, w).ok).toBe(true);
      expect(receive(client, send(server, 0, 's0')).ok).toBe(true);
      client.acknowledged(1);
      expect(client.initiateKeyUpdate()).toBe(true);
      const next = send(client, 4, 'c4');
      expect(next.phase).toBe(1);
      expect(receive(server, next).ok).toBe(true);
      expect(server.keyPhase()).toBe(1);
      // old[2] and old[3] are still on their way: late packets of phase 0.
      return { client, server, late: old.slice(2) };
    };

    it('a follower does not start the next update before the peer acknowledged a packet of the new phase: else its next phase has the bit the peer still reads, and nothing it sends opens again', () => {
      const { client, server } = updated();
      server.discardPreviousKeys();
      // Its own phase-1 packets: the client has not received one (lost, or overtaken).
      const lost = [1, 2, 3, 4, 5].map((pn) => send(server, pn, `s${pn}`));
      expect(lost.every((w) => w.phase === 1)).toBe(true);
      expect(server.keyPhase()).toBe(1);
      expect(server.initiateKeyUpdate()).toBe(false);
      // Had it moved to phase 2 (bit 0), the client, still reading phase 0 (bit 0), would try its old keys.
      server.acknowledged(0);
      expect(server.initiateKeyUpdate()).toBe(false);
      // An acknowledgement of a phase-1 packet: the client holds the keys.
      expect(text(receive(client, lost[0] as Wire))).toBe('s1');
      server.acknowledged(1);
      expect(server.initiateKeyUpdate()).toBe(true);
      // Three probe timeouts after s1 reached it, the client dropped its previous keys (before, it need not have:
      // a peer's next phase is opened only once they are gone or 16 of its current phase opened, attack round 26).
      client.discardPreviousKeys();
      const w = send(server, 6, 's6');
      expect(w.phase).toBe(0);
      expect(text(receive(client, w))).toBe('s6');
    });

    it('the next update waits until the previous receive keys are discarded (RFC 9001 §6.5: late packets of a phase two back would carry the new bit)', () => {
      const { client, server } = updated();
      const w = send(server, 1, 's1');
      expect(text(receive(client, w))).toBe('s1');
      client.acknowledged(4);
      server.acknowledged(1);
      // Both hold the previous phase's receive keys: neither may start phase 2.
      expect(client.holdsPreviousKeys && server.holdsPreviousKeys).toBe(true);
      expect(client.initiateKeyUpdate()).toBe(false);
      expect(server.initiateKeyUpdate()).toBe(false);
      server.discardPreviousKeys();
      expect(server.initiateKeyUpdate()).toBe(true);
      expect(server.counters().keyUpdates).toBe(2);
    });

    it('a peer\'s next update while the previous receive keys are kept and under 16 of its packets of the phase opened is dropped as too old, with no key derived; it opens once they are discarded', () => {
      const { client, server } = updated();
      // A hostile client updates again as soon as its own rules let it, its own previous keys dropped at once.
      expect(text(receive(client, send(server, 1, 's1')))).toBe('s1');
      client.acknowledged(4);
      client.discardPreviousKeys();
      expect(client.initiateKeyUpdate()).toBe(true);
      const again = send(client, 5, 'c5');
      expect(again.phase).toBe(0);
      const before = server.counters();
      expect(receive(server, again)).toEqual({ ok: false, reason: 'too-old' });
      expect(server.counters()).toEqual({ ...before, replays: before.replays + 1 });
      expect(server.keyPhase()).toBe(1);
      // Three probe timeouts on (the core's clock), the keys go, and the same packet, sent again, opens.
      server.discardPreviousKeys();
      const r = receive(server, again);
      expect(r.ok && r.keyUpdated).toBe(true);
      expect(text(r)).toBe('c5');
      expect(server.counters().keyUpdates).toBe(2);
    });

    it('a peer\'s next update while the previous receive keys are kept opens once 16 of its packets of the current phase did (an honest peer seals 32 a phase at least)', () => {
      const { client, server } = updated();
      expect(text(receive(client, send(server, 1, 's1')))).toBe('s1');
      // c4 opened in phase 1, and 14 more: 15. A 16th is late on the path.
      for (let pn = 5; pn < 19; pn++) expect(receive(server, send(client, pn, `c${pn}`)).ok).toBe(true);
      const late = send(client, 19, 'c19');
      client.acknowledged(4);
      client.discardPreviousKeys();
      expect(client.initiateKeyUpdate()).toBe(true);
      const next = send(client, 20, 'c20');
      expect(receive(server, next)).toEqual({ ok: false, reason: 'too-old' });
      expect(text(receive(server, late))).toBe('c19');
      // The previous keys are still kept, yet the update opens now.
      expect(server.holdsPreviousKeys).toBe(true);
      const r = receive(server, next);
      expect(r.ok && r.keyUpdated).toBe(true);
      expect(text(r)).toBe('c20');
    });

    it('a late packet of the previous phase opens while its keys are kept; once discarded it is dropped as too old, with no tag check (not counted a forgery)', () => {
      const { server, late } = updated();
      const [first, second] = late as [Wire, Wire];
      expect(text(receive(server, first))).toBe('c2');
      server.discardPreviousKeys();
      expect(server.holdsPreviousKeys).toBe(false);
      const before = server.counters();
      expect(receive(server, second)).toEqual({ ok: false, reason: 'too-old' });
      expect(server.counters()).toEqual({ ...before, replays: before.replays + 1 });
    });

    it('a key that reaches its confidentiality limit without an update refuses to seal', () => {
      const limits: AeadLimits = { updateAfterPackets: 2, confidentialityLimit: 3, integrityLimit: 1000 };
      const { client } = pair(limits);
      // The peer never sent, so no update may start.
      for (let pn = 0; pn < 3; pn++) send(client, pn, 'x');
      expect(client.seal(Uint8Array.of(0), 3, utf8('x'))).toEqual({ ok: false, reason: 'key-exhausted' });
      expect(sealWhole(client, Uint8Array.of(0), 3, utf8('x'))).toBeUndefined();
    });

    it('sendKeySpent: CLOSE_RESERVE packets before the limit, true when no update may start (the connection must close), else the update starts', () => {
      const limits: AeadLimits = { updateAfterPackets: 1000, confidentialityLimit: CLOSE_RESERVE + 2, integrityLimit: 1000 };
      const { client, server } = pair(limits);
      send(client, 0, 'c0');
      expect(client.sendKeySpent()).toBe(false);
      send(client, 1, 'c1');
      // The peer never sent: no update may start, and the reserve is what is left.
      expect(client.sendKeySpent()).toBe(true);
      expect(client.canSeal).toBe(true);
      for (let pn = 2; pn < CLOSE_RESERVE + 2; pn++) send(client, pn, 'close');
      expect(client.canSeal).toBe(false);
      expect(client.seal(Uint8Array.of(0), CLOSE_RESERVE + 2, utf8('x'))).toEqual({ ok: false, reason: 'key-exhausted' });
      // Another pair where the peer took part: the update starts instead.
      const fresh = pair(limits);
      expect(receive(fresh.server, send(fresh.client, 0, 'c0')).ok).toBe(true);
      send(fresh.client, 1, 'c1');
      expect(receive(fresh.client, send(fresh.server, 0, 's0')).ok).toBe(true);
      fresh.client.acknowledged(0);
      expect(fresh.client.sendKeySpent()).toBe(false);
      expect(fresh.client.keyPhase()).toBe(1);
      expect(server.counters().opened).toBe(0);
    });

    it('reports the integrity limit once that many forgeries arrived', () => {
      const { server } = pair({ updateAfterPackets: 100, confidentialityLimit: 1000, integrityLimit: 3 });
      const forge = (pn: number) => server.open(Uint8Array.of(0), 0, pn, crypto.randomBytes(20));
      expect(forge(1)).toEqual({ ok: false, reason: 'auth' });
      expect(forge(2)).toEqual({ ok: false, reason: 'auth' });
      expect(forge(3)).toEqual({ ok: false, reason: 'integrity-limit' });
    });
  });
}

describe('ReplayWindow', () => {
  it('tracks a window of exactly `size` numbers below the highest', () => {
    const w = new ReplayWindow(64);
    expect(w.mark(100)).toBe(true);
    expect(w.check(37)).toBe('fresh');
    expect(w.check(36)).toBe('too-old');
    expect(w.mark(37)).toBe(true);
    expect(w.check(37)).toBe('duplicate');
    // 101 reuses the slot of 37: moving the top clears it first.
    expect(w.mark(37 + 64)).toBe(true);
    expect(w.check(37 + 64)).toBe('duplicate');
    expect(w.check(100)).toBe('duplicate');
    expect(w.mark(1000)).toBe(true);
    expect(w.check(999)).toBe('fresh');
    expect(w.check(1000 - 64)).toBe('too-old');
    expect(() => new ReplayWindow(33)).toThrow(RangeError);
  });
});

describe('keying-material exporter', () => {
  it('is the same for the same secret, label and context, and differs on any change', () => {
    const secret = crypto.randomBytes(32);
    const a = createExporter(crypto, secret);
    const b = createExporter(crypto, secret.slice());
    const ctx = utf8('token');
    const base = toHex(a.exportKeyingMaterial('forum transfer', ctx, 64));
    expect(toHex(b.exportKeyingMaterial('forum transfer', ctx, 64))).toBe(base);
    expect(base).toHaveLength(128);
    expect(toHex(a.exportKeyingMaterial('forum transfer', utf8('tokeN'), 64))).not.toBe(base);
    expect(toHex(a.exportKeyingMaterial('forum transfeR', ctx, 64))).not.toBe(base);
    expect(toHex(createExporter(crypto, crypto.randomBytes(32)).exportKeyingMaterial('forum transfer', ctx, 64))).not.toBe(base);
    expect(() => a.exportKeyingMaterial('x', ctx, 0)).toThrow(RangeError);
    expect(() => a.exportKeyingMaterial('x', ctx, 9000)).toThrow(RangeError);
  });
});
