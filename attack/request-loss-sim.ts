/**
 * Round 24: one request at a time through the seeded simulator, the client's datagrams lost; per request
 * the time from its send to the server's 40-byte reply, and (`$VERBOSE=1`) each probe timeout of the
 * client with the srtt, rttvar and probe timeout behind it (`$VERBOSE=2` also every packet sent and ACK heard).
 *
 *   npx tsx attack/request-loss-sim.ts [size=4000] [up-loss=0.5] [seeds=1-6] [requests=20] [one-way-ms=1]
 *
 * The link is sim-vs-real.ts's: 100 Mbit/s, IPv4 + UDP headers, a 1472-byte path. `$ACK_DELAY` sets both
 * ends' `maxAckDelayMs` (default the library's).
 */
import { Endpoint, type Connection } from '../packages/rudp/dist/core.js';
import { nodeCryptoProvider } from '../packages/rudp/dist/index.js';
import { SimNetwork, createRandom, deterministicCrypto } from '../packages/rudp/dist/testing.js';

const SIZE = Number(process.argv[2] ?? 4000);
const LOSS = Number(process.argv[3] ?? 0.5);
const [firstSeed = 1, lastSeed = firstSeed] = (process.argv[4] ?? '1-6').split('-').map(Number);
const REQUESTS = Number(process.argv[5] ?? 20);
const DELAY_MS = Number(process.argv[6] ?? 1);
const VERBOSE = Number(process.env.VERBOSE ?? 0);
const tuning = process.env.ACK_DELAY === undefined ? {} : { maxAckDelayMs: Number(process.env.ACK_DELAY) };
const REPLY = 40;

/** The core's loss detection, as far as this script reads it (internal fields). */
interface Recovery {
  ptoCount: number;
  readonly rtt: { readonly srtt: number; readonly rttvar: number };
  readonly lastAckElicitingSentAt: number;
  ptoDeadline(): number;
  packets(): Iterable<unknown>;
  onPtoExpired(): void;
  onPacketSent(now: number, p: { readonly pn: number; readonly chunks: readonly { readonly index: number }[] }): void;
  onAck(now: number, f: { readonly ranges: readonly { readonly lo: number; readonly hi: number }[]; readonly delayMicros: number }, ...rest: unknown[]): boolean;
}

const all: number[] = [];
for (let seed = firstSeed; seed <= lastSeed; seed++) {
  const link = { delayMs: DELAY_MS, bandwidthBps: 100e6, headerBytes: 28, mtu: 1472 };
  const sim = new SimNetwork({ seed, defaultLink: link });
  const make = (label: string, acceptIncoming: boolean): Endpoint => {
    const random = sim.random(label);
    return new Endpoint({ random, acceptIncoming, crypto: deterministicCrypto(nodeCryptoProvider, createRandom(random())), ...tuning });
  };
  const ce = make('client', false);
  const se = make('server', true);
  const log: string[] = [];
  const times: number[] = [];
  let sentAt = 0;
  let i = 0;
  let conn: Connection | undefined;
  const sendNext = (now: number): void => {
    sentAt = now;
    conn?.send(new Uint8Array(SIZE).fill(i & 0xff));
  };
  sim.addNode('s', se, {
    onActivity: () => {
      for (let e = se.pollEvent(); e; e = se.pollEvent()) if (e.type === 'message' && e.data.length === SIZE) e.connection.send(new Uint8Array(REPLY));
    },
  });
  sim.addNode('c', ce, {
    onActivity: (now) => {
      for (let e = ce.pollEvent(); e; e = ce.pollEvent()) {
        if (e.type !== 'message' || e.data.length !== REPLY) continue;
        times.push(now - sentAt);
        if (VERBOSE > 0) log.push(`${now.toFixed(2)} reply ${i} after ${(now - sentAt).toFixed(2)} ms`);
        if (++i < REQUESTS) sendNext(now);
      }
    },
  });
  conn = ce.connect(0, 's');
  const r = (conn as unknown as { recovery: Recovery }).recovery;
  const onPto = r.onPtoExpired.bind(r);
  r.onPtoExpired = () => {
    const wait = r.ptoDeadline() - r.lastAckElicitingSentAt;
    const n = [...r.packets()].length;
    if (VERBOSE > 0) log.push(`${sim.now.toFixed(2)} probe timeout (backoff ${r.ptoCount}): ${n} in flight, srtt ${r.rtt.srtt.toFixed(2)} rttvar ${r.rtt.rttvar.toFixed(2)}, timeout ${wait.toFixed(2)} ms; ${(sim.now - sentAt).toFixed(2)} ms after the request`);
    onPto();
  };
  if (VERBOSE > 1) {
    const onSent = r.onPacketSent.bind(r);
    r.onPacketSent = (now, p) => (log.push(`${now.toFixed(2)}   sent ${p.pn} chunks ${p.chunks.map((c) => c.index).join(',')}`), onSent(now, p));
    const onAck = r.onAck.bind(r);
    r.onAck = (now, f, ...rest) => (log.push(`${now.toFixed(2)}   ACK ${f.ranges.map((x) => `${x.lo}-${x.hi}`).join(' ')} delay ${(f.delayMicros / 1000).toFixed(2)}`), onAck(now, f, ...rest));
  }
  sim.wake('c');
  sim.runFor(200);
  sim.setLink('c', 's', { ...link, loss: LOSS });
  if (VERBOSE > 0) log.push(`${sim.now.toFixed(2)} first request: srtt ${r.rtt.srtt.toFixed(2)} rttvar ${r.rtt.rttvar.toFixed(2)}`);
  sendNext(sim.now);
  sim.wake('c');
  while (i < REQUESTS && sim.now < 120_000) sim.runFor(10);
  if (VERBOSE > 0) console.log(log.join('\n'));
  const sum = times.reduce((a, b) => a + b, 0);
  console.log(`seed ${seed}: ${times.length} requests of ${SIZE} B, ${sum.toFixed(0)} ms in all, mean ${(sum / times.length).toFixed(1)} ms`);
  all.push(...times);
}
all.sort((a, b) => a - b);
const q = (p: number): string => (all[Math.min(all.length - 1, Math.floor(p * all.length))] ?? NaN).toFixed(1);
console.log(`all seeds: mean ${(all.reduce((a, b) => a + b, 0) / all.length).toFixed(1)} ms, p50 ${q(0.5)}, p90 ${q(0.9)}, max ${q(1)}`);
