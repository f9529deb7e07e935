/**
 * Attack round 22, item 2: an attacker on the path that reorders and replays
 * sealed datagrams, against rudpx's replay window (1,024 packets), in the
 * seeded simulator. A server sends the client 4 MiB in 64 KiB messages while
 * the client sends 1 MiB back (both directions carry data and ACKs); on the
 * server → client path the attacker
 *   - holds back a share `hold` of the datagrams by `depth` later datagrams (reordering), and
 *   - sends every datagram again once `replayAfter` later datagrams have passed (a replay; `replayed`
 *     counts those sent before the transfer ended),
 * on the client → server path the same with the same settings.
 *
 *   npx tsx attack/reorder-replay.ts [seeds=3]     (A22_DROPS=1: every drop counter that moved, both ends)
 *
 * Checked for every setting and seed: every message arrives once, whole, in
 * order, both ways (a replay that got through would deliver a duplicate or
 * move the receive state); how many replays each end dropped as `replay`
 * (inside the window: a duplicate; behind it: too old), how many held-back
 * genuine packets were refused as too old (their data is resent: a cost, not
 * a loss), and the virtual time the transfer took against the same seed
 * without the attacker.
 */
import { createHash } from 'node:crypto';
import { Endpoint } from '../packages/rudp/src/core/endpoint.js';
import type { Connection } from '../packages/rudp/src/core/connection.js';
import { nodeCryptoProvider } from '../packages/rudp/src/node/crypto-provider.js';
import { SimNetwork } from '../packages/rudp/src/testing/sim-network.js';
import { deterministicCrypto } from '../packages/rudp/src/testing/deterministic-crypto.js';
import type { PeerAddress } from '../packages/rudp/src/core/sans-io.js';

const seeds = Number(process.argv[2] ?? 3);
const CLIENT = '10.0.0.1:5000';
const SERVER = '10.0.0.2:4000';
const DOWN = 64; // 64 KiB messages server → client
const UP = 16; // client → server
const SIZE = 64 * 1024;

interface Setting {
  readonly name: string;
  readonly hold: number;
  readonly depth: number;
  readonly replayAfter: number | undefined;
}
const SETTINGS: readonly Setting[] = [
  { name: 'none', hold: 0, depth: 0, replayAfter: undefined },
  { name: 'replay at once', hold: 0, depth: 0, replayAfter: 0 },
  { name: 'replay after 500', hold: 0, depth: 0, replayAfter: 500 },
  { name: 'replay after 1023', hold: 0, depth: 0, replayAfter: 1023 },
  { name: 'replay after 1025', hold: 0, depth: 0, replayAfter: 1025 },
  { name: 'replay after 5000', hold: 0, depth: 0, replayAfter: 5000 },
  { name: 'hold 5% by 100', hold: 0.05, depth: 100, replayAfter: undefined },
  { name: 'hold 5% by 1000', hold: 0.05, depth: 1000, replayAfter: undefined },
  { name: 'hold 5% by 1100', hold: 0.05, depth: 1100, replayAfter: undefined },
  { name: 'hold 30% by 900 + replay 1000', hold: 0.3, depth: 900, replayAfter: 1000 },
];

const message = (tag: string, i: number): Uint8Array => {
  const b = new Uint8Array(SIZE);
  const h = createHash('sha256').update(`${tag}${i}`).digest();
  for (let k = 0; k < SIZE; k++) b[k] = (h[k % 32] as number) ^ (k & 0xff);
  b[0] = i;
  return b;
};

/** Wraps `ep.handleDatagram` so that datagrams reach it reordered and replayed as `s` says. */
const attack = (ep: Endpoint, s: Setting, random: () => number, counts: { held: number; replayed: number; readonly plainReplays: Map<number, number> }): void => {
  if (s.hold === 0 && s.replayAfter === undefined) return;
  const real = ep.handleDatagram.bind(ep);
  // Due datagrams by the index of the genuine arrival at which they go.
  const due = new Map<number, { readonly d: Uint8Array; readonly replay: boolean }[]>();
  let index = 0;
  const later = (at: number, d: Uint8Array, replay = false): void => {
    const list = due.get(at) ?? [];
    list.push({ d, replay });
    due.set(at, list);
  };
  ep.handleDatagram = (now: number, data: Uint8Array, from: PeerAddress): void => {
    index++;
    const copy = data.slice();
    if (s.replayAfter !== undefined) later(index + s.replayAfter, copy.slice(), true);
    if (random() < s.hold) {
      counts.held++;
      later(index + s.depth, copy);
    } else {
      real(now, data, from);
    }
    const go = due.get(index);
    if (go !== undefined) {
      due.delete(index);
      for (const g of go) {
        // Counted as it goes: those due after the transfer ended never reach the endpoint.
        if (g.replay) {
          counts.replayed++;
          const type = (g.d[0] as number) & 0x07;
          if (type !== 5 && type !== 6) counts.plainReplays.set(type, (counts.plainReplays.get(type) ?? 0) + 1);
        }
        real(now, g.d, from);
      }
    }
  };
};

