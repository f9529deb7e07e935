/**
 * Attack round 22, item 4: the client's receive window and first limit travel
 * in its INITIAL in clear (the server's own travel sealed in its hello and are
 * checked by the client). An attacker on the path rewrites them in the cookie
 * INITIAL (its CRC made good again) before the server reads it, in the seeded
 * simulator; the client sends a 5-byte request and then 16 messages of 64 KiB,
 * and the server answers the request with 64 of 64 KiB (the client's window
 * is rudpx's default, 32 MiB).
 *
 *   npx tsx attack/initial-window.ts [seeds=3]
 *
 *   none    no rewrite (the yardstick)
 *   min     window and first limit 1,024 bytes (the least a peer may announce)
 *   max     window and first limit 2^40 (the most)
 *   limit   the window kept, the first limit 1,024
 *   race    nothing rewritten: a copy of the cookie INITIAL with the figures of `min` (its cookie and the
 *           client's hello copied, both in clear) reaches the server first, the genuine one after it (what
 *           anyone who sees the RETRY and the INITIAL can send, dropping nothing)
 *
 * Prints whether every message arrived once, whole, in order, both ways, the
 * virtual time against `none`, what the server believed of the client's
 * window and what the client refused (fragments past its real limit).
 * Since rudpx protocol version 7 (session 47) the figures are bound into the
 * handshake's prologue: every case but `none` ends with no connection (2 seeds:
 * `NOT DONE`, 52 client datagrams received, each ACCEPT dropped as `auth`, the
 * client's timeout saying the ACCEPTs failed to authenticate), where before
 * each connected and ran on the client's real figures once it repeated them.
 * Denial is all that is left to the attacker, as dropping the INITIALs is.
 */
import { createHash } from 'node:crypto';
import { Endpoint } from '../packages/rudp/src/core/endpoint.js';
import type { Connection } from '../packages/rudp/src/core/connection.js';
import { nodeCryptoProvider } from '../packages/rudp/src/node/crypto-provider.js';
import { SimNetwork } from '../packages/rudp/src/testing/sim-network.js';
import { deterministicCrypto } from '../packages/rudp/src/testing/deterministic-crypto.js';
import type { PeerAddress } from '../packages/rudp/src/core/sans-io.js';
import { MAX_DATAGRAM, PacketType, decodeInitial, encodeInitial, parseHeader } from '../packages/rudp/src/wire/packet.js';

const seeds = Number(process.argv[2] ?? 3);
const CLIENT = '10.0.0.1:5000';
const SERVER = '10.0.0.2:4000';
const DOWN = 64;
const UP = 16;
const SIZE = 64 * 1024;
type Mode = 'none' | 'min' | 'max' | 'limit' | 'race';
const MODES: readonly Mode[] = ['none', 'min', 'max', 'limit', 'race'];

const message = (tag: string, i: number): Uint8Array => {
  const b = new Uint8Array(SIZE);
  const h = createHash('sha256').update(`${tag}${i}`).digest();
  for (let k = 0; k < SIZE; k++) b[k] = (h[k % 32] as number) ^ (k & 0xff);
  return b;
};

/** The INITIAL `data` with its window and first limit rewritten as `mode` says (undefined: not an INITIAL with a cookie). */
const rewrite = (data: Uint8Array, mode: Mode): Uint8Array | undefined => {
  const h = parseHeader(data);
  if (typeof h === 'string' || h.type !== PacketType.Initial) return undefined;
  const init = decodeInitial(h.payload);
  if (init === undefined || init.token.length === 0) return undefined;
  const window = mode === 'min' || mode === 'race' ? 1024 : mode === 'max' ? 2 ** 40 : init.params.receiveWindow;
  const initialLimit = mode === 'max' ? 2 ** 40 : 1024;
  return encodeInitial(new Uint8Array(MAX_DATAGRAM), h.pn, { ...init, params: { receiveWindow: window, initialLimit } }).slice();
};

