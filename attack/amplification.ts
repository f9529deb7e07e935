/**
 * Attack round 24, item (c): what a server sends to an address for what it received from it, in the seeded
 * simulator (rudpx's core Endpoint, defaults, encrypted unless said).
 *
 *   npx tsx attack/amplification.ts [datagrams=20000] [seed=24]
 *
 * Part 1, unvalidated addresses: `datagrams` datagrams spread over 500 spoofed addresses (none of them a node of
 * the simulator, so nothing answers the server), each drawn from: INITIALs of every size (with no token, a random
 * token, a cookie minted for another address, a cookie replayed from the genuine client), INITIALs of every other
 * version and size, PROTECTED packets of every size to unknown connection ids (stateless resets) and to the live
 * connection id (sealed junk), DATA packets, RETRY, ACCEPT and VERSION packets, the genuine client's sealed packets
 * replayed from the spoofed address (migration, held to 3x until the address echoes a challenge), random bytes.
 * Per address: bytes sent to it over bytes received from it, with the live connection between a genuine client and
 * the server idle-echoing throughout. A ratio over 3 is a finding.
 *
 * Part 2, a draining connection: the server closes a connection (a reason of 6 or 200 bytes), the client is gone,
 * and the attacker sends the smallest DATA packets that name the connection, from the client's address, numbered
 * upwards, 1,000 a second for the drain: plaintext (they are taken as the client's) and encrypted (sealed
 * junk, and the client's last genuine packets replayed). Bytes sent to the client's address over bytes received.
 *
 * Part 3, an established plaintext connection: the client is gone and the attacker sends 14-byte PING packets
 * naming the connection from the client's address, 1,000 a second for 1 s, numbered 1 apart (in order) or 2 apart
 * (each leaves a gap, so each is acknowledged at once, with up to 32 ranges). Bytes sent to the client's address.
 */
import { Endpoint } from '../packages/rudp/src/core/endpoint.js';
import type { Connection } from '../packages/rudp/src/core/connection.js';
import type { PeerAddress } from '../packages/rudp/src/core/sans-io.js';
import { nodeCryptoProvider } from '../packages/rudp/src/node/crypto-provider.js';
import { SimNetwork } from '../packages/rudp/src/testing/sim-network.js';
import { deterministicCrypto } from '../packages/rudp/src/testing/deterministic-crypto.js';
import { crc32c } from '../packages/rudp/src/wire/crc32c.js';
import { AcceptKind, MAX_PROBED_DATAGRAM, PROTOCOL_VERSION, PacketType, PacketWriter, encodeAccept, encodeInitial, encodeRetry } from '../packages/rudp/src/wire/packet.js';
import { encodeVersionPacket } from '../packages/rudp/src/wire/version-packet.js';
import { mulberry32 } from './lib-random.js';

const total = Number(process.argv[2] ?? 20_000);
const seed = Number(process.argv[3] ?? 24);
const CLIENT = '10.0.0.1:5000';
const SERVER = '10.0.0.2:4000';

const rnd = mulberry32(seed);
const int = (n: number): number => Math.floor(rnd() * n);
const pick = <A>(xs: readonly A[]): A => xs[int(xs.length)] as A;
const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => int(256));
const te = new TextEncoder();

interface Pair {
  readonly sim: SimNetwork;
  readonly client: Endpoint;
  readonly server: Endpoint;
  readonly conn: Connection;
  serverConn: Connection | undefined;
  /** The client's datagrams as sent. */
  readonly sent: Uint8Array[];
}