interface Result {
  readonly ms: number;
  readonly downOk: boolean;
  readonly upOk: boolean;
  readonly clientReplay: number;
  readonly serverReplay: number;
  readonly held: number;
  readonly replayed: number;
  readonly auth: number;
}

const run = (seed: number, s: Setting): Result => {
  const sim = new SimNetwork({ seed, defaultLink: { delayMs: 10, jitterMs: 1, bandwidthBps: 200_000_000 } });
  const client = new Endpoint({ random: sim.random('client'), crypto: deterministicCrypto(nodeCryptoProvider, sim.random('client-crypto')) });
  const server = new Endpoint({ random: sim.random('server'), acceptIncoming: true, crypto: deterministicCrypto(nodeCryptoProvider, sim.random('server-crypto')) });
  const arand = sim.random('attacker');
  const r = (): number => (arand() >>> 0) / 2 ** 32;
  const counts = { held: 0, replayed: 0, plainReplays: new Map<number, number>() };
  attack(client, s, r, counts);
  attack(server, s, r, counts);
  const down: Uint8Array[] = [];
  const up: Uint8Array[] = [];
  let sc: Connection | undefined;
  let doneAt = -1;
  sim.addNode(SERVER, server, {
    onActivity: (now) => {
      for (let e = server.pollEvent(); e; e = server.pollEvent()) {
        if (e.type === 'incoming') {
          sc = e.connection;
          for (let i = 0; i < DOWN; i++) sc.send(message('d', i));
        }
        if (e.type === 'message') up.push(e.data.slice());
      }
      if (doneAt < 0 && down.length >= DOWN && up.length >= UP) doneAt = now;
    },
  });
  sim.addNode(CLIENT, client, {
    onActivity: (now) => {
      for (let e = client.pollEvent(); e; e = client.pollEvent()) if (e.type === 'message') down.push(e.data.slice());
      if (doneAt < 0 && down.length >= DOWN && up.length >= UP) doneAt = now;
    },
  });
  const conn = client.connect(0, SERVER);
  for (let i = 0; i < UP; i++) conn.send(message('u', i));
  sim.wake(CLIENT);
  for (let t = 1000; t <= 120_000 && doneAt < 0; t += 1000) sim.runUntil(t);
  const same = (got: readonly Uint8Array[], tag: string, n: number): boolean =>
    got.length === n && got.every((g, i) => Buffer.compare(Buffer.from(g), Buffer.from(message(tag, i))) === 0);
  const cd = client.stats().dropped;
  const sd = server.stats().dropped;
  // A22_DROPS=1: every drop counter that moved, both ends (where the replays that were not `replay` went).
  if (process.env.A22_DROPS === '1') {
    const moved = (d: Record<string, number>): string => Object.entries(d).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`).join(', ');
    const plain = [...counts.plainReplays].map(([t, n]) => `type ${t}: ${n}`).join(', ');
    console.log(`  [${s.name}, seed ${seed}] client: ${moved(cd as unknown as Record<string, number>)}; server: ${moved(sd as unknown as Record<string, number>)}; replays of plain (handshake) datagrams: ${plain}`);
  }
  return {
    ms: doneAt,
    downOk: same(down, 'd', DOWN),
    upOk: same(up, 'u', UP),
    clientReplay: cd.replay,
    serverReplay: sd.replay,
    held: counts.held,
    replayed: counts.replayed,
    auth: cd.auth + sd.auth,
  };
};

console.log('setting                         seed   done ms  ×none  down  up   held  replayed  dropped as replay (client/server)  auth');
let bad = 0;
for (let seed = 1; seed <= seeds; seed++) {
  let base = 0;
  for (const s of SETTINGS) {
    const r = run(seed, s);
    if (s.name === 'none') base = r.ms;
    const whole = r.downOk && r.upOk && r.ms >= 0;
    if (!whole) bad++;
    console.log(
      `${s.name.padEnd(31)} ${String(seed).padStart(4)} ${String(Math.round(r.ms)).padStart(9)} ${(r.ms / base).toFixed(2).padStart(6)} ${(r.downOk ? 'ok' : 'BAD').padStart(5)} ${(r.upOk ? 'ok' : 'BAD').padStart(4)} ${String(r.held).padStart(6)} ${String(r.replayed).padStart(9)} ${`${r.clientReplay}/${r.serverReplay}`.padStart(35)} ${String(r.auth).padStart(5)}`,
    );
  }
}
console.log(`\nruns not whole: ${bad}`);