const run = (seed: number, mode: Mode): { ms: number; down: boolean; up: boolean; peerWindow: string; refused: string } => {
  const sim = new SimNetwork({ seed, defaultLink: { delayMs: 10, jitterMs: 1, bandwidthBps: 200_000_000 } });
  const client = new Endpoint({ random: sim.random('client'), crypto: deterministicCrypto(nodeCryptoProvider, sim.random('client-crypto')) });
  const server = new Endpoint({ random: sim.random('server'), acceptIncoming: true, crypto: deterministicCrypto(nodeCryptoProvider, sim.random('server-crypto')) });
  if (mode !== 'none') {
    const real = server.handleDatagram.bind(server);
    server.handleDatagram = (now: number, data: Uint8Array, from: PeerAddress): void => {
      const changed = rewrite(data, mode);
      if (mode === 'race' && changed !== undefined) real(now, changed, from);
      real(now, mode === 'race' ? data : (changed ?? data), from);
    };
  }
  const down: Uint8Array[] = [];
  const up: Uint8Array[] = [];
  let sc: Connection | undefined;
  let doneAt = -1;
  let sendErrors = 0;
  let peerWindow = '';
  sim.addNode(SERVER, server, {
    onActivity: (now) => {
      for (let e = server.pollEvent(); e; e = server.pollEvent()) {
        if (e.type === 'incoming') {
          sc = e.connection;
          peerWindow = `${sc.maxMessageSize()}`;
        }
        if (e.type === 'message') {
          up.push(e.data.slice());
          // Answered as a request is: once the client's first message is in.
          if (up.length === 1 && sc !== undefined) {
            peerWindow += ` → ${sc.maxMessageSize()} at the first request`;
            for (let i = 0; i < DOWN; i++) {
              try {
                sc.send(message('d', i));
              } catch {
                sendErrors++;
              }
            }
          }
        }
      }
      if (doneAt < 0 && down.length >= DOWN && up.length >= UP + 1) doneAt = now;
    },
  });
  sim.addNode(CLIENT, client, {
    onActivity: (now) => {
      for (let e = client.pollEvent(); e; e = client.pollEvent()) if (e.type === 'message') down.push(e.data.slice());
      if (doneAt < 0 && down.length >= DOWN && up.length >= UP + 1) doneAt = now;
    },
  });
  const conn = client.connect(0, SERVER);
  // A small request first (a login's size), then the large ones.
  conn.send(new TextEncoder().encode('hello'));
  for (let i = 0; i < UP; i++) conn.send(message('u', i));
  sim.wake(CLIENT);
  for (let t = 1000; t <= 60_000 && doneAt < 0; t += 1000) sim.runUntil(t);
  const same = (got: readonly Uint8Array[], tag: string, n: number): boolean => got.length === n && got.every((g, i) => Buffer.compare(Buffer.from(g), Buffer.from(message(tag, i))) === 0);
  const cs = client.stats();
  return {
    ms: doneAt,
    down: same(down, 'd', DOWN),
    up: up.length === UP + 1 && new TextDecoder().decode(up[0]) === 'hello' && same(up.slice(1), 'u', UP),
    peerWindow: `server's largest message to the client at accept ${peerWindow} B, ${sendErrors} sends refused`,
    refused: `client packets received ${cs.datagramsReceived}, server sent ${server.stats().datagramsSent}`,
  };
};

for (let seed = 1; seed <= seeds; seed++) {
  let base = 0;
  for (const mode of MODES) {
    const r = run(seed, mode);
    if (mode === 'none') base = r.ms;
    console.log(`${mode.padEnd(6)} seed ${seed}: ${r.ms < 0 ? 'NOT DONE in 60 s' : `${Math.round(r.ms)} ms (${(r.ms / base).toFixed(2)}×)`}, down ${r.down ? 'ok' : 'BAD'}, up ${r.up ? 'ok' : 'BAD'}; ${r.peerWindow}; ${r.refused}`);
  }
}
