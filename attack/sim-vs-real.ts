/**
 * Attack round 21, left over: rudpx under heavy loss, real sockets against the simulator.
 * One plain transfer (no forum): the client asks, the server writes one message of `$SIZE`
 * bytes (default 4 MiB) back; timed from the request to the whole message at the client.
 *
 *   npx tsx attack/sim-vs-real.ts real <case> [runs=3]     # loopback through lib-path.ts's relay
 *   npx tsx attack/sim-vs-real.ts sim <case> [seeds=1-6]   # the seeded simulator, 1 ms each way, 100 Mbit/s
 *   npx tsx attack/sim-vs-real.ts raw <case>               # the relay alone: raw dgram through it
 *
 * Cases: `clean`, `data30`, `data50` (30 or 50 % of server → client datagrams lost), `ack50` (50 % of client → server
 * lost: its ACKs), `both30` (30 % each way).
 *
 * `real`: the server and the client are child processes of their own (so neither shares an event loop
 * with the relay, which runs here); `$INPROC=1` runs all three in this process. The loss starts once
 * the connection is up. Each run prints the time, the sender's and receiver's rudpx `stats()`, the
 * relay's counters, and with `$TRACE=1` the sender's timer wake-ups (how late each fired).
 */
import { fork, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect, listen, nodeCryptoProvider, type RudpConnection } from '../packages/rudp/dist/index.js';
import { Endpoint, type Connection, type ConnectionStats } from '../packages/rudp/dist/core.js';
import { SimNetwork, createRandom, deterministicCrypto } from '../packages/rudp/dist/testing.js';
import { nextMessage } from './lib-child-message.js';
import { startPathRelay, type Impairment, LOSS_CASES } from './lib-path.js';

const SIZE = Number(process.env.SIZE ?? 4 * 2 ** 20);
/** `$COUNT` messages of `$SIZE` bytes each (the forum's RDT of a 3.9 MiB thread is about 1,000 of 4,012 B); default 1. */
const COUNT = Number(process.env.COUNT ?? 1);
/** `$ACK_DELAY`: both ends' `maxAckDelayMs` (default the library's, 25 ms), to test how much the probe timeout's share of it costs. */
const tuning = process.env.ACK_DELAY === undefined ? {} : { maxAckDelayMs: Number(process.env.ACK_DELAY) };
/**
 * Simulator only: `$ACK_EVERY` sets `ackEveryPackets` (a receiver on real sockets reads a burst in one
 * batch and sends one ACK for it: about 10 packets on loopback), `$DELAY_MS` the one-way delay (default 1).
 */
const simTuning = { ...tuning, ...(process.env.ACK_EVERY === undefined ? {} : { ackEveryPackets: Number(process.env.ACK_EVERY) }) };
const SIM_DELAY_MS = Number(process.env.DELAY_MS ?? 1);
/** Simulator only: `$BATCH_MS`, both nodes' `receiveBatchMs` (datagrams read in batches, as the adapter reads a socket). */
const batchOption = process.env.BATCH_MS === undefined ? {} : { receiveBatchMs: Number(process.env.BATCH_MS) };
const [mode = 'real', kase = 'data50', third] = process.argv.slice(2);

const CASES = LOSS_CASES;

/** The counters worth a look, on one line. */
const brief = (s: ConnectionStats): string =>
  `sent ${s.packetsSent} rtx ${s.packetsRetransmitted} lost ${s.packetsLost} spurious ${s.spuriousRetransmissions} recv ${s.packetsReceived} dup ${s.duplicatePackets} ` +
  `repairs ${s.repairsSent} recovered ${s.messagesRecovered} srtt ${s.srttMs.toFixed(2)} rttvar ${s.rttVarMs.toFixed(2)} minRtt ${s.minRttMs.toFixed(3)} ` +
  `cwnd ${s.cwndBytes} inflight ${s.bytesInFlight} pktThr ${s.packetThreshold} reorderWin ${s.reorderWindowMs.toFixed(2)} cc ${s.congestionController}`;

const lossOf = (name: string): { readonly down: number; readonly up: number } => {
  const c = CASES[name];
  if (c === undefined) throw new Error(`unknown case ${name}; one of ${Object.keys(CASES).join(', ')}`);
  return c;
};

