/**
 * The key update rules of crypto/packet-protection.ts (RFC 9001 §6.1, §6.5)
 * on one pair of PacketProtections, packet by packet, where the named
 * mutants (scripts/named-mutants-list.mjs, unit tests only) can reach them:
 * an update starts only once the peer acknowledged a packet of the current
 * phase (an acknowledgement of an older packet does not do), and only once
 * the previous receive keys are gone; a late packet whose keys are gone
 * (the previous phase's after the discard, or a phase two back, which
 * carries the current bit again) is dropped as too old, never counted a
 * forgery; a send key within CLOSE_RESERVE packets of its confidentiality
 * limit is updated where an update may start, else spent (the core closes
 * the connection), and seals nothing past the limit (mutants 22f-22j); and a
 * peer's next update is followed only once the previous receive keys are
 * gone or 16 of its packets of the current phase opened (attack round 26:
 * mutants 22k-22o). test/crypto/packet-protection.test.ts runs the same rules
 * through every provider; test/transport-key-update.test.ts in whole
 * connections.
 */
import { describe, expect, it } from 'vitest';
import { utf8 } from '../../src/crypto/bytes.js';
import type { AeadLimits } from '../../src/crypto/aead-limits.js';
import type { CryptoProvider } from '../../src/crypto/crypto-provider.js';
import { CLOSE_RESERVE, type KeyPhase, PacketProtection } from '../../src/crypto/packet-protection.js';
import { nodeCryptoProvider as crypto } from '../../src/node/crypto-provider.js';

/** One key per 4 packets; forgeries far from the integrity limit. */
const LIMITS = { updateAfterPackets: 4, confidentialityLimit: 1000, integrityLimit: 1000 };

interface Wire {
  readonly header: Uint8Array;
  readonly phase: KeyPhase;
  readonly pn: number;
  readonly body: Uint8Array;
}

function pair(limits: AeadLimits = LIMITS): { client: PacketProtection; server: PacketProtection } {
  const c2s = crypto.randomBytes(32);
  const s2c = crypto.randomBytes(32);
  return {
    client: new PacketProtection(crypto, { sendSecret: c2s, receiveSecret: s2c, limits }),
    server: new PacketProtection(crypto, { sendSecret: s2c, receiveSecret: c2s, limits }),
  };
}

function send(from: PacketProtection, pn: number): Wire {
  const phase = from.keyPhase();
  const header = Uint8Array.of(0x40 | phase, pn & 0xff);
  const sealed = from.seal(header, pn, utf8(`packet ${pn}`));
  if (!sealed.ok) throw new Error(sealed.reason);
  return { header, phase, pn, body: sealed.packet };
}

/** `undefined` when `w` opened at `to`, else why it was dropped. */
function receive(to: PacketProtection, w: Wire): string | undefined {
  const r = to.open(w.header, w.phase, w.pn, w.body);
  return r.ok ? undefined : r.reason;
}

/**
 * A pair one update in: the client sent packets 0-3 in phase 0 (packet 2 still on its way), the server
 * sent packet 0 in phase 0, the client started phase 1 with packet 4 and the server followed it (`opened`:
 * the client's packet 0, which the server opened in phase 0). Nothing
 * of the server's phase 1 was sent yet; both still hold their previous receive keys.
 */
function oneUpdateIn(): { client: PacketProtection; server: PacketProtection; late: Wire; opened: Wire } {
  const { client, server } = pair();
  const c = [0, 1, 2, 3].map((pn) => send(client, pn));
  for (const pn of [0, 1, 3]) expect(receive(server, c[pn] as Wire)).toBeUndefined();
  expect(receive(client, send(server, 0))).toBeUndefined();
  client.acknowledged(3);
  expect(client.initiateKeyUpdate()).toBe(true);
  expect(receive(server, send(client, 4))).toBeUndefined();
  expect(server.keyPhase()).toBe(1);
  return { client, server, late: c[2] as Wire, opened: c[0] as Wire };
}

