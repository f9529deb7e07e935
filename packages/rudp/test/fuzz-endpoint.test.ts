/**
 * Seeded fuzz of a server Endpoint that holds one live connection: a million
 * hostile datagrams (random bytes, damaged copies of the client's real
 * packets, well-checksummed packets with absurd fields, forged and replayed
 * cookies). Every datagram is accounted for: counted as dropped, answered
 * statelessly, or (on the live connection, validly framed) absorbed without
 * harm. Afterwards the original connection still carries messages both ways.
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../src/core/connection.js';
import { COOKIE_SIZE } from '../src/core/cookie.js';
import { MAX_CLOSE_REASON } from '../src/wire/frame.js';
import { MAX_ACK_RANGES } from '../src/wire/ack-frame.js';
import { FrameType } from '../src/wire/frame-type.js';
import { MAX_DATAGRAM, MAX_PROBED_DATAGRAM, PROTOCOL_VERSION, PacketType, PacketWriter, decodeInitial, isProtected, parseHeader } from '../src/wire/packet.js';
import { createRandom, fillRandomBytes } from '../src/testing/prng.js';
import { CLIENT, SERVER, makePair, messagesOf } from './helpers/pair.js';

const SEED = 0x5eed_f022;
const HOSTILE = 1_000_000;
/** The highest frame type a receiver knows: every type above it is unknown, and drops its packet. */
const LAST_FRAME_TYPE = Math.max(...Object.values(FrameType));
const BATCH = 10_000;

/** How the endpoint must treat one hostile datagram. */
const enum Expect {
  Drop,
  /** A token-less, well-formed INITIAL: a RETRY (or, queue full, a counted drop). */
  Stateless,
  /** A validly framed packet on the live connection whose number it has already seen. */
  Duplicate,
  /** A replay of the client's own cookie INITIAL within the cookie's lifetime, past the handshake: dropped and counted as a replay, nothing new. */
  Replay,
}

