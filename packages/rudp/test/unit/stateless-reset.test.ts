/**
 * The stateless reset's rule, endpoint by endpoint (no simulator): the token a server seals into its
 * hello, the reset a server answers an unknown connection's packet with (bounded, always smaller than
 * what asked for it), and what a client acts on (only its own server's token, from that server's
 * address, once its handshake gave it one). Here, not beside the simulated restart
 * (transport-stateless-reset.test.ts), so the named mutants of the rule (scripts/named-mutants-list.mjs) run it.
 */
import { describe, expect, it } from 'vitest';
import { Endpoint } from '../../src/core/endpoint.js';
import type { EndpointConfig } from '../../src/core/endpoint/endpoint-config.js';
import type { Connection } from '../../src/core/connection.js';
import { nodeCryptoProvider } from '../../src/node/crypto-provider.js';
import { deterministicCrypto } from '../../src/testing/deterministic-crypto.js';
import { createRandom, fillRandomBytes } from '../../src/testing/prng.js';
import { resetSecret, resetToken } from '../../src/crypto/index.js';
import { MAX_PROBED_DATAGRAM, PROTOCOL_VERSION, PacketType, parseHeader } from '../../src/wire/packet.js';
import { MAX_RESET_BYTES, MIN_RESET_BYTES, MIN_RESET_TRIGGER, RESET_TOKEN_BYTES } from '../../src/wire/stateless-reset.js';
import { writeU32 } from '../../src/wire/varint.js';
import { drain } from '../helpers/other-version.js';
import { STATELESS_RESETS_PER_SECOND } from '../../src/core/endpoint/stateless-reset.js';
import { MAX_RESET_BUDGET_HOSTS, RESETS_PER_HOST_PER_MINUTE, RESET_BUDGET_WINDOW_MS } from '../../src/core/endpoint/reset-budget.js';
import { type QuicLbConfig, encodeQuicLbCid, quicLbCidGenerator } from '../../src/wire/quic-lb-cid.js';

const SERVER = '10.0.0.2:4000';
const CLIENT = '10.0.0.1:5000';
const crypto = nodeCryptoProvider;

const identityOf = (byte: number) => {
  const pair = crypto.keyPairFromPrivateKey(new Uint8Array(32).fill(byte));
  if (pair === undefined) throw new Error('no key pair');
  return pair;
};

const endpoint = (seed: number, options: Partial<EndpointConfig> = {}): Endpoint =>
  new Endpoint({ random: createRandom(seed), crypto: deterministicCrypto(crypto, createRandom(seed + 1000)), ...options });
const server = (key = 1, options: Partial<EndpointConfig> = {}): Endpoint => endpoint(2, { acceptIncoming: true, identity: identityOf(key), ...options });

/** Runs the handshake of a new client connection to `s` by hand; the client, its connection and the server's. */
function handshake(s: Endpoint, clientOptions: Partial<EndpointConfig> = {}): { client: Endpoint; conn: Connection; served: Connection } {
  const client = endpoint(1, clientOptions);
  const conn = client.connect(0, SERVER);
  let served: Connection | undefined;
  for (let now = 0; now < 200 && conn.state === 'handshake'; now += 10) {
    for (const d of drain(client, now)) s.handleDatagram(now, d, CLIENT);
    for (let e = s.pollEvent(); e !== undefined; e = s.pollEvent()) if (e.type === 'incoming') served = e.connection;
    for (const d of drain(s, now)) client.handleDatagram(now, d, SERVER);
    for (const ep of [client, s]) {
      const t = ep.pollTimeout();
      if (t !== undefined && t <= now + 10) ep.handleTimeout(now + 10);
    }
  }
  expect(conn.state).toBe('established');
  if (served === undefined) throw new Error('no server connection');
  while (client.pollEvent() !== undefined);
  return { client, conn, served };
}

/** A protected packet of `size` bytes to connection `cid`, its bytes after the header random (as a client's packet looks to a server that cannot open it). */
function protectedTo(cid: number, size: number, seed = 7): Uint8Array {
  const d = fillRandomBytes(createRandom(seed), new Uint8Array(size));
  d[0] = (PROTOCOL_VERSION << 4) | PacketType.Protected0;
  writeU32(d, 1, cid);
  return d;
}