describe('a key update starts only once the peer acknowledged a packet of the current phase (RFC 9001 §6.1)', () => {
  it('a follower with its previous keys gone waits for an acknowledgement of its new phase; one of its older packet does not count', () => {
    const { server } = oneUpdateIn();
    server.discardPreviousKeys();
    const first = send(server, 1);
    expect(first.phase).toBe(1);
    expect(server.initiateKeyUpdate()).toBe(false);
    // Its phase-0 packet 0 acknowledged again (an ACK that also covers older numbers): not a packet of phase 1.
    server.acknowledged(0);
    expect(server.initiateKeyUpdate()).toBe(false);
    expect(server.keyPhase()).toBe(1);
    server.acknowledged(1);
    expect(server.initiateKeyUpdate()).toBe(true);
    expect(server.keyPhase()).toBe(0);
  });

  it('an acknowledgement that came before any packet of the new phase was sealed does not count for it', () => {
    const { server } = oneUpdateIn();
    server.discardPreviousKeys();
    // An ACK taken between following the update and sealing the first packet of the new phase: of older packets only.
    server.acknowledged(0);
    send(server, 6);
    expect(server.initiateKeyUpdate()).toBe(false);
  });
});

describe('the next update waits until the previous receive keys are discarded (RFC 9001 §6.5)', () => {
  it('acknowledged and with the peer on the current phase, a side still holding its previous keys starts no update', () => {
    const { client, server } = oneUpdateIn();
    expect(receive(client, send(server, 1))).toBeUndefined();
    client.acknowledged(4);
    expect(client.holdsPreviousKeys).toBe(true);
    expect(client.initiateKeyUpdate()).toBe(false);
    client.discardPreviousKeys();
    expect(client.holdsPreviousKeys).toBe(false);
    expect(client.initiateKeyUpdate()).toBe(true);
  });
});

describe('a late packet whose keys are gone is dropped as too old, not counted a forgery', () => {
  it('of the previous phase, once its keys are discarded', () => {
    const { server, late } = oneUpdateIn();
    server.discardPreviousKeys();
    expect(receive(server, late)).toBe('too-old');
    expect(server.counters().authFailures).toBe(0);
  });

  it('of the phase two back (the current bit again), while packets of the current phase that came out of order still open', () => {
    const { client, server, late } = oneUpdateIn();
    expect(receive(client, send(server, 1))).toBeUndefined();
    client.acknowledged(4);
    client.discardPreviousKeys();
    expect(client.initiateKeyUpdate()).toBe(true);
    const five = send(client, 5);
    const six = send(client, 6);
    expect(five.phase).toBe(0);
    expect(late.phase).toBe(0);
    // Three probe timeouts on, the server's phase-0 keys are gone: it takes the peer's next phase (before, a
    // second update was taken at once; now only then, or after 16 packets of the current phase: attack round 26).
    server.discardPreviousKeys();
    // Phase 2 reaches the server out of order: 6 first, then 5 (below the first it opened, still phase 2).
    expect(receive(server, six)).toBeUndefined();
    expect(server.counters().keyUpdates).toBe(2);
    expect(receive(server, five)).toBeUndefined();
    // Packet 2 of phase 0 now: the bit of phase 2, numbered below phase 1's packets.
    expect(receive(server, late)).toBe('too-old');
    expect(server.counters().authFailures).toBe(0);
  });
});

/** A provider that counts its HMACs: a key derivation (HKDF) makes several, opening a packet none. */
function counting(): { provider: CryptoProvider; hmacs: () => number } {
  let n = 0;
  const provider: CryptoProvider = {
    ...crypto,
    hmacSha256: (key, ...parts) => {
      n++;
      return crypto.hmacSha256(key, ...parts);
    },
  };
  return { provider, hmacs: () => n };
}

/**
 * The client of a pair `oneUpdateIn` read the server's phase 1 and may start phase 2 at once (its own
 * previous keys dropped, as a hostile peer's would be); the server still holds its phase-0 keys.
 */
function clientMayUpdateAgain(client: PacketProtection, server: PacketProtection): void {
  expect(receive(client, send(server, 1))).toBeUndefined();
  client.acknowledged(4);
  client.discardPreviousKeys();
}