/**
 * Counts the sender's probe timeouts (and the largest backoff) and the time it sent nothing for more
 * than 5 ms while its message was unacknowledged, through the core's loss detection (internal fields).
 */
const instrument = (core: Connection): (() => string) => {
  const rec = (core as unknown as { recovery: { ptoCount: number; onPtoExpired(): void; onPacketSent(now: number, p: unknown): void } }).recovery;
  let ptos = 0;
  let maxBackoff = 0;
  let last: number | undefined;
  let stalls = 0;
  let stalledMs = 0;
  const onPto = rec.onPtoExpired.bind(rec);
  rec.onPtoExpired = () => {
    ptos++;
    onPto();
    maxBackoff = Math.max(maxBackoff, rec.ptoCount);
  };
  const onSent = rec.onPacketSent.bind(rec);
  rec.onPacketSent = (now, p) => {
    if (last !== undefined && now - last > 5) {
      stalls++;
      stalledMs += now - last;
    }
    last = now;
    onSent(now, p);
  };
  return () => `PTOs ${ptos} (backoff up to ${maxBackoff}); ${stalls} silences over 5 ms, ${stalledMs.toFixed(0)} ms in all`;
};

/**
 * With `$TIMELINE=<file>`, appends one line per event of `core` to `<file>.<role>`: the time (ms, on
 * the clock `at` gives), then `s pn` a packet sent, `a hi` an ACK whose largest is `hi` handled (and the
 * congestion controller's state after it), `G` an ACK-only packet asking for an ack-of-ack,
 * `P` a probe timeout (stamped with the time of the event before it: the core does not pass the time), `r pn` a packet received, `A` an ACK frame written.
 */
const timeline = (core: Connection, role: string, at: (now: number) => number): (() => void) => {
  const file = process.env.TIMELINE;
  if (file === undefined) return () => undefined;
  const lines: string[] = [];
  const c = core as unknown as {
    recovery: { onPtoExpired(): void; onPacketSent(now: number, p: { pn: number }): void; onAck(now: number, f: { ranges: readonly { hi: number }[] }, ...rest: unknown[]): boolean };
    acks: { onPacket(now: number, pn: number, ...rest: unknown[]): void; write(now: number, ...rest: unknown[]): number };
  };
  let last = 0;
  const r = c.recovery;
  const onPto = r.onPtoExpired.bind(r);
  r.onPtoExpired = () => (lines.push(`${last.toFixed(3)} P`), onPto());
  const onSent = r.onPacketSent.bind(r);
  r.onPacketSent = (now, p) => ((last = at(now)), lines.push(`${last.toFixed(3)} s ${p.pn}`), onSent(now, p));
  const onAck = r.onAck.bind(r);
  // After each ACK the controller's state (BBR's fields, read as they are): window, bottleneck rate (bytes/ms), loss
  // average, whether it takes the RTT as queueing (no loss compensation then), smallest RTT, and the connection's srtt.
  const cc = (core as unknown as { cc: Record<string, unknown> }).cc;
  const num = (v: unknown): string => (typeof v === 'number' ? v.toFixed(3) : String(v));
  const ccState = (): string => `cwnd ${num(cc.cwnd)} bw ${num(cc.maxBw)} loss ${num(cc.lossFraction)} qd ${String(cc.queueDelayed)} minRtt ${num(cc.smallestRtt)} srtt ${core.stats().srttMs.toFixed(3)}`;
  r.onAck = (now, f, ...rest) => {
    last = at(now);
    const out = onAck(now, f, ...rest);
    lines.push(`${last.toFixed(3)} a ${f.ranges[0]?.hi} ${ccState()}`);
    return out;
  };
  const k = c.acks;
  const onPacket = k.onPacket.bind(k);
  k.onPacket = (now, pn, ...rest) => ((last = at(now)), lines.push(`${last.toFixed(3)} r ${pn}`), onPacket(now, pn, ...rest));
  const write = k.write.bind(k);
  k.write = (now, ...rest) => ((last = at(now)), lines.push(`${last.toFixed(3)} A`), write(now, ...rest));
  // `G`: an ACK-only packet asks for an ack-of-ack (carries a PING).
  const kk = k as unknown as { wantsAckOfAck(): boolean };
  const wants = kk.wantsAckOfAck.bind(kk);
  kk.wantsAckOfAck = () => {
    const yes = wants();
    if (yes) lines.push(`${last.toFixed(3)} G`);
    return yes;
  };
  return () => writeFileSync(`${file}.${role}`, lines.join('\n') + '\n');
};