/** The token server key `key` gives connection id `cid` for a client at CLIENT's host. */
const tokenOf = (key: number, cid: number, host = '10.0.0.1'): Uint8Array => resetToken(crypto, resetSecret(crypto, identityOf(key)), cid, host);
const lastBytes = (d: Uint8Array): Uint8Array => d.subarray(d.length - RESET_TOKEN_BYTES);
/** The token `conn` holds, as bytes (it keeps them as a one-byte string). */
const held = (conn: Connection): Uint8Array | undefined => (conn.resetToken === undefined ? undefined : Uint8Array.from(conn.resetToken, (c) => c.charCodeAt(0)));

describe('stateless reset: the token', () => {
  it("the server's sealed hello gives the client the token of the id it reaches the server by, derived from the identity key (not the key itself)", () => {
    const { conn, served } = handshake(server(1));
    expect(held(conn)).toEqual(tokenOf(1, served.localCid));
    expect(held(conn)).not.toEqual(tokenOf(2, served.localCid));
    // Keyed with the identity key itself, a token would be an HMAC under the key every handshake uses.
    expect(held(conn)).not.toEqual(resetToken(crypto, identityOf(1).privateKey, served.localCid, '10.0.0.1'));
    // The server side holds none: nothing can end it with one.
    expect(served.resetToken).toBeUndefined();
  });

  it('a plaintext connection has none', () => {
    const { conn } = handshake(endpoint(2, { acceptIncoming: true, plaintext: true, crypto: undefined }), { plaintext: true, crypto: undefined });
    expect(conn.resetToken).toBeUndefined();
  });
});