describe("a peer's next update is followed only once the previous receive keys are gone or 16 of its packets of the current phase opened (attack round 26)", () => {
  it('with the previous keys held and one packet of the phase opened, the next phase is dropped as too old with no key derived, nothing counted a forgery; once the keys are discarded the same packet opens', () => {
    const { provider, hmacs } = counting();
    const c2s = crypto.randomBytes(32);
    const s2c = crypto.randomBytes(32);
    const client = new PacketProtection(crypto, { sendSecret: c2s, receiveSecret: s2c, limits: LIMITS });
    const server = new PacketProtection(provider, { sendSecret: s2c, receiveSecret: c2s, limits: LIMITS });
    for (const pn of [0, 1, 2, 3]) expect(receive(server, send(client, pn))).toBeUndefined();
    expect(receive(client, send(server, 0))).toBeUndefined();
    client.acknowledged(3);
    expect(client.initiateKeyUpdate()).toBe(true);
    expect(receive(server, send(client, 4))).toBeUndefined();
    clientMayUpdateAgain(client, server);
    expect(client.initiateKeyUpdate()).toBe(true);
    const next = send(client, 5);
    expect(next.phase).toBe(0);
    const before = server.counters();
    const derived = hmacs();
    expect(receive(server, next)).toBe('too-old');
    expect(hmacs()).toBe(derived);
    expect(server.counters()).toEqual({ ...before, replays: before.replays + 1 });
    expect(server.keyPhase()).toBe(1);
    server.discardPreviousKeys();
    expect(receive(server, next)).toBeUndefined();
    expect(hmacs()).toBeGreaterThan(derived);
    expect(server.counters().keyUpdates).toBe(2);
    expect(server.keyPhase()).toBe(0);
  });

  it('the 16th packet of the phase opened (the first of it counted) lets the next phase open while the previous keys are held; 15 do not', () => {
    const { client, server } = oneUpdateIn();
    // Packet 4 started phase 1 at the server; 5-18 make 15, and 19 (the 16th) is late on the path.
    for (let pn = 5; pn < 19; pn++) expect(receive(server, send(client, pn))).toBeUndefined();
    const late = send(client, 19);
    clientMayUpdateAgain(client, server);
    expect(client.initiateKeyUpdate()).toBe(true);
    const next = send(client, 20);
    expect(receive(server, next)).toBe('too-old');
    expect(receive(server, late)).toBeUndefined();
    expect(server.holdsPreviousKeys).toBe(true);
    expect(receive(server, next)).toBeUndefined();
    expect(server.counters().keyUpdates).toBe(2);
  });

  it('the count starts again at each new phase: packets opened in the phase before do not let the peer update twice in a row', () => {
    const { client, server } = pair();
    // 20 packets of phase 0 open at the server, more than 16.
    for (let pn = 0; pn < 20; pn++) expect(receive(server, send(client, pn))).toBeUndefined();
    expect(receive(client, send(server, 0))).toBeUndefined();
    client.acknowledged(19);
    expect(client.initiateKeyUpdate()).toBe(true);
    // Phase 1: followed at once (the server held no previous keys), and the count of phase 0 is over.
    expect(receive(server, send(client, 20))).toBeUndefined();
    expect(server.keyPhase()).toBe(1);
    expect(receive(client, send(server, 1))).toBeUndefined();
    client.acknowledged(20);
    client.discardPreviousKeys();
    expect(client.initiateKeyUpdate()).toBe(true);
    expect(receive(server, send(client, 21))).toBe('too-old');
    expect(server.counters().keyUpdates).toBe(1);
  });

  it('a packet of the current phase that fails its tag check does not count toward the 16', () => {
    const { client, server } = oneUpdateIn();
    for (let pn = 5; pn < 19; pn++) expect(receive(server, send(client, pn))).toBeUndefined();
    // 15 opened; a forged 16th (its tag altered) fails and must not make it 16.
    const forged = send(client, 19);
    const body = forged.body.slice();
    body[0] = (body[0] as number) ^ 1;
    expect(receive(server, { ...forged, body })).toBe('auth');
    clientMayUpdateAgain(client, server);
    expect(client.initiateKeyUpdate()).toBe(true);
    expect(receive(server, send(client, 20))).toBe('too-old');
  });
});

