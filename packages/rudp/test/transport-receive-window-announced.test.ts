/**
 * A raised receive window is announced apart from the credit (WINDOW, protocol version 5). Before, the
 * peer inferred the window only from a MAX_DATA's limit, so when the endpoint's receive budget had no
 * credit for the raise the peer never heard of it, and its `send` refused (RangeError) every message
 * larger than the old window: the forum server's 8 KiB → 128 KiB at login, past some 7,680 sessions
 * under the default 1 GiB budget. Now such a message is taken and waits for credit (BLOCKED), then
 * arrives whole.
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../src/core/connection.js';
import { creditOf } from '../src/core/credit.js';
import { Endpoint } from '../src/core/endpoint.js';
import { MAX_RECEIVE_WINDOW, parseFrames } from '../src/wire/frame.js';
import { FrameType } from '../src/wire/frame-type.js';
import { PacketType, PacketWriter, TRAILER_SIZE, parseHeader } from '../src/wire/packet.js';
import { writeVarint, varintSize } from '../src/wire/varint.js';
import { SERVER as HERD_SERVER, BYTE_PERIOD, byteAt, creditTo, herd, runUntil, serverConnection } from './helpers/receive-budget-rig.js';
import { CLIENT, SERVER, makePair, messagesOf, type Pair } from './helpers/pair.js';
import { filledBytes } from './helpers/filled-bytes.js';

const KiB = 1024;
/** The forum server's windows: before login, and raised at login. */
const SMALL = 8 * KiB;
const RAISED = 128 * KiB;
/** A request past the small window, within the raised one (the forum's largest is 96 KiB). */
const LARGE_REQUEST = 96 * KiB;

describe('a raised window under a short receive budget', () => {
  it("reaches the peer without credit: its send takes a message past the old window, which waits for credit and arrives whole", () => {
    // A 1 MiB budget (960 KiB granted before its reserve) and twelve connections raised from 8 KiB to
    // 128 KiB in turn: the first seven take 896 KiB, the last are granted a few KiB or none.
    const h = herd(7, { receiveWindow: SMALL, maxReceiveBufferBytes: 1024 * KiB });
    const peers = Array.from({ length: 12 }, () => h.addPeer());
    runUntil(h, () => h.accepted.length === 12 && peers.every((p) => p.conn.state === 'established'), 3_000);
    for (const p of peers) expect(p.conn.maxMessageSize()).toBeLessThan(SMALL);
    for (const p of peers) serverConnection(h, p).raiseReceiveWindow(RAISED);
    h.sim.wake(HERD_SERVER);
    h.sim.runFor(500);
    const last = peers[peers.length - 1] as (typeof peers)[number];
    // The budget gave the last raise (almost) nothing: without WINDOW its peer still saw the 8 KiB window.
    expect(creditTo(h, last)).toBeLessThan(SMALL + 4 * KiB);
    expect(last.conn.maxMessageSize()).toBe(RAISED - creditOf(0));
    const request = filledBytes(LARGE_REQUEST, (k) => byteAt(11, k), BYTE_PERIOD);
    // Before: RangeError, the message exceeds the 7,936 bytes the peer's window of 8,192 takes.
    last.conn.send(request);
    h.sim.wake(last.address);
    // The message waits for credit: a BLOCKED, answered from the budget's overcommit, then the message.
    expect(creditTo(h, last)).toBeLessThan(creditOf(LARGE_REQUEST));
    runUntil(h, () => (h.received.get(serverConnection(h, last))?.length ?? 0) > 0, 5_000);
    const got = h.received.get(serverConnection(h, last)) ?? [];
    expect(got).toHaveLength(1);
    expect(Buffer.from(got[0] as Uint8Array).equals(Buffer.from(request))).toBe(true);
  });
});

/** A plaintext pair (frames visible on the wire) whose server budget a second client's raised connection holds; returns the pair and the server's connection to the first client. */
function shortBudgetPair(seed: number): { p: Pair; server: Connection } {
  // 256 KiB less its sixteenth: 240 KiB; the holder takes 232 KiB of it, the first client's 8 KiB the rest.
  const p = makePair({ seed, client: { plaintext: true }, server: { plaintext: true, receiveWindow: SMALL, maxReceiveBufferBytes: 256 * KiB } });
  p.sim.runFor(500);
  const server = p.serverConn() as Connection;
  expect(server.state).toBe('established');
  const holder = new Endpoint({ random: p.sim.random('holder'), plaintext: true });
  p.sim.addNode('10.0.0.3:5000', holder, { onActivity: () => void (() => { while (holder.pollEvent() !== undefined); })() });
  holder.connect(p.sim.now, SERVER);
  p.sim.wake('10.0.0.3:5000');
  p.sim.runFor(500);
  const held = p.serverConn() as Connection;
  expect(held).not.toBe(server);
  held.raiseReceiveWindow(232 * KiB);
  p.sim.runFor(200);
  return { p, server };
}

/** Whether a datagram is a DATA packet carrying a frame of `type`. */
function carries(datagram: Uint8Array, type: 'window' | 'max-data'): boolean {
  const h = parseHeader(datagram);
  return typeof h !== 'string' && h.type === PacketType.Data && (parseFrames(h.payload) ?? []).some((f) => f.type === type);
}