interface Captured {
  readonly initialWithToken: Uint8Array;
  readonly all: readonly Uint8Array[];
  readonly largestPn: number;
  /** The client's sealed DATA packets. */
  readonly protectedPackets: readonly Uint8Array[];
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const decoded = (b: Uint8Array): string => new TextDecoder().decode(b);

describe('endpoint fuzz (seeded)', () => {
  it(`survives ${HOSTILE.toLocaleString('en')} hostile datagrams with one live connection intact`, () => {
    const started = performance.now();
    const p = makePair({ seed: SEED, link: { delayMs: 5 } });
    const sent: Uint8Array[] = [];
    const clientPoll = p.client.pollTransmit.bind(p.client);
    p.client.pollTransmit = (now) => {
      const t = clientPoll(now);
      if (t) sent.push(t.data.slice());
      return t;
    };
    p.sim.runUntil(100);
    const live = p.serverConn() as Connection;
    expect(live).toBeDefined();
    expect(p.conn.state).toBe('established');

    // Real traffic to capture: small and multi-packet messages both ways.
    for (let i = 0; i < 20; i++) {
      p.conn.send(text(`c${i}:${'x'.repeat(i * 150)}`));
      live.send(text(`s${i}`));
    }
    p.sim.wake(CLIENT);
    p.sim.wake(SERVER);
    p.sim.runUntil(600);
    expect(messagesOf(p.serverEvents)).toHaveLength(20);
    expect(messagesOf(p.clientEvents)).toHaveLength(20);

    const captured = capture(sent);
    const liveCid = live.localCid;
    const rnd = createRandom(SEED);
    const below = (n: number): number => rnd() % n;
    const attackers = Array.from({ length: 4096 }, (_, i) => (i % 64 === 0 ? `10.0.0.1:${5001 + i}` : `203.0.${i >> 8}.${i & 255}:${1024 + below(60000)}`));
    const attacker = (): string => attackers[below(attackers.length)] as string;
    const scratch = new Uint8Array(MAX_PROBED_DATAGRAM + 100);
    const out = new Uint8Array(MAX_DATAGRAM);

    const before = p.server.stats();
    const connBefore = live.stats();
    const heapBefore = process.memoryUsage().heapUsed;
    let heapPeak = heapBefore;
    const tally = [0, 0, 0, 0];
    const byCategory = new Array<number>(32).fill(0);

    /** Builds one hostile datagram, feeds it to the server, and returns how it must be treated. */
    const one = (now: number): Expect => {
      const cat = below(32);
      byCategory[cat] = (byCategory[cat] as number) + 1;
      if (cat < 8) {
        // Random bytes of any length, including empty and oversize.
        const len = below(MAX_PROBED_DATAGRAM + 100);
        p.server.handleDatagram(now, fillRandomBytes(rnd, scratch.subarray(0, len)), attacker());
        return Expect.Drop;
      }
      if (cat < 12) {
        const src = captured.all[below(captured.all.length)] as Uint8Array;
        p.server.handleDatagram(now, src.subarray(0, below(src.length)), CLIENT);
        return Expect.Drop;
      }
      if (cat < 16) {
        const src = captured.all[below(captured.all.length)] as Uint8Array;
        const copy = scratch.subarray(0, src.length);
        copy.set(src);
        // CRC-32C has Hamming distance >= 4 at these lengths: 1-3 flipped bits are always caught.
        for (let k = 1 + below(3), seen = new Set<number>(); k > 0; ) {
          const bit = below(src.length * 8);
          if (seen.has(bit)) continue;
          seen.add(bit);
          copy[bit >> 3] = (copy[bit >> 3] as number) ^ (1 << (bit & 7));
          k--;
        }
        p.server.handleDatagram(now, copy, below(2) === 0 ? CLIENT : attacker());
        return Expect.Drop;
      }
      if (cat < 18) {
        const w = new PacketWriter(out, (1 + below(4)) as PacketType, below(2) === 0 ? liveCid : rnd(), rnd());
        absurdFrames(w, rnd, false);
        const d = w.finish();
        // Any other version in the high four bits of byte 0.
        let v = below(16);
        if (v === PROTOCOL_VERSION) v = 0;
        d[0] = (v << 4) | ((d[0] as number) & 0x0f);
        p.server.handleDatagram(now, reseal(d), CLIENT);
        return Expect.Drop;
      }
      if (cat < 19) {
        const w = new PacketWriter(out, PacketType.Data, liveCid, rnd());
        absurdFrames(w, rnd, false);
        const d = w.finish();
        // A type outside 1–4 in the low three bits of byte 0.
        const t = [0, 5, 6, 7][below(4)] as number;
        d[0] = ((d[0] as number) & 0xf8) | t;
        p.server.handleDatagram(now, reseal(d), CLIENT);
        return Expect.Drop;
      }
      if (cat < 21) {
        // The live connection id from anyone else (other hosts, the client's host on another port): even a CLOSE.
        const w = new PacketWriter(out, PacketType.Data, liveCid, rnd());
        if (below(4) === 0) closeFrame(w);
        else absurdFrames(w, rnd, below(2) === 0);
        p.server.handleDatagram(now, w.finish(), attacker());
        return Expect.Drop;
      }
      if (cat < 22) {
        let cid = rnd();
        if (cid === liveCid) cid ^= 1;
        const w = new PacketWriter(out, PacketType.Data, cid, rnd(), below(2) === 0 ? 2 : 4);
        absurdFrames(w, rnd, below(2) === 0);
        p.server.handleDatagram(now, w.finish(), below(2) === 0 ? CLIENT : attacker());
        return Expect.Drop;
      }
      if (cat < 23) {
        // In clear from the client's own address and id, validly framed: an encrypted connection takes none.
        const w = new PacketWriter(out, PacketType.Data, liveCid, rnd(), below(2) === 0 ? 2 : 4);
        absurdFrames(w, rnd, below(2) === 0);
        p.server.handleDatagram(now, w.finish(), CLIENT);
        return Expect.Drop;
      }
      if (cat < 25) {
        // Packets that look authenticated: the live id, the client's address, either key phase, a
        // packet number near the real ones or anywhere, and a body of random bytes as long as a tag or more.
        const type = below(2) === 0 ? PacketType.Protected0 : PacketType.Protected1;
        const pn = below(2) === 0 ? captured.largestPn + below(64) : rnd();
        const w = new PacketWriter(out.subarray(0, 32 + below(MAX_DATAGRAM - 32)), type, liveCid, pn, below(2) === 0 ? 2 : 4);
        const body = w.room() + 16;
        w.bytes(fillRandomBytes(rnd, new Uint8Array(body)));
        p.server.handleDatagram(now, w.buf.subarray(0, w.pos), CLIENT);
        return Expect.Drop;
      }
      if (cat < 27) {
        // A real authenticated packet of the client, replayed: the replay window refuses it.
        const src = captured.protectedPackets[below(captured.protectedPackets.length)] as Uint8Array;
        p.server.handleDatagram(now, src, CLIENT);
        return Expect.Duplicate;
      }
      if (cat < 28) {
        const w = new PacketWriter(out, below(2) === 0 ? PacketType.Retry : PacketType.Accept, below(2) === 0 ? liveCid : rnd(), rnd());
        w.u32(rnd());
        w.varint(below(64));
        p.server.handleDatagram(now, w.finish(), below(2) === 0 ? CLIENT : attacker());
        return Expect.Drop;
      }
      if (cat < 29) {
        p.server.handleDatagram(now, badInitial(out, rnd), attacker());
        return Expect.Drop;
      }
      if (cat < 30) {
        const kind = below(3);
        if (kind === 0) {
          // The client's real cookie INITIAL, replayed from another address.
          p.server.handleDatagram(now, captured.initialWithToken, attacker());
        } else {
          const token = fillRandomBytes(rnd, new Uint8Array(kind === 1 ? COOKIE_SIZE : 1 + below(64)));
          p.server.handleDatagram(now, initial(out, rnd() | 1, token, rnd()), below(2) === 0 ? CLIENT : attacker());
        }
        return Expect.Drop;
      }
      if (cat < 31) {
        p.server.handleDatagram(now, initial(out, rnd() | 1, new Uint8Array(0), rnd()), attacker());
        return Expect.Stateless;
      }
      p.server.handleDatagram(now, captured.initialWithToken, CLIENT);
      return Expect.Replay;
    };

    // Batches at advancing virtual times, each followed by a drain of the server (RETRYs go nowhere).
    const batches = HOSTILE / BATCH;
    for (let b = 0; b < batches; b++) {
      p.sim.schedule(1000 + b * 50, (now) => {
        for (let i = 0; i < BATCH; i++) {
          const k = one(now);
          tally[k] = (tally[k] as number) + 1;
        }
        p.sim.wake(SERVER);
        if (b % 10 === 9) heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
      });
    }
    p.sim.runUntil(1000 + batches * 50 + 100);
    const after = p.server.stats();
    const connAfter = live.stats();

    const drops = tally[Expect.Drop] as number;
    const stateless = tally[Expect.Stateless] as number;
    const retries = after.retriesSent - before.retriesSent;
    const queueFull = after.dropped.statelessQueueFull - before.dropped.statelessQueueFull;
    expect(drops + stateless + (tally[Expect.Duplicate] as number) + (tally[Expect.Replay] as number)).toBe(HOSTILE);
    expect(byCategory.every((n) => n > HOSTILE / 64)).toBe(true);
    // Every bad datagram is counted (replays too, the cookie INITIAL's of a connection past its handshake
    // among them), and nothing else is.
    const replays = (tally[Expect.Duplicate] as number) + (tally[Expect.Replay] as number);
    expect(after.droppedTotal - before.droppedTotal).toBe(drops + queueFull + replays);
    expect(after.dropped.replay - before.dropped.replay).toBeGreaterThanOrEqual(replays);
    expect(after.dropped.auth - before.dropped.auth).toBeGreaterThan(HOSTILE / 32);
    expect(retries + queueFull).toBe(stateless);
    // A sealed packet number seen before is refused before its tag is checked: nothing is counted as a
    // duplicate, or answered, for what anyone could have forged.
    expect(connAfter.duplicatePackets - connBefore.duplicatePackets).toBe(0);
    expect(after.connectionsAccepted).toBe(before.connectionsAccepted);
    expect(p.server.connectionCount).toBe(1);
    expect(live.state).toBe('established');
    expect(p.conn.state).toBe('established');
    // No hostile datagram reached the application.
    expect(p.serverEvents.filter((r) => r.event.type !== 'message' && r.event.type !== 'acked').map((r) => r.event.type)).toEqual(['incoming']);
    expect(messagesOf(p.serverEvents)).toHaveLength(20);

    // A cookie replayed after its lifetime is refused.
    const stale = p.server.stats().dropped.badToken;
    p.sim.schedule(p.sim.now + 40_000, (now) => p.server.handleDatagram(now, captured.initialWithToken, CLIENT));
    p.sim.runFor(40_001);
    expect(p.server.stats().dropped.badToken).toBe(stale + 1);

    // The original connection still works, both ways.
    p.conn.send(text('after the storm, from the client'));
    live.send(text('after the storm, from the server'));
    p.sim.wake(CLIENT);
    p.sim.wake(SERVER);
    p.sim.runFor(1000);
    expect(decoded(messagesOf(p.serverEvents).at(-1) as Uint8Array)).toBe('after the storm, from the client');
    expect(decoded(messagesOf(p.clientEvents).at(-1) as Uint8Array)).toBe('after the storm, from the server');

    const heapGrowth = heapPeak - heapBefore;
    expect(heapGrowth).toBeLessThan(256 * 1024 * 1024);
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `fuzz-endpoint: ${HOSTILE} datagrams in ${seconds.toFixed(1)} s; dropped ${after.droppedTotal - before.droppedTotal} ` +
        `(${JSON.stringify(diffDrops(before.dropped, after.dropped))}), retries ${retries}, duplicates ${tally[Expect.Duplicate]}, ` +
        `cookie replays ${tally[Expect.Replay]}; heap peak growth ${(heapGrowth / 1048576).toFixed(1)} MiB`,
    );
  }, 120_000);
});