describe('stateless reset: the server side', () => {
  it('a server with the same identity key answers a packet of a connection it does not know with a reset ending in that id\'s token, smaller than the packet', () => {
    const restarted = server(1);
    for (const size of [MIN_RESET_TRIGGER, 30, 60, 1_200, MAX_PROBED_DATAGRAM]) {
      restarted.handleDatagram(0, protectedTo(0xabcdef01, size), CLIENT);
      const answers = drain(restarted, 0);
      expect(answers.length).toBe(1);
      const reset = answers[0] as Uint8Array;
      expect(lastBytes(reset)).toEqual(tokenOf(1, 0xabcdef01));
      expect(reset.length).toBeLessThan(size);
      expect(reset.length).toBeGreaterThanOrEqual(MIN_RESET_BYTES);
      expect(reset.length).toBeLessThanOrEqual(MAX_RESET_BYTES);
      // It passes for a protected packet of our version.
      const h = parseHeader(reset);
      expect(typeof h === 'string' ? h : h.type === PacketType.Protected0 || h.type === PacketType.Protected1).toBe(true);
    }
    expect(restarted.stats().statelessResetsSent).toBe(5);
    expect(restarted.stats().dropped.unknownConnection).toBe(5);
  });

  it("a reset asked for from another host carries that host's token, not the client's: nobody collects a client's token from elsewhere", () => {
    const { client, conn, served } = handshake(server(1));
    const restarted = server(1);
    restarted.handleDatagram(300, protectedTo(served.localCid, 60), '10.9.9.9:5000');
    const elsewhere = drain(restarted, 300)[0] as Uint8Array;
    expect(lastBytes(elsewhere)).toEqual(tokenOf(1, served.localCid, '10.9.9.9'));
    expect(lastBytes(elsewhere)).not.toEqual(held(conn));
    client.handleDatagram(300, elsewhere, SERVER);
    expect(conn.state).toBe('established');
    // From the client's host, another port (a NAT rebinding): the same token.
    restarted.handleDatagram(300, protectedTo(served.localCid, 60), '10.0.0.1:6000');
    expect(lastBytes(drain(restarted, 300)[0] as Uint8Array)).toEqual(held(conn));
  });

  it('every reset is smaller than its trigger, whatever the random size drawn', () => {
    const s = server(1);
    for (let size = MIN_RESET_TRIGGER; size < MIN_RESET_TRIGGER + 40; size++) {
      // From as many hosts: one host's budget would answer only a few.
      for (let k = 0; k < 20; k++) s.handleDatagram(0, protectedTo(0x100 + k, size, size * 100 + k), `10.0.${size}.${k}:5000`);
      const resets = drain(s, 0);
      expect(resets.length).toBe(20);
      for (const reset of resets) expect(reset.length).toBeLessThan(size);
    }
  });

  it('answers nothing smaller than the minimum (so two endpoints cannot answer each other for ever), no plain DATA, and a client endpoint answers nothing', () => {
    const s = server(1);
    for (let size = 11; size < MIN_RESET_TRIGGER; size++) s.handleDatagram(0, protectedTo(0x1234, size), CLIENT);
    expect(drain(s, 0)).toEqual([]);
    // A reset, the smallest there is, is itself never answered.
    s.handleDatagram(0, protectedTo(0x1234, MIN_RESET_BYTES), CLIENT);
    expect(drain(s, 0)).toEqual([]);
    const bystander = endpoint(3);
    bystander.handleDatagram(0, protectedTo(0x1234, 100), SERVER);
    expect(drain(bystander, 0)).toEqual([]);
    expect(bystander.stats().statelessResetsSent).toBe(0);
  });

  it('answers a spoofed flood within its stateless queue', () => {
    const s = server(1, { maxStatelessQueue: 4 });
    for (let i = 0; i < 50; i++) s.handleDatagram(0, protectedTo(0x1000 + i, 200, i), `10.0.1.${i}:5000`);
    expect(drain(s, 0).length).toBe(4);
    expect(s.stats().dropped.statelessQueueFull).toBe(46);
    expect(s.stats().statelessResetsSent).toBe(4);
  });

  it('sends at most STATELESS_RESETS_PER_SECOND resets: a spoofed flood of 24-byte junk costs the server an HMAC and a datagram for only so many', () => {
    // A queue drained after every datagram, as a socket keeps it: the queue alone bounds nothing then.
    const s = server(1);
    let answered = 0;
    const flood = (now: number, n: number): void => {
      for (let i = 0; i < n; i++) {
        s.handleDatagram(now, protectedTo(0x10000 + i, MIN_RESET_TRIGGER, i), `10.0.2.${i % 250}:5000`);
        answered += drain(s, now).length;
      }
    };
    flood(0, 3 * STATELESS_RESETS_PER_SECOND);
    expect(answered).toBe(STATELESS_RESETS_PER_SECOND);
    expect(s.stats().statelessResetsLimited).toBe(2 * STATELESS_RESETS_PER_SECOND);
    // Half a second later, half the budget is back; a second later, all of it and no more.
    flood(500, STATELESS_RESETS_PER_SECOND);
    expect(answered).toBe(1.5 * STATELESS_RESETS_PER_SECOND);
    flood(5_000, 3 * STATELESS_RESETS_PER_SECOND);
    expect(answered).toBe(2.5 * STATELESS_RESETS_PER_SECOND);
    expect(s.stats().statelessResetsSent).toBe(answered);
    // Every datagram was counted, answered or not.
    expect(s.stats().dropped.unknownConnection).toBe(7 * STATELESS_RESETS_PER_SECOND);
  });

  it('a server connection acts on no reset: a datagram ending in its own token, from its client, is an unauthenticated packet', () => {
    const s = server(1);
    const { served } = handshake(s);
    const forged = protectedTo(served.localCid, 40);
    forged.set(tokenOf(1, served.localCid), forged.length - RESET_TOKEN_BYTES);
    s.handleDatagram(300, forged, CLIENT);
    expect(served.state).toBe('established');
    expect(s.stats().dropped.auth).toBe(1);
    expect(s.stats().statelessResetsReceived).toBe(0);
  });
});

/** A datagram from the server's address ending in `token`. */
const endingIn = (token: Uint8Array): Uint8Array => {
  const d = protectedTo(0x77, 40);
  d.set(token, d.length - RESET_TOKEN_BYTES);
  return d;
};
const resetFor = (c: Connection): Uint8Array => endingIn(held(c) as Uint8Array);