// ---------------------------------------------------------------- children (real sockets)

/** A wrapper of the sender's adapter that records when each timer wake-up was due and when it ran. */
const traceTimers = (c: RudpConnection): (() => string) => {
  const io = (c as unknown as { io: { endpoint: { pollTimeout(): number | undefined }; onTimer: () => void; onImmediate: () => void; timerAt: number } }).io;
  const lates: number[] = [];
  /** Wake-ups by a timer set for a deadline later than the one due: the deadline moved earlier and nobody re-armed. */
  const missed: number[] = [];
  let wakeups = 0;
  let immediates = 0;
  const wrap = (name: 'onTimer' | 'onImmediate'): void => {
    const inner = io[name];
    io[name] = () => {
      const due = io.endpoint.pollTimeout();
      if (due !== undefined) lates.push(performance.now() - due);
      if (name === 'onTimer' && due !== undefined && io.timerAt - due > 1) missed.push(io.timerAt - due);
      if (name === 'onTimer') wakeups++;
      else immediates++;
      inner();
    };
  };
  wrap('onTimer');
  wrap('onImmediate');
  return () => {
    const s = [...lates].sort((a, b) => a - b);
    const q = (p: number): string => (s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? 0).toFixed(2);
    const m = missed.reduce((a, b) => a + b, 0);
    return `timer wake-ups ${wakeups}, immediates ${immediates}; lateness ms p50 ${q(0.5)} p90 ${q(0.9)} p99 ${q(0.99)} max ${q(1)}; ${missed.length} timers set more than 1 ms after the deadline due (${m.toFixed(0)} ms in all)`;
  };
};

/** The server: answers each request of 1 byte with one message of `SIZE` bytes; the stats after it is acknowledged. */
const serve = async (send: (m: unknown) => void): Promise<{ port: number; close(): Promise<void> }> => {
  const server = await listen({ port: 0, host: '127.0.0.1', ...tuning });
  const payload = Buffer.alloc(SIZE, 7);
  server.on('connection', (c: RudpConnection) => {
    c.on('message', (m: Buffer) => {
      if (m.length !== 1) return;
      const report = process.env.TRACE === '1' ? traceTimers(c) : undefined;
      const probes = instrument((c as unknown as { core: Connection }).core);
      const save = timeline((c as unknown as { core: Connection }).core, 'sender', (now) => performance.timeOrigin + now);
      const t0 = performance.now();
      for (let i = 1; i < COUNT; i++) c.write(payload);
      void c
        .send(payload)
        .then(() => save())
        .then(() => send({ kind: 'acked', ms: performance.now() - t0, stats: `${brief(c.stats())}\n            ${probes()}`, trace: report?.() }));
    });
  });
  return { port: server.address().port, close: () => server.close() };
};

/** The client: connects to `port`, then on each `go` asks and times the reply. */
const fetchOnce = async (c: RudpConnection): Promise<{ ms: number; stats: string }> => {
  const save = timeline((c as unknown as { core: Connection }).core, 'receiver', (now) => performance.timeOrigin + now);
  const t0 = performance.now();
  let n = 0;
  const got = new Promise<void>((resolve) => {
    const on = (): void => {
      if (++n < COUNT) return;
      c.off('message', on);
      save();
      resolve();
    };
    c.on('message', on);
  });
  c.write(Buffer.alloc(1, 1));
  await got;
  return { ms: performance.now() - t0, stats: brief(c.stats()) };
};

if (mode === 'serve-child') {
  const s = await serve((m) => process.send?.(m));
  process.send?.({ kind: 'port', port: s.port });
} else if (mode === 'fetch-child') {
  const c = await connect({ port: Number(kase), host: '127.0.0.1', ...tuning });
  process.send?.({ kind: 'up' });
  process.on('message', (m: { kind: string }) => {
    if (m.kind === 'go') void fetchOnce(c).then((r) => process.send?.({ kind: 'got', ...r }));
    if (m.kind === 'end') {
      c.destroy();
      process.exit(0);
    }
  });
}