/** The client's INITIAL that carries the server's cookie, every datagram it sent, and its largest DATA packet number. */
function capture(sent: readonly Uint8Array[]): Captured {
  let initialWithToken: Uint8Array | undefined;
  let largestPn = 0;
  const protectedPackets: Uint8Array[] = [];
  for (const d of sent) {
    const h = parseHeader(d);
    if (typeof h === 'string') throw new Error(`client sent an invalid datagram: ${h}`);
    if (h.type === PacketType.Initial && (decodeInitial(h.payload)?.token.length ?? 0) > 0) initialWithToken = d;
    if (isProtected(h.type)) {
      largestPn = Math.max(largestPn, h.pn);
      protectedPackets.push(d);
    }
  }
  if (initialWithToken === undefined || largestPn < 10) throw new Error('capture incomplete');
  return { initialWithToken, all: sent, largestPn, protectedPackets };
}

/** Recomputes the checksum of a datagram whose bytes were edited after `finish()`. */
function reseal(d: Uint8Array): Uint8Array {
  const body = d.slice(0, d.length - 4);
  const w = new PacketWriter(new Uint8Array(d.length), PacketType.Data, 0, 0);
  w.pos = 0;
  w.bytes(body);
  return w.finish();
}

function initial(buf: Uint8Array, scid: number, token: Uint8Array, window: number): Uint8Array {
  const w = new PacketWriter(buf, PacketType.Initial, 0, 0);
  w.u32(scid);
  w.varint(token.length);
  w.bytes(token);
  w.varint(window);
  // The first limit: the whole window.
  w.varint(window);
  w.padTo(MAX_DATAGRAM);
  return w.finish();
}