/** `datagram` (a plaintext DATA packet with packet number below 2^16) with `frame` appended to its frames, checksum redone. */
function withFrame(datagram: Uint8Array, frame: Uint8Array): Uint8Array {
  const body = datagram.subarray(0, datagram.length - TRAILER_SIZE);
  const w = new PacketWriter(new Uint8Array(body.length + frame.length + TRAILER_SIZE), PacketType.Data, 0, 0);
  w.pos = 0;
  w.bytes(body);
  w.bytes(frame);
  return w.finish().slice();
}

/** A WINDOW frame's bytes, announcing `window` (written raw: past `MAX_RECEIVE_WINDOW` too). */
function windowFrame(window: number): Uint8Array {
  const out = new Uint8Array(1 + varintSize(window));
  out[0] = FrameType.Window;
  writeVarint(out, 1, window);
  return out;
}

/** Rewrites the server's next DATA datagram to the first client once `armed()` with `frame` appended; returns whether it has. */
function injectIntoNext(p: Pair, armed: () => boolean, frame: Uint8Array): () => boolean {
  const poll = p.server.pollTransmit.bind(p.server);
  let done = false;
  p.server.pollTransmit = (now: number) => {
    const t = poll(now);
    if (t === undefined || done || !armed() || t.to !== CLIENT) return t;
    const h = parseHeader(t.data);
    if (typeof h === 'string' || h.type !== PacketType.Data || h.pn >= 2 ** 16) return t;
    done = true;
    return { ...t, data: withFrame(t.data, frame) };
  };
  return () => done;
}

describe('the WINDOW frame', () => {
  it("lost, is sent again until it arrives: the peer learns the window from it alone (the budget grants no credit)", () => {
    for (let seed = 1; seed <= 4; seed++) {
      const { p, server } = shortBudgetPair(seed);
      expect(p.conn.maxMessageSize()).toBeLessThan(SMALL);
      // Every datagram with a WINDOW frame is dropped, three times over.
      const poll = p.server.pollTransmit.bind(p.server);
      let dropped = 0;
      p.server.pollTransmit = (now: number) => {
        for (let t = poll(now); t !== undefined; t = poll(now)) {
          if (dropped < 3 && t.to === CLIENT && carries(t.data, 'window')) dropped++;
          else return t;
        }
        return undefined;
      };
      const limitBefore = server.flow.limit;
      server.raiseReceiveWindow(RAISED);
      expect(server.flow.limit, `seed ${seed}`).toBe(limitBefore);
      p.sim.wake(SERVER);
      p.sim.runFor(5_000);
      expect(dropped, `seed ${seed}`).toBe(3);
      // What the raise could grant: none of it (so no MAX_DATA told the peer either).
      expect(server.flow.limit, `seed ${seed}`).toBe(limitBefore);
      expect(p.conn.maxMessageSize(), `seed ${seed}`).toBe(RAISED - creditOf(0));
      const request = new Uint8Array(LARGE_REQUEST).fill(seed);
      p.conn.send(request);
      p.sim.wake(CLIENT);
      p.sim.runFor(5_000);
      expect(messagesOf(p.serverEvents).map((m) => m.length), `seed ${seed}`).toEqual([LARGE_REQUEST]);
    }
  });

  it('announcing a window smaller than the one the peer knows changes nothing', () => {
    const { p, server } = shortBudgetPair(2);
    server.raiseReceiveWindow(RAISED);
    p.sim.wake(SERVER);
    p.sim.runFor(1_000);
    expect(p.conn.maxMessageSize()).toBe(RAISED - creditOf(0));
    const received = p.conn.stats().packetsReceived;
    const injected = injectIntoNext(p, () => true, windowFrame(SMALL));
    server.send(new TextEncoder().encode('after'));
    p.sim.wake(SERVER);
    p.sim.runFor(1_000);
    expect(injected()).toBe(true);
    // The packet was read (the client dropped none): its message arrived, and the window stayed.
    expect(p.client.stats().droppedTotal).toBe(0);
    expect(p.conn.stats().packetsReceived).toBeGreaterThan(received);
    expect(messagesOf(p.clientEvents).map((m) => new TextDecoder().decode(m))).toEqual(['after']);
    expect(p.conn.maxMessageSize()).toBe(RAISED - creditOf(0));
  });

  it('a window past the most a receive window may be (2^40) makes its packet malformed: dropped, the connection and the window as they were', () => {
    const { p, server } = shortBudgetPair(3);
    const injected = injectIntoNext(p, () => true, windowFrame(MAX_RECEIVE_WINDOW + 1));
    server.send(new TextEncoder().encode('after'));
    p.sim.wake(SERVER);
    p.sim.runFor(2_000);
    expect(injected()).toBe(true);
    expect(p.client.stats().dropped.malformed).toBe(1);
    expect(p.conn.maxMessageSize()).toBe(SMALL - creditOf(0));
    expect(p.conn.state).toBe('established');
    // The packet's message is sent again, as for any lost packet.
    expect(messagesOf(p.clientEvents).map((m) => new TextDecoder().decode(m))).toEqual(['after']);
  });
});