const self = new URL(import.meta.url).pathname;

/** One transfer on real sockets through the relay; returns its time in ms. */
const realRun = async (name: string, run: number): Promise<number> => {
  const loss = lossOf(name);
  const inproc = process.env.INPROC === '1';
  let port: number;
  let serverChild: ChildProcess | undefined;
  let acked: Promise<{ ms: number; stats: string; trace?: string }>;
  let closeServer: () => Promise<void> = async () => undefined;
  if (inproc) {
    let resolveAcked: (m: { ms: number; stats: string; trace?: string }) => void = () => undefined;
    acked = new Promise((r) => (resolveAcked = r));
    const s = await serve((m) => resolveAcked(m as { ms: number; stats: string }));
    port = s.port;
    closeServer = s.close;
  } else {
    serverChild = fork(self, ['serve-child']);
    port = (await nextMessage<{ port: number }>(serverChild, 'port')).port;
    acked = nextMessage(serverChild, 'acked');
  }
  const relay = await startPathRelay(port);
  let got: Promise<{ ms: number; stats: string }>;
  let fetchChild: ChildProcess | undefined;
  let client: RudpConnection | undefined;
  if (inproc) {
    client = await connect({ port: relay.port, host: '127.0.0.1', ...tuning });
    relay.down = { loss: loss.down } satisfies Impairment;
    relay.up = { loss: loss.up };
    got = fetchOnce(client);
  } else {
    fetchChild = fork(self, ['fetch-child', String(relay.port)]);
    await nextMessage(fetchChild, 'up');
    relay.down = { loss: loss.down };
    relay.up = { loss: loss.up };
    got = nextMessage(fetchChild, 'got');
    fetchChild.send({ kind: 'go' });
  }
  const r = await got;
  const a = await acked;
  console.log(`${name} run ${run}: ${(r.ms / 1000).toFixed(2)} s to receive ${COUNT} × ${SIZE} B (sender acked after ${(a.ms / 1000).toFixed(2)} s)`);
  console.log(`  sender:   ${a.stats}`);
  console.log(`  receiver: ${r.stats}`);
  if (a.trace !== undefined) console.log(`  sender ${a.trace}`);
  const d = relay.downCounts;
  const u = relay.upCounts;
  console.log(`  relay down offered ${d.offered} dropped ${d.dropped}; up offered ${u.offered} dropped ${u.dropped}`);
  client?.destroy();
  fetchChild?.send({ kind: 'end' });
  relay.close();
  await closeServer();
  serverChild?.kill();
  return r.ms;
};

// ---------------------------------------------------------------- the simulator

