/**
 * Round 24: `request-loss-sim.ts` on real sockets: a rudpx server process answering each message with 40
 * bytes, a client process sending one request at a time through lib-path.ts's relay (in this process),
 * which drops `up-loss` of the client's datagrams once the client is connected. Per run: the requests' times,
 * and the client's probe timeouts (srtt, rttvar, packets in flight, the timeout from the last ack-eliciting
 * packet, the timer's lateness) read from the core's loss detection (internal fields).
 *
 *   npx tsx attack/request-loss-real.ts [size=4000] [up-loss=0.5] [requests=40] [runs=3]
 *
 * `$ACK_DELAY` sets both ends' `maxAckDelayMs`; `$VERBOSE=1` prints each request with its probe timeouts.
 */
import { fork } from 'node:child_process';
import { loadavg } from 'node:os';
import { connect, listen, type RudpConnection } from '../packages/rudp/dist/index.js';
import { nextMessage } from './lib-child-message.js';
import { startPathRelay } from './lib-path.js';

const [mode = '4000', a1, a2, a3] = process.argv.slice(2);
const self = new URL(import.meta.url).pathname;
const tuning = process.env.ACK_DELAY === undefined ? {} : { maxAckDelayMs: Number(process.env.ACK_DELAY) };
const REPLY = 40;

/** One probe timeout as the client saw it. */
interface Probe {
  readonly count: number;
  readonly inFlight: number;
  readonly srtt: number;
  readonly rttvar: number;
  readonly wait: number;
  readonly late: number;
}

/** What the client reports at the end of a run. */
interface Done {
  readonly times: readonly number[];
  readonly lines: readonly string[];
  readonly probes: readonly Probe[];
}

/** The core's loss detection, as far as this script reads it. */
interface Recovery {
  readonly ptoCount: number;
  readonly rtt: { readonly srtt: number; readonly rttvar: number };
  readonly lastAckElicitingSentAt: number;
  ptoDeadline(): number;
  packets(): Iterable<unknown>;
  onPtoExpired(): void;
}


if (mode === 'server') {
  const server = await listen({ port: 0, host: '127.0.0.1', ...tuning });
  server.on('connection', (c: RudpConnection) => c.on('message', (m: Buffer) => void c.write(Buffer.alloc(REPLY, m[0] ?? 0))));
  process.send?.({ kind: 'port', port: server.address().port });
} else if (mode === 'client') {
  const c = await connect({ port: Number(a1), host: '127.0.0.1', ...tuning });
  const r = (c as unknown as { core: { recovery: Recovery } }).core.recovery;
  let sentAt = 0;
  const probes: Probe[] = [];
  let ofRequest: string[] = [];
  const onPto = r.onPtoExpired.bind(r);
  r.onPtoExpired = () => {
    const now = performance.now();
    const due = r.ptoDeadline();
    const p: Probe = { count: r.ptoCount + 1, inFlight: [...r.packets()].length, srtt: r.rtt.srtt, rttvar: r.rtt.rttvar, wait: due - r.lastAckElicitingSentAt, late: now - due };
    probes.push(p);
    ofRequest.push(`+${(now - sentAt).toFixed(1)} backoff ${p.count - 1}, ${p.inFlight} in flight, srtt ${p.srtt.toFixed(1)} rttvar ${p.rttvar.toFixed(1)} timeout ${p.wait.toFixed(1)} late ${p.late.toFixed(1)}`);
    onPto();
  };
  process.send?.({ kind: 'up' });
  process.on('message', (m: { kind: string; size: number; n: number }) => {
    if (m.kind === 'end') {
      c.destroy();
      process.exit(0);
    }
    if (m.kind !== 'go') return;
    const times: number[] = [];
    const lines: string[] = [];
    let i = 0;
    const send = (): void => {
      ofRequest = [];
      sentAt = performance.now();
      c.write(Buffer.alloc(m.size, i & 0xff));
    };
    c.on('message', () => {
      const ms = performance.now() - sentAt;
      times.push(ms);
      lines.push(`${ms.toFixed(1)} ms${ofRequest.length > 0 ? ` [${ofRequest.join('; ')}]` : ''}`);
      if (++i < m.n) send();
      else process.send?.({ kind: 'done', times, lines, probes } satisfies Done & { kind: string });
    });
    send();
  });
} else {
  const size = Number(mode);
  const loss = Number(a1 ?? 0.5);
  const n = Number(a2 ?? 40);
  const runs = Number(a3 ?? 3);
  const all: number[] = [];
  const probes: Probe[] = [];
  for (let run = 1; run <= runs; run++) {
    const server = fork(self, ['server']);
    const port = (await nextMessage<{ port: number }>(server, 'port')).port;
    const relay = await startPathRelay(port);
    const client = fork(self, ['client', String(relay.port)]);
    await nextMessage(client, 'up');
    relay.up = { loss };
    client.send({ kind: 'go', size, n });
    const d = await nextMessage<Done>(client, 'done');
    all.push(...d.times);
    probes.push(...d.probes);
    const sum = d.times.reduce((x, y) => x + y, 0);
    console.log(`run ${run} (load ${loadavg()[0]?.toFixed(1)}): ${n} requests of ${size} B, up loss ${loss}: ${sum.toFixed(0)} ms in all, mean ${(sum / n).toFixed(1)} ms`);
    if (process.env.VERBOSE === '1') console.log(`  ${d.lines.join('\n  ')}`);
    client.send({ kind: 'end' });
    server.kill();
    relay.close();
  }
  all.sort((x, y) => x - y);
  const q = (xs: readonly number[], p: number): string => ([...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? NaN).toFixed(1);
  console.log(`all runs: mean ${(all.reduce((x, y) => x + y, 0) / all.length).toFixed(1)} ms, p50 ${q(all, 0.5)}, p90 ${q(all, 0.9)}, max ${q(all, 1)}`);
  const first = probes.filter((p) => p.count === 1);
  const lone = first.filter((p) => p.inFlight === 1);
  const more = first.filter((p) => p.inFlight > 1);
  console.log(
    `probe timeouts ${probes.length}, ${first.length} without backoff: srtt p50 ${q(first.map((p) => p.srtt), 0.5)}, rttvar p50 ${q(first.map((p) => p.rttvar), 0.5)}; ` +
      `timeout p50 with one packet in flight ${q(lone.map((p) => p.wait), 0.5)} ms (${lone.length}), with more ${q(more.map((p) => p.wait), 0.5)} ms (${more.length}); timer late p50 ${q(probes.map((p) => p.late), 0.5)} ms`,
  );
}