/** One client endpoint with three connections to one server, each holding its token (so indexed). */
function threeConnections(clientOptions: Partial<EndpointConfig> = {}): { client: Endpoint; conns: Connection[]; served: Connection[] } {
  const s = server(1);
  const client = endpoint(1, clientOptions);
  const conns: Connection[] = [];
  const served: Connection[] = [];
  for (let i = 0; i < 3; i++) conns.push(client.connect(0, SERVER));
  for (let now = 0; now < 300 && conns.some((c) => c.state === 'handshake'); now += 10) {
    for (const d of drain(client, now)) s.handleDatagram(now, d, CLIENT);
    for (let e = s.pollEvent(); e !== undefined; e = s.pollEvent()) if (e.type === 'incoming') served.push(e.connection);
    for (const d of drain(s, now)) client.handleDatagram(now, d, SERVER);
    for (const ep of [client, s]) {
      const t = ep.pollTimeout();
      if (t !== undefined && t <= now + 10) ep.handleTimeout(now + 10);
    }
  }
  expect(conns.map((c) => c.state)).toEqual(['established', 'established', 'established']);
  return { client, conns, served };
}

describe('stateless reset: the client side', () => {
  it("the restarted server's reset ends the connection at once, kind 'reset', and nothing is sent back", () => {
    const { client, conn, served } = handshake(server(1));
    const restarted = server(1);
    restarted.handleDatagram(300, protectedTo(served.localCid, 60), CLIENT);
    const reset = drain(restarted, 300)[0] as Uint8Array;
    client.handleDatagram(300, reset, SERVER);
    expect(conn.state).toBe('closed');
    expect(conn.closeReason).toEqual({ kind: 'reset', code: 0, message: `the server at ${SERVER} no longer knows this connection (stateless reset): it was restarted, or lost the connection` });
    expect(client.stats().statelessResetsReceived).toBe(1);
    expect(drain(client, 300)).toEqual([]);
    const closed = [];
    for (let e = client.pollEvent(); e !== undefined; e = client.pollEvent()) if (e.type === 'closed') closed.push(e.reason.kind);
    expect(closed).toEqual(['reset']);
  });

  it("ignores a reset from a server with another identity key, from another address, or with the token's last byte wrong", () => {
    const { client, conn, served } = handshake(server(1));
    const other = server(2);
    other.handleDatagram(300, protectedTo(served.localCid, 60), CLIENT);
    client.handleDatagram(300, drain(other, 300)[0] as Uint8Array, SERVER);
    const restarted = server(1);
    restarted.handleDatagram(300, protectedTo(served.localCid, 60), CLIENT);
    const reset = drain(restarted, 300)[0] as Uint8Array;
    client.handleDatagram(300, reset, '10.0.0.3:4000');
    const lastWrong = Uint8Array.from(reset);
    lastWrong[lastWrong.length - 1] = (lastWrong[lastWrong.length - 1] as number) ^ 0x80;
    client.handleDatagram(300, lastWrong, SERVER);
    expect(conn.state).toBe('established');
    expect(client.stats().statelessResetsReceived).toBe(0);
    // The genuine one still works.
    client.handleDatagram(300, reset, SERVER);
    expect(conn.state).toBe('closed');
  });

  it('a connection still in its handshake has no token, and no reset ends it', () => {
    const s = server(1);
    const client = endpoint(1);
    const conn = client.connect(0, SERVER);
    for (const d of drain(client, 0)) s.handleDatagram(0, d, CLIENT);
    for (const d of drain(s, 0)) client.handleDatagram(0, d, SERVER);
    expect(conn.state).toBe('handshake');
    // Every token this server could have sent: none of them is the attempt's.
    for (let cid = 1; cid < 50; cid++) {
      const d = protectedTo(cid, 60);
      d.set(tokenOf(1, cid), d.length - RESET_TOKEN_BYTES);
      client.handleDatagram(1, d, SERVER);
    }
    expect(conn.state).toBe('handshake');
    expect(client.stats().statelessResetsReceived).toBe(0);
  });

  it('a client endpoint of several connections ends the one the token names, and none once it is gone', () => {
    const { client, conns, served } = threeConnections();
    const [a, b, c] = conns as [Connection, Connection, Connection];
    client.handleDatagram(400, resetFor(b), SERVER);
    expect(conns.map((x) => x.state)).toEqual(['established', 'closed', 'established']);
    // Gone from the index with the connection: its reset again ends nothing, and is dropped.
    while (client.pollEvent() !== undefined);
    drain(client, 400);
    client.handleDatagram(401, resetFor(b), SERVER);
    expect(client.stats().statelessResetsReceived).toBe(1);
    client.handleDatagram(402, resetFor(c), SERVER);
    expect([a.state, c.state]).toEqual(['established', 'closed']);
    // The first, indexed alone until the second came, was moved into the index then.
    client.handleDatagram(403, resetFor(a), SERVER);
    expect(a.state).toBe('closed');
    expect(client.stats().statelessResetsReceived).toBe(3);
    expect(served.length).toBe(3);
  });

  it('the client knows every reset its restarted server sends, whatever its size (23 to 48 bytes) and random bytes', () => {
    const { client, conn, served } = handshake(server(1));
    const restarted = server(1);
    const sizes = new Set<number>();
    const rnd = createRandom(11);
    for (let i = 0; i < 400; i++) {
      // The host's budget a minute, then the next minute's.
      const now = 300 + Math.floor(i / RESETS_PER_HOST_PER_MINUTE) * RESET_BUDGET_WINDOW_MS;
      restarted.handleDatagram(now, protectedTo(served.localCid, MIN_RESET_TRIGGER + (rnd() % 1400), i), CLIENT);
      const reset = drain(restarted, now)[0] as Uint8Array;
      sizes.add(reset.length);
      // Its events unread, the closed connection stays indexed: each reset is counted as its.
      client.handleDatagram(now, reset, SERVER);
      expect(client.stats().statelessResetsReceived).toBe(i + 1);
    }
    expect(conn.closeReason?.kind).toBe('reset');
    expect(sizes.size).toBe(MAX_RESET_BYTES - MIN_RESET_BYTES + 1);
    expect(client.stats().droppedTotal).toBe(0);
  });

  it("the index a client endpoint of several connections finds a token by tells nothing of the token's bytes: a datagram ending in a token's first twelve bytes is compared with none", () => {
    // Keyed by the token's first four bytes, a datagram that had them found the list and was compared with its token:
    // a lookup that took longer told whoever timed it that four bytes were right (RFC 9000 §10.3.1).
    const { client, conns } = threeConnections();
    const b = conns[1] as Connection;
    const token = held(b) as Uint8Array;
    for (let wrong = 4; wrong < RESET_TOKEN_BYTES; wrong++) {
      const guess = token.slice();
      guess[wrong] = (guess[wrong] as number) ^ 0x01;
      const before = client.resetTokens.compared;
      client.handleDatagram(400, endingIn(guess), SERVER);
      expect(client.resetTokens.compared - before).toBe(0);
    }
    expect(b.state).toBe('established');
    // The token itself is found, and compared once.
    const before = client.resetTokens.compared;
    client.handleDatagram(401, resetFor(b), SERVER);
    expect(client.resetTokens.compared - before).toBe(1);
    expect(b.state).toBe('closed');
  });

  it('a datagram no connection takes costs a client endpoint of several connections no call into its crypto provider, from its server\'s address or any other', () => {
    // Every such datagram is looked up, from any address: an HMAC-SHA256 through the provider for each took
    // some 8 µs, a hundred times the rest of its path, for whoever sent junk (README, "Stateless reset").
    let calls = 0;
    const base = deterministicCrypto(crypto, createRandom(1001));
    const counting = Object.fromEntries(
      Object.entries(base).map(([name, value]) => [name, typeof value === 'function' ? (...args: unknown[]) => (calls++, (value as (...a: unknown[]) => unknown)(...args)) : value]),
    ) as unknown as typeof base;
    const { client, conns } = threeConnections({ crypto: counting });
    const b = conns[1] as Connection;
    const rnd = createRandom(12);
    const before = calls;
    for (let i = 0; i < 100; i++) {
      client.handleDatagram(400, protectedTo(0x5000 + i, 24 + (rnd() % 1000), i), SERVER);
      client.handleDatagram(400, protectedTo(0x6000 + i, 24 + (rnd() % 1000), i), '10.9.9.9:4000');
    }
    expect(client.stats().dropped.unknownConnection).toBe(200);
    // The reset itself as well.
    client.handleDatagram(401, resetFor(b), SERVER);
    expect(b.state).toBe('closed');
    expect(calls - before).toBe(0);
  });

  it('a reset naming a live connection id of the client (its id field is random) is taken as well', () => {
    const { client, conn, served } = handshake(server(1));
    const d = protectedTo(conn.localCid, 60);
    d.set(tokenOf(1, served.localCid), d.length - RESET_TOKEN_BYTES);
    client.handleDatagram(300, d, SERVER);
    expect(conn.state).toBe('closed');
    expect(conn.closeReason?.kind).toBe('reset');
    expect(client.stats().dropped.auth).toBe(0);
  });
});