const makePair = (plaintext: boolean, n: number): Pair => {
  const sim = new SimNetwork({ seed: 2400 + n, defaultLink: { delayMs: 10, jitterMs: 1 } });
  const options = (label: string): { plaintext: true } | { crypto: ReturnType<typeof deterministicCrypto> } => (plaintext ? { plaintext: true } : { crypto: deterministicCrypto(nodeCryptoProvider, sim.random(label)) });
  const client = new Endpoint({ random: sim.random('client'), ...options('client-crypto') });
  const server = new Endpoint({ random: sim.random('server'), acceptIncoming: true, ...options('server-crypto') });
  const sent: Uint8Array[] = [];
  const poll = client.pollTransmit.bind(client);
  client.pollTransmit = (now) => {
    const t = poll(now);
    if (t !== undefined) sent.push(t.data.slice());
    return t;
  };
  const pair: Pair = { sim, client, server, conn: client.connect(0, SERVER), serverConn: undefined, sent };
  sim.addNode(SERVER, server, {
    onActivity: () => {
      for (let e = server.pollEvent(); e; e = server.pollEvent()) {
        if (e.type === 'incoming') pair.serverConn = e.connection;
        if (e.type === 'message' && pair.serverConn?.state === 'established') pair.serverConn.send(e.data);
      }
    },
  });
  sim.addNode(CLIENT, client, { onActivity: () => void (() => { for (let e = client.pollEvent(); e; e = client.pollEvent()); })() });
  sim.wake(CLIENT);
  return pair;
};

/** A plain packet's checksum made good over its body. */
const withCrc = (body: Uint8Array): Uint8Array => {
  const out = new Uint8Array(body.length + 4);
  out.set(body);
  new DataView(out.buffer).setUint32(body.length, crc32c(body, 0, body.length));
  return out;
};