/** The same transfer in the simulator: 1 ms each way, 100 Mbit/s, IPv4 + UDP headers, a 1472-byte path. */
const simRun = (name: string, seed: number): number => {
  const loss = lossOf(name);
  const sim = new SimNetwork({ seed, defaultLink: { delayMs: SIM_DELAY_MS, bandwidthBps: 100e6, headerBytes: 28, mtu: 1472 } });
  const make = (label: string, acceptIncoming: boolean): Endpoint => {
    const random = sim.random(label);
    return new Endpoint({ random, acceptIncoming, crypto: deterministicCrypto(nodeCryptoProvider, createRandom(random())), ...simTuning });
  };
  const ce = make('client', false);
  const se = make('server', true);
  let serverConn: Connection | undefined;
  let doneAt: number | undefined;
  const payload = new Uint8Array(SIZE).fill(7);
  let t0 = 0;
  let probes: (() => string) | undefined;
  let received = 0;
  let saveTimeline: () => void = () => undefined;
  sim.addNode('c', ce, {
    ...batchOption,
    onActivity: (now) => {
      for (let ev = ce.pollEvent(); ev; ev = ce.pollEvent()) if (ev.type === 'message' && ++received === COUNT) doneAt ??= now;
    },
  });
  sim.addNode('s', se, {
    ...batchOption,
    onActivity: () => {
      for (let ev = se.pollEvent(); ev; ev = se.pollEvent()) {
        if (ev.type === 'message' && ev.data.length === 1) {
          serverConn = ev.connection;
          probes = instrument(serverConn);
          saveTimeline = timeline(serverConn, 'sim-sender', (now) => now);
          const st = serverConn.stats();
          console.log(`  sender at the request: srtt ${st.srttMs.toFixed(2)} rttvar ${st.rttVarMs.toFixed(2)} minRtt ${st.minRttMs.toFixed(3)} cwnd ${st.cwndBytes.toFixed(0)}`);
          for (let i = 0; i < COUNT; i++) serverConn.send(payload);
        }
      }
    },
  });
  const conn = ce.connect(0, 's');
  const saveReceiverTimeline = timeline(conn, 'sim-receiver', (now) => now);
  sim.wake('c');
  sim.runFor(100);
  sim.setLink('s', 'c', { delayMs: SIM_DELAY_MS, bandwidthBps: 100e6, headerBytes: 28, mtu: 1472, loss: loss.down });
  sim.setLink('c', 's', { delayMs: SIM_DELAY_MS, bandwidthBps: 100e6, headerBytes: 28, mtu: 1472, loss: loss.up });
  t0 = sim.now;
  conn.send(new Uint8Array([1]));
  sim.wake('c');
  while (doneAt === undefined && sim.now < t0 + 300_000) sim.runFor(10);
  const ms = (doneAt ?? Number.NaN) - t0;
  saveTimeline();
  saveReceiverTimeline();
  console.log(`${name} seed ${seed}: ${(ms / 1000).toFixed(2)} s`);
  if (serverConn) console.log(`  sender:   ${brief(serverConn.stats())}\n            ${probes?.() ?? ''}`);
  console.log(`  receiver: ${brief(conn.stats())}`);
  return ms;
};

// ---------------------------------------------------------------- the relay alone

/** Raw datagrams through the relay: 4 MiB in 1400-byte datagrams, as fast as dgram sends them; what arrives and how fast. */
const rawRun = async (name: string): Promise<void> => {
  const loss = lossOf(name);
  const sink = dgram.createSocket('udp4');
  await new Promise<void>((r) => sink.bind(0, '127.0.0.1', r));
  const relay = await startPathRelay((sink.address() as AddressInfo).port);
  const src = dgram.createSocket('udp4');
  await new Promise<void>((r) => src.bind(0, '127.0.0.1', r));
  // Learn the client address (the relay forwards down only to the last sender), then impair.
  src.send(Buffer.alloc(1), relay.port, '127.0.0.1');
  await once(sink, 'message');
  relay.up = { loss: loss.up };
  relay.down = { loss: loss.down };
  const n = Math.ceil(SIZE / 1400);
  let arrived = 0;
  let last = 0;
  sink.on('message', () => {
    arrived++;
    last = performance.now();
  });
  const t0 = performance.now();
  const d = Buffer.alloc(1400, 7);
  for (let i = 0; i < n; i++) {
    src.send(d, relay.port, '127.0.0.1');
    if (i % 64 === 63) await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setTimeout(r, 1000));
  console.log(`raw ${name}: ${n} datagrams up, ${arrived} arrived (${((100 * arrived) / n).toFixed(1)} %), last ${(last - t0).toFixed(0)} ms after the first send`);
  relay.close();
  src.close();
  sink.close();
};

if (mode === 'real') {
  const runs = Number(third ?? 3);
  const times: number[] = [];
  for (let i = 1; i <= runs; i++) times.push(await realRun(kase, i));
  console.log(`real ${kase}${process.env.INPROC === '1' ? ' (one process)' : ''}: ${times.map((t) => (t / 1000).toFixed(2)).join(', ')} s`);
  process.exit(0);
} else if (mode === 'sim') {
  const [from, to] = (third ?? '1-6').split('-').map(Number);
  const times: number[] = [];
  for (let s = from ?? 1; s <= (to ?? from ?? 6); s++) times.push(simRun(kase, s));
  console.log(`sim ${kase}: ${times.map((t) => (t / 1000).toFixed(2)).join(', ')} s`);
} else if (mode === 'raw') {
  await rawRun(kase);
}