/** Well-checksummed INITIALs that are wrong: short, zero id, oversize token, varints past 2^53. */
function badInitial(buf: Uint8Array, rnd: () => number): Uint8Array {
  const w = new PacketWriter(buf, PacketType.Initial, rnd(), rnd());
  switch (rnd() % 4) {
    case 0:
      w.u32(rnd() | 1);
      w.varint(0);
      w.varint(1000);
      w.padTo(MAX_DATAGRAM - 1 - (rnd() % 1000));
      break;
    case 1:
      w.u32(0);
      w.varint(0);
      w.varint(1000);
      w.padTo(MAX_DATAGRAM);
      break;
    case 2:
      w.u32(rnd() | 1);
      w.varint(65 + (rnd() % 1000));
      w.padTo(MAX_DATAGRAM);
      break;
    default:
      w.u32(rnd() | 1);
      hugeVarint(w);
      w.padTo(MAX_DATAGRAM);
  }
  return w.finish();
}

/** An 8-byte varint above 2^53 − 1 (the reader refuses it). */
function hugeVarint(w: PacketWriter): void {
  w.u8(0xff);
  for (let i = 0; i < 7; i++) w.u8(0xff);
}

function closeFrame(w: PacketWriter): void {
  w.u8(FrameType.Close);
  w.varint(0);
  w.varint(4);
  w.bytes(new TextEncoder().encode('evil'));
}