describe('an authentic copy whose keys are gone (authenticCopy: a server moved to a port it has not validated) is too old, not a forgery', () => {
  /** `authenticCopy` of `w`, into a buffer of its own. */
  const copyOf = (to: PacketProtection, w: Wire) => to.authenticCopy(w.header, w.phase, w.pn, w.body, new Uint8Array(w.body.length - 16));

  it('of the previous phase: a copy while its keys are kept, too old once they are discarded, with no tag check', () => {
    const { server, opened } = oneUpdateIn();
    expect(copyOf(server, opened)).toBe('copy');
    server.discardPreviousKeys();
    expect(copyOf(server, opened)).toBe('too-old');
    // Its bytes need not even be a packet: no tag is checked, nothing counted a forgery.
    expect(copyOf(server, { ...opened, body: new Uint8Array(opened.body.length) })).toBe('too-old');
    expect(server.counters().authFailures).toBe(0);
  });

  it('of the phase two back (the current bit again, numbered below the previous phase)', () => {
    const { client, server, opened } = oneUpdateIn();
    expect(receive(client, send(server, 1))).toBeUndefined();
    client.acknowledged(4);
    client.discardPreviousKeys();
    expect(client.initiateKeyUpdate()).toBe(true);
    // The server's previous keys gone too (as the core does three PTOs on): it follows a second update only then (or after 16 packets).
    server.discardPreviousKeys();
    expect(receive(server, send(client, 5))).toBeUndefined();
    expect(server.counters().keyUpdates).toBe(2);
    expect(opened.phase).toBe(server.keyPhase());
    expect(copyOf(server, opened)).toBe('too-old');
    expect(server.counters().authFailures).toBe(0);
    // A forged copy of a number of the current phase is still a forgery.
    const current = send(client, 6);
    expect(receive(server, current)).toBeUndefined();
    expect(copyOf(server, { ...current, body: new Uint8Array(current.body.length) })).toBe('auth');
    expect(server.counters().authFailures).toBe(1);
  });
});

describe('a send key near its confidentiality limit: updated where it may be, else spent with CLOSE_RESERVE packets left (RFC 9001 §6.6)', () => {
  /** The limit three packets above the reserve; no update before it but the one sendKeySpent starts. */
  const NEAR: AeadLimits = { updateAfterPackets: 1_000_000, confidentialityLimit: CLOSE_RESERVE + 3, integrityLimit: 1000 };

  it('no update possible (the peer sent nothing yet): spent from CLOSE_RESERVE packets before the limit, which those packets may still reach, and nothing past it', () => {
    const { client } = pair(NEAR);
    for (const pn of [0, 1]) send(client, pn);
    expect(client.sendKeySpent()).toBe(false);
    send(client, 2);
    expect(client.sendKeySpent()).toBe(true);
    expect(client.keyPhase()).toBe(0);
    for (let pn = 3; pn < CLOSE_RESERVE + 3; pn++) {
      expect(client.canSeal).toBe(true);
      send(client, pn);
    }
    expect(client.canSeal).toBe(false);
    expect(client.seal(Uint8Array.of(0x40, 0), CLOSE_RESERVE + 3, utf8('past the limit'))).toEqual({ ok: false, reason: 'key-exhausted' });
  });

  it('an update possible: sendKeySpent starts it and is false, once (the new keys are far from their limit); before the peer acknowledged the phase it may not start, and the key is spent', () => {
    const { client, server } = pair(NEAR);
    expect(receive(server, send(client, 0))).toBeUndefined();
    expect(receive(client, send(server, 0))).toBeUndefined();
    for (const pn of [1, 2]) send(client, pn);
    // The peer has not acknowledged packet 0 yet (RFC 9001 §6.1): no update, the key is spent.
    expect(client.sendKeySpent()).toBe(true);
    expect(client.keyPhase()).toBe(0);
    client.acknowledged(0);
    expect(client.sendKeySpent()).toBe(false);
    expect(client.keyPhase()).toBe(1);
    expect(client.sendKeySpent()).toBe(false);
    expect(client.counters().keyUpdates).toBe(1);
    expect(receive(server, send(client, 3))).toBeUndefined();
    expect(server.keyPhase()).toBe(1);
  });
});