// ---------------------------------------------------------------- part 1
{
  const p = makePair(false, 0);
  p.sim.runUntil(200);
  for (let i = 0; i < 5; i++) p.conn.send(te.encode(`hello ${i} ${'x'.repeat(i * 400)}`));
  p.sim.wake(CLIENT);
  p.sim.runUntil(500);
  const live = p.serverConn as Connection;
  const cookieInitial = p.sent.find((d) => ((d[0] as number) & 0x07) === PacketType.Initial && d.length >= 1200 && p.sent.indexOf(d) > 0) as Uint8Array;
  const sealed = p.sent.filter((d) => ((d[0] as number) & 0x07) === PacketType.Protected0 || ((d[0] as number) & 0x07) === PacketType.Protected1);
  const victims = Array.from({ length: 500 }, (_, i) => (i % 50 === 0 ? `10.0.0.1:${6000 + i}` : `198.51.${i >> 8}.${i & 255}:${1024 + int(60000)}`));
  const received = new Map<string, number>();
  const kinds = new Map<string, { count: number; bytes: number }>();
  // Another client's cookie, minted for its address: replayed from the victims'.
  const other = makePair(false, 1);
  other.sim.runUntil(100);
  const foreignCookie = other.sent.find((d, i) => i > 0 && ((d[0] as number) & 0x07) === PacketType.Initial) as Uint8Array;
  const buf = new Uint8Array(MAX_PROBED_DATAGRAM);
  const one = (): [string, Uint8Array] => {
    const kind = pick(['initial', 'initial-token', 'initial-foreign-cookie', 'initial-replayed-cookie', 'initial-other-version', 'protected-unknown', 'protected-live', 'data', 'retry', 'accept', 'version', 'replay-sealed', 'random'] as const);
    switch (kind) {
      case 'initial': {
        const size = pick([1199, 1200, 1300, 1472]);
        return [kind, padTo(encodeInitial(buf, int(65536), { scid: 1 + int(2 ** 31), token: new Uint8Array(0), params: { receiveWindow: 1 << 20, initialLimit: 1 << 20 }, hello: bytes(int(2) === 0 ? 0 : 80) }).slice(), size)];
      }
      case 'initial-token':
        return [kind, padTo(encodeInitial(buf, int(65536), { scid: 1 + int(2 ** 31), token: bytes(1 + int(64)), params: { receiveWindow: 1 << 20, initialLimit: 1 << 20 }, hello: bytes(80) }).slice(), 1200)];
      case 'initial-foreign-cookie':
        return [kind, foreignCookie];
      case 'initial-replayed-cookie':
        return [kind, cookieInitial];
      case 'initial-other-version': {
        const d = padTo(encodeInitial(buf, int(65536), { scid: 1 + int(2 ** 31), token: new Uint8Array(0), params: { receiveWindow: 1 << 20, initialLimit: 1 << 20 }, hello: bytes(80) }).slice(), pick([24, 100, 1199, 1200, 1472]));
        let v = 1 + int(15);
        if (v === PROTOCOL_VERSION) v = 4;
        d[0] = (v << 4) | ((d[0] as number) & 0x0f);
        return [kind, withCrc(d.subarray(0, d.length - 4))];
      }
      case 'protected-unknown':
      case 'protected-live': {
        const w = new PacketWriter(buf, pick([PacketType.Protected0, PacketType.Protected1]), kind === 'protected-live' ? live.localCid : 1 + int(2 ** 31), int(2 ** 32), pick([2, 4] as const));
        w.bytes(bytes(pick([0, 1, 8, 9, 20, 100, 1000, 1200])));
        return [kind, Uint8Array.from([...w.buf.subarray(0, w.pos), ...bytes(16)])];
      }
      case 'data': {
        const w = new PacketWriter(buf, PacketType.Data, int(2) === 0 ? live.localCid : int(2 ** 32), int(2 ** 32));
        w.u8(1);
        w.bytes(new Uint8Array(int(1000)));
        return [kind, w.finish().slice()];
      }
      case 'retry':
        return [kind, encodeRetry(buf, int(2 ** 32), bytes(int(65))).slice()];
      case 'accept':
        return [kind, encodeAccept(buf, int(2 ** 32), { scid: int(2 ** 32), params: { receiveWindow: 1 << 20, initialLimit: 1 << 20 }, kind: pick([0, 1, 2, 3]) as AcceptKind, handshake: bytes(int(300)) }).slice()];
      case 'version':
        return [kind, encodeVersionPacket(int(2 ** 32), [1 + int(15)])];
      case 'replay-sealed':
        return [kind, pick(sealed)];
      case 'random':
        return [kind, bytes(int(MAX_PROBED_DATAGRAM))];
    }
  };
  const spacing = 3_000 / total;
  for (let i = 0; i < total; i++) {
    p.sim.schedule(600 + i * spacing, (now) => {
      const victim = pick(victims);
      const [kind, d] = one();
      received.set(victim, (received.get(victim) ?? 0) + d.length);
      const k = kinds.get(kind) ?? { count: 0, bytes: 0 };
      k.count++;
      k.bytes += d.length;
      kinds.set(kind, k);
      p.server.handleDatagram(now, d, victim as PeerAddress);
      p.sim.wake(SERVER);
    });
  }
  // The genuine client keeps talking (so the live connection answers what it takes).
  for (let t = 600; t < 3600; t += 50) p.sim.schedule(t, () => void (p.conn.state === 'established' && (p.conn.send(te.encode('tick')), p.sim.wake(CLIENT))));
  p.sim.runUntil(20_000);
  let worst = { victim: '', ratio: 0, sent: 0, got: 0 };
  let sentAll = 0;
  let gotAll = 0;
  for (const v of victims) {
    const got = received.get(v) ?? 0;
    const sent = p.sim.linkStats(SERVER, v as PeerAddress).sentBytes;
    sentAll += sent;
    gotAll += got;
    if (got > 0 && sent / got > worst.ratio) worst = { victim: v, ratio: sent / got, sent, got };
  }
  console.log(`part 1: ${total} datagrams from 500 spoofed addresses (seed ${seed}), ${gotAll} bytes; the server sent them ${sentAll} bytes (${(sentAll / gotAll).toFixed(4)}x)`);
  console.log(`  worst address ${worst.victim}: ${worst.sent} bytes for ${worst.got} (${worst.ratio.toFixed(3)}x)`);
  console.log(`  kinds: ${[...kinds].map(([k, v]) => `${k} ${v.count}`).join(', ')}`);
  const st = p.server.stats();
  console.log(`  server: retriesSent ${st.retriesSent}, statelessResetsSent ${st.statelessResetsSent}, limited ${st.statelessResetsLimited}+${st.statelessResetsHostLimited}, live connection ${live.state}, migrations to victims: ${live.remote === CLIENT ? 'none (still at the client)' : live.remote}`);
}

function padTo(d: Uint8Array, size: number): Uint8Array {
  // encodeInitial pads to 1200 already; cut or lengthen the body, checksum made good.
  const body = d.subarray(0, d.length - 4);
  const out = new Uint8Array(Math.max(12, size) - 4);
  out.set(body.subarray(0, out.length));
  return withCrc(out);
}