describe('stateless reset: the budget of a client host', () => {
  /** Asks `s` at `now`, from `from`, for the reset of `cid`; the resets it answers with. */
  const ask = (s: Endpoint, now: number, from: string, cid: number): Uint8Array[] => {
    s.handleDatagram(now, protectedTo(cid, 60, cid), from);
    return drain(s, now);
  };

  it('a host gets RESETS_PER_HOST_PER_MINUTE resets a minute from whatever ports it asks (an IPv6 host: its /64), no more, and as many again the next minute; another host is not held back', () => {
    const s = server(1);
    let got = 0;
    for (let i = 0; i < 100; i++) got += ask(s, i, `10.0.0.1:${5000 + i}`, 0x5000 + i).length;
    expect(got).toBe(RESETS_PER_HOST_PER_MINUTE);
    expect(s.stats().statelessResetsSent).toBe(RESETS_PER_HOST_PER_MINUTE);
    expect(s.stats().statelessResetsHostLimited).toBe(100 - RESETS_PER_HOST_PER_MINUTE);
    expect(s.stats().statelessResetsLimited).toBe(0);
    expect(ask(s, 200, '10.0.0.3:5000', 0x6000).length).toBe(1);
    let v6 = 0;
    for (let i = 0; i < 100; i++) v6 += ask(s, 300 + i, `[2001:db8:0:1::${(i + 1).toString(16)}]:5000`, 0x7000 + i).length;
    expect(v6).toBe(RESETS_PER_HOST_PER_MINUTE);
    expect(ask(s, 500, '[2001:db8:0:2::1]:5000', 0x8000).length).toBe(1);
    // A minute after its first: as many again, no more.
    got = 0;
    for (let i = 0; i < 100; i++) got += ask(s, RESET_BUDGET_WINDOW_MS + i, `10.0.0.1:${7000 + i}`, 0x9000 + i).length;
    expect(got).toBe(RESETS_PER_HOST_PER_MINUTE);
  });

  it("a client behind its neighbour's NAT address cannot collect the neighbour's token: asking for all 65,536 ids of a cluster server's QUIC-LB layout at the endpoint's whole rate gets it 32 tokens in 65 s, where it got every one", () => {
    const config: QuicLbConfig = { configRotation: 0, serverIdBytes: 1, selfEncodeLength: true };
    // The neighbour, at CLIENT (10.0.0.1:5000), is served by server 7 of a cluster sharing one identity key.
    const { conn: neighbour } = handshake(server(1, { connectionIds: quicLbCidGenerator(config, 7) }));
    const wanted = Array.from(held(neighbour) as Uint8Array).join();
    // The collector, at the same NAT address, another port, asks another process holding the key (a server
    // of the cluster, or this one restarted) for each id server 7 can give out, one a millisecond.
    const other = server(1, { connectionIds: quicLbCidGenerator(config, 7) });
    const collected = new Set<string>();
    for (let nonce = 0; nonce < 2 ** 16; nonce++) {
      for (const reset of ask(other, nonce, '10.0.0.1:6000', encodeQuicLbCid(config, 7, nonce))) collected.add(Array.from(lastBytes(reset)).join());
    }
    expect(collected.has(wanted)).toBe(false);
    // Two minutes' budgets (the first minute's and the one begun at 60 s): at that pace all 65,536 take 4,096 minutes (68 hours).
    expect(collected.size).toBe(2 * RESETS_PER_HOST_PER_MINUTE);
    expect(other.stats().statelessResetsHostLimited).toBe(2 ** 16 - 2 * RESETS_PER_HOST_PER_MINUTE);
  });

  it("a host past its budget asking on at a flood's pace has its address parsed at most STATELESS_RESETS_PER_SECOND times a second, not for every datagram", () => {
    // Each refusal counted statelessResetsHostLimited parsed the address (hostKey: some 2 µs for an IPv6 one);
    // those counted statelessResetsLimited were refused before it.
    const s = server(1);
    for (const now of [0, 1000, 2000]) {
      for (let i = 0; i < 5 * STATELESS_RESETS_PER_SECOND; i++) ask(s, now, `[2001:db8:0:1:${(i & 0xffff).toString(16)}::1]:${1024 + (i % 60_000)}`, 0x10000 + i);
    }
    const st = s.stats();
    expect(st.statelessResetsSent).toBe(RESETS_PER_HOST_PER_MINUTE);
    expect(st.statelessResetsSent + st.statelessResetsHostLimited).toBe(3 * STATELESS_RESETS_PER_SECOND);
    expect(st.statelessResetsLimited).toBe(12 * STATELESS_RESETS_PER_SECOND);
  });

  it("a clock set back (a driver's wall clock) holds a host to its budget for a minute of the clock's running, not a minute and the hour it went back", () => {
    const s = server(1);
    const t = 10 * 3_600_000;
    let got = 0;
    for (let i = 0; i < 20; i++) got += ask(s, t, `10.0.0.1:${5000 + i}`, 0x5000 + i).length;
    expect(got).toBe(RESETS_PER_HOST_PER_MINUTE);
    // Set back an hour: no fresh budget for it, and the minute goes on from where the clock is now.
    const back = t - 3_600_000;
    expect(ask(s, back, '10.0.0.1:6000', 0x6000).length).toBe(0);
    expect(ask(s, back + RESET_BUDGET_WINDOW_MS - 1, '10.0.0.1:6001', 0x6001).length).toBe(0);
    got = 0;
    for (let i = 0; i < 20; i++) got += ask(s, back + RESET_BUDGET_WINDOW_MS, `10.0.0.1:${7000 + i}`, 0x7000 + i).length;
    expect(got).toBe(RESETS_PER_HOST_PER_MINUTE);
  });

  it("a clock set back (a driver's wall clock) stops the endpoint's reset rate refilling for no longer than the clock then runs", () => {
    const s = server(1);
    const t = 10 * 3_600_000;
    let answered = 0;
    // The whole rate spent at once, from as many hosts.
    for (let i = 0; i < 2 * STATELESS_RESETS_PER_SECOND; i++) answered += ask(s, t, `10.1.${i >> 8}.${i & 255}:5000`, 0x100 + i).length;
    expect(answered).toBe(STATELESS_RESETS_PER_SECOND);
    const back = t - 3_600_000;
    expect(ask(s, back, '10.2.0.1:5000', 0x9000).length).toBe(0);
    // A second of the clock's running later, a second's resets again.
    answered = 0;
    for (let i = 0; i < 2 * STATELESS_RESETS_PER_SECOND; i++) answered += ask(s, back + 1000, `10.3.${i >> 8}.${i & 255}:5000`, 0x100 + i).length;
    expect(answered).toBe(STATELESS_RESETS_PER_SECOND);
  });

  it('is bounded under a flood of spoofed sources, and a full table forgets nobody: a counted host keeps its count, a new one waits for the next minute', () => {
    const s = server(1);
    let answered = 0;
    // A new source every millisecond, at the endpoint's whole rate, for 20 s.
    const source = (i: number): string => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:5000`;
    for (let i = 0; i < 20_000; i++) answered += ask(s, i, source(i), 0x100 + (i & 0xff)).length;
    expect(answered).toBe(MAX_RESET_BUDGET_HOSTS);
    expect(s.resetBudget?.size).toBe(MAX_RESET_BUDGET_HOSTS);
    expect(s.stats().statelessResetsHostLimited).toBe(20_000 - MAX_RESET_BUDGET_HOSTS);
    // A host counted before the table filled has the rest of its budget, and no more.
    let first = 0;
    for (let k = 0; k < 100; k++) first += ask(s, 20_000 + k, source(0), 0x5000 + k).length;
    expect(first).toBe(RESETS_PER_HOST_PER_MINUTE - 1);
    expect(ask(s, 20_200, '10.200.0.1:5000', 0x6000).length).toBe(0);
    expect(s.resetBudget?.size).toBe(MAX_RESET_BUDGET_HOSTS);
    // The next minute, the table starts again.
    expect(ask(s, RESET_BUDGET_WINDOW_MS, '10.200.0.1:5000', 0x6000).length).toBe(1);
    expect(s.resetBudget?.size).toBe(1);
  });
});