/**
 * Frames with absurd fields. `broken`: the payload does not parse (unknown
 * type, varint past 2^53, WINDOW past 2^40, fragment past its message, too many ACK ranges,
 * truncation, a PATH_CHALLENGE or PATH_RESPONSE short of its 8 bytes,
 * oversize close reason). Otherwise it parses but is nonsense the
 * connection must shrug off: fragments of messages far ahead or larger than
 * any window, ACKs for packets never sent, a huge MAX_DATA or WINDOW, PATH_CHALLENGEs
 * (answered, the latest only) and PATH_RESPONSEs to no challenge, padding, pings.
 */
function absurdFrames(w: PacketWriter, rnd: () => number, broken: boolean): void {
  const big = (): number => 2 ** 53 - 1 - (rnd() % 1000);
  if (broken) {
    // A valid frame first, so the parser must reject a packet part way through.
    if (rnd() % 2 === 0) w.u8(FrameType.Ping);
    switch (rnd() % 10) {
      case 0:
        // A type no frame has.
        w.u8(LAST_FRAME_TYPE + 1 + (rnd() % (255 - LAST_FRAME_TYPE)));
        break;
      case 1:
        // A varint past 2^53, in a FRAGMENT or a WINDOW; or a WINDOW past the most a window may be (2^40).
        w.u8(rnd() % 2 === 0 ? FrameType.Fragment : FrameType.Window);
        if (rnd() % 2 === 0) hugeVarint(w);
        else w.varint(2 ** 40 + 1 + (rnd() % 2 ** 20));
        break;
      case 2:
        w.u8(FrameType.Fragment);
        w.varint(rnd() % 100);
        w.varint(10);
        w.varint(8);
        w.varint(5);
        w.bytes(new Uint8Array(5));
        break;
      case 3:
        w.u8(FrameType.Ack);
        w.varint(1000);
        w.varint(0);
        w.varint(MAX_ACK_RANGES + 1 + (rnd() % 1000));
        w.varint(0);
        break;
      case 4:
        w.u8(FrameType.Ack);
        w.varint(5);
        w.varint(0);
        w.varint(0);
        w.varint(6 + (rnd() % 1000));
        break;
      case 5:
        w.u8(FrameType.Fragment);
        w.varint(1);
        w.varint(100);
        w.varint(0);
        w.varint(50);
        w.bytes(new Uint8Array(10)); // truncated: 40 bytes short
        break;
      case 6: {
        // REPAIR: covering nothing or more than 32, ids past 2^53, a short symbol, or a second one.
        const k = rnd() % 5;
        w.u8(FrameType.Repair);
        w.varint(k === 2 ? 2 ** 53 - 1 - (rnd() % 32) : rnd() % 1000);
        w.u8(k === 0 ? 0x80 : k === 1 ? 33 + (rnd() % 95) : 0x80 | (1 + (rnd() % 32)));
        w.u8(8);
        w.bytes(new Uint8Array(k === 3 ? 4 : 8));
        if (k === 4) {
          w.u8(FrameType.Repair);
          w.varint(0);
          w.u8(0x81);
          w.u8(0);
        }
        break;
      }
      case 7:
        // MESSAGE with its length running past the packet.
        w.u8(FrameType.Message);
        w.varint(rnd() % 1000);
        w.u8(200);
        w.bytes(new Uint8Array(20));
        break;
      case 8:
        // PATH_CHALLENGE or PATH_RESPONSE with fewer than its 8 bytes, at the end of the packet.
        w.u8(rnd() % 2 === 0 ? FrameType.PathChallenge : FrameType.PathResponse);
        w.bytes(new Uint8Array(rnd() % 8));
        break;
      default:
        w.u8(FrameType.Close);
        w.varint(0);
        w.varint(MAX_CLOSE_REASON + 1 + (rnd() % 100));
        w.bytes(new Uint8Array(Math.min(w.room(), MAX_CLOSE_REASON + 100)));
    }
    return;
  }
  for (let n = 1 + (rnd() % 4); n > 0 && w.room() > 60; n--) {
    switch (rnd() % 8) {
      case 0: {
        // A fragment of a message far beyond the tracking horizon, with an absurd length.
        w.u8(FrameType.Fragment);
        w.varint(1_000_000 + (rnd() % 1_000_000_000));
        const len = big();
        w.varint(len);
        w.varint(len - 8);
        w.varint(8);
        w.bytes(new Uint8Array(8));
        break;
      }
      case 1: {
        // A fragment of a near message that claims more bytes than any receive window.
        w.u8(FrameType.Fragment);
        w.varint(100 + (rnd() % 1000));
        const len = 2 ** 40 + (rnd() % 1000);
        w.varint(len);
        w.varint(0);
        w.varint(4);
        w.bytes(new Uint8Array(4));
        break;
      }
      case 2: {
        // ACK ranges for packets never sent.
        w.u8(FrameType.Ack);
        const largest = 2 ** 31 + (rnd() % 2 ** 20);
        w.varint(largest);
        w.varint(rnd());
        w.varint(3);
        w.varint(10);
        for (let i = 0; i < 3; i++) {
          w.varint(rnd() % 1000);
          w.varint(rnd() % 100);
        }
        break;
      }
      case 3:
        // A limit, or a window, far past anything the peer would grant.
        if (rnd() % 2 === 0) {
          w.u8(FrameType.MaxData);
          w.varint(big());
        } else {
          w.u8(FrameType.Window);
          w.varint(2 ** 40 - (rnd() % 1000));
        }
        break;
      case 4:
        w.u8(FrameType.Ping);
        break;
      case 5:
      case 6: {
        // A challenge (the connection answers it) or a response to a challenge never sent.
        w.u8(rnd() % 2 === 0 ? FrameType.PathChallenge : FrameType.PathResponse);
        const data = new Uint8Array(8);
        for (let i = 0; i < 8; i++) data[i] = rnd() & 0xff;
        w.bytes(data);
        break;
      }
      default:
        w.u8(FrameType.Padding);
    }
  }
}

function diffDrops(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): Record<string, number> {
  const d: Record<string, number> = {};
  for (const k of Object.keys(b)) if ((b[k] ?? 0) !== (a[k] ?? 0)) d[k] = (b[k] ?? 0) - (a[k] ?? 0);
  return d;
}