// ---------------------------------------------------------------- part 2
const drain = (plaintext: boolean, reasonBytes: number, replay: boolean): string => {
  const p = makePair(plaintext, 7);
  p.sim.runUntil(200);
  for (let i = 0; i < 4; i++) p.conn.send(te.encode(`m${i}`));
  p.sim.wake(CLIENT);
  p.sim.runUntil(400);
  const sc = p.serverConn as Connection;
  const lastSealed = p.sent.slice(-6);
  // The client goes away; the server ends the connection with its reason.
  p.sim.removeNode(CLIENT);
  const closedAt = p.sim.now;
  sc.destroy(p.sim.now, 0, 'x'.repeat(reasonBytes));
  p.sim.wake(SERVER);
  const before = p.sim.linkStats(SERVER, CLIENT).sentBytes;
  const beforeDatagrams = p.sim.linkStats(SERVER, CLIENT).sentDatagrams;
  let got = 0;
  let gotDatagrams = 0;
  let drainEnd = 0;
  let pn = sc.acks.largest + 1;
  const buf = new Uint8Array(64);
  for (let t = p.sim.now + 1; t < p.sim.now + 8000; t += 1) {
    p.sim.schedule(t, (now) => {
      let d: Uint8Array;
      if (plaintext) d = new PacketWriter(buf, PacketType.Data, sc.localCid, pn++, 4).finish().slice();
      else if (replay) d = lastSealed[int(lastSealed.length)] as Uint8Array;
      else {
        const w = new PacketWriter(buf, PacketType.Protected0, sc.localCid, pn++, 4);
        w.u8(0);
        d = Uint8Array.from([...w.buf.subarray(0, w.pos), ...bytes(16)]);
      }
      // Counted while the connection drains (after it the id is unknown: resets, part 1's figures).
      if (sc.state === 'draining') {
        got += d.length;
        gotDatagrams++;
        drainEnd = now;
      }
      p.server.handleDatagram(now, d, CLIENT);
      p.sim.wake(SERVER);
    });
  }
  p.sim.runUntil(closedAt + 8000);
  const sent = p.sim.linkStats(SERVER, CLIENT).sentBytes - before;
  const datagrams = p.sim.linkStats(SERVER, CLIENT).sentDatagrams - beforeDatagrams;
  return `${plaintext ? 'plaintext' : replay ? 'encrypted, replays' : 'encrypted, junk'}, reason ${reasonBytes} B: drain ${(drainEnd - closedAt).toFixed(0)} ms, ${gotDatagrams} datagrams (${got} bytes) in while draining; ${datagrams} datagrams (${sent} bytes) out from the close on (${(sent / Math.max(1, got)).toFixed(2)}x)`;
};
console.log('\npart 2: a draining server connection, 1,000 forged datagrams a second from the client\'s address for 8 s:');
for (const [plaintext, reason, replay] of [[true, 6, false], [true, 200, false], [false, 200, false], [false, 200, true]] as const) console.log(`  ${drain(plaintext, reason, replay)}`);

// ---------------------------------------------------------------- part 3
console.log('\npart 3: an established plaintext connection, 1,000 forged PING packets a second from the client\'s address for 1 s:');
for (const [step, pnBytes] of [
  [1, 4],
  [2, 4],
  [2, 2],
] as const) {
  const p = makePair(true, 9);
  p.sim.runUntil(300);
  const sc = p.serverConn as Connection;
  p.sim.removeNode(CLIENT);
  const before = p.sim.linkStats(SERVER, CLIENT);
  let pn = sc.acks.largest + 1;
  let got = 0;
  const buf = new Uint8Array(64);
  for (let t = 0; t < 1000; t++) {
    const w = new PacketWriter(buf, PacketType.Data, sc.localCid, pn, pnBytes);
    pn += step;
    w.u8(1);
    const d = w.finish().slice();
    got += d.length;
    p.server.handleDatagram(p.sim.now, d, CLIENT);
    p.sim.wake(SERVER);
    p.sim.runFor(1);
  }
  const after = p.sim.linkStats(SERVER, CLIENT);
  const sent = after.sentBytes - before.sentBytes;
  console.log(`  numbered ${step} apart, ${pnBytes}-byte numbers: ${got} bytes in, ${sent} bytes out in ${after.sentDatagrams - before.sentDatagrams} datagrams (${(sent / got).toFixed(2)}x), connection ${sc.state}`);
}
