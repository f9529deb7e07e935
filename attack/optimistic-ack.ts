/**
 * Attack round 16, items 1 and 2: a client with a valid account whose ACKs
 * lie, to make the server send a large reply (RDTs of a 3.9 MiB thread)
 * faster than the path carries: the server as a flood source. The client
 * talks through a bottleneck relay (lib-bottleneck.ts: server-to-client at
 * `rate` KB/s, a tail-drop queue, a one-way delay); the relay counts what
 * the server offered the bottleneck, so each strategy's send rate is
 * compared with the path's and with an honest client's.
 *
 *   npx tsx attack/optimistic-ack.ts <strategy,…> [rateKBps=1000] [queueKB=64] [delayMs=20] [seconds=12] [rdts=3]
 *
 * Strategies (the client's own rudpx connection, its ACK writer replaced once the reply has flowed 250 ms):
 *   honest        the library's ACKs
 *   ahead:N       every ACK claims [1, largest received + N]
 *   fill          every ACK claims [1, largest received]: what the queue dropped too
 *   window:N      never a number that could be skipped: single-number gaps are the sender's skips, the next is
 *                 at least 128 later, so claims up to min(largest received + N, last gap + 127) (the best a
 *                 liar can do without being caught by the skips)
 *   unsent        honest, then one ACK of largest received + 100,000 once the reply flows
 *   delay-max     honest ranges, the ack-delay field at its largest (2^40 µs): RTT samples pulled down
 *   delay-zero    the library's ranges, the ack-delay field 0 while the ACKs are held 200 ms (A16_HOLD_MS)
 *                 by the relay's client side: RTT samples pushed up
 *
 * Prints per strategy: what the server offered the bottleneck per second, the ratio to the path's rate,
 * the drops, and how the connection ended (the close reason the client heard, the server's log).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, session } from './forum-raw.js';
import { startBottleneck, sumCounts, type BottleneckCounts } from './lib-bottleneck.js';
import { largeThreadFile } from '../packages/server/test/large-thread.js';
import type { PacketWriter } from '../packages/rudp/dist/core.js';
import type { RudpConnection } from '../packages/rudp/dist/index.js';

const strategies = (process.argv[2] ?? 'honest,ahead:4096,fill,window:40,unsent,delay-max').split(',');
const rateKBps = Number(process.argv[3] ?? 1000);
const queueKB = Number(process.argv[4] ?? 64);
const delayMs = Number(process.argv[5] ?? 20);
const seconds = Number(process.argv[6] ?? 12);
const rdts = Number(process.argv[7] ?? 3);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Range {
  lo: number;
  hi: number;
}
/** The parts of the connection's ACK generation the liar replaces (private in the library). */
interface Acks {
  largest: number;
  ackDue: number | undefined;
  ackElicitingUnacked: number;
  readonly received: { list(): readonly Range[] };
  write(now: number, w: PacketWriter, room: number): number;
  onPacket(now: number, pn: number, previousLargest: number, ackEliciting: boolean, carriesRepair: boolean): void;
}

/** An ACK frame (type 2) of `ranges` (highest first, at most 32), the delay field in 8 µs units. */
const writeAck = (w: PacketWriter, ranges: readonly Range[], delayUnits: number): void => {
  const rs = ranges.slice(0, 32);
  const first = rs[0] as Range;
  w.u8(2);
  w.varint(first.hi);
  w.varint(delayUnits);
  w.varint(rs.length - 1);
  w.varint(first.hi - first.lo);
  for (let i = 1; i < rs.length; i++) {
    w.varint((rs[i - 1] as Range).lo - (rs[i] as Range).hi - 2);
    w.varint((rs[i] as Range).hi - (rs[i] as Range).lo);
  }
};

/** The claim a strategy makes from the honest ranges; undefined: the library's own ACK. */
type Claim = (honest: readonly Range[]) => { readonly ranges: readonly Range[]; readonly delayUnits: number } | undefined;

const claimOf = (strategy: string, fired: { unsent: boolean; armed: boolean }): Claim => {
  const [name, arg] = strategy.split(':');
  const n = Number(arg ?? 0);
  switch (name) {
    case 'ahead':
      return (h) => ({ ranges: [{ lo: 1, hi: (h[0] as Range).hi + n }], delayUnits: 0 });
    case 'fill':
      return (h) => ({ ranges: [{ lo: 1, hi: (h[0] as Range).hi }], delayUnits: 0 });
    case 'window':
      return (h) => {
        let lastGap = 0;
        for (let i = 0; i + 1 < h.length; i++) if ((h[i] as Range).lo - (h[i + 1] as Range).hi === 2) lastGap = Math.max(lastGap, (h[i + 1] as Range).hi + 1);
        const top = h[0] as Range;
        const claim = Math.max(top.hi, Math.min(top.hi + n, lastGap + 127));
        return { ranges: [{ lo: top.lo, hi: claim }, ...h.slice(1)], delayUnits: 0 };
      };
    case 'unsent':
      return (h) => {
        if (fired.unsent) return undefined;
        fired.unsent = true;
        return { ranges: [{ lo: 1, hi: (h[0] as Range).hi + 100_000 }], delayUnits: 0 };
      };
    case 'delay-max':
      return (h) => ({ ranges: h, delayUnits: 2 ** 37 });
    case 'delay-zero':
      return (h) => ({ ranges: h, delayUnits: 0 });
    default:
      return () => undefined;
  }
};

/** Replaces `conn`'s ACK writer by `claim`'s, an ACK due on every packet (a liar wants the server to hear early). */
const lie = (conn: RudpConnection, claim: Claim, eager: boolean, armed: () => boolean): void => {
  const acks = (conn as unknown as { core: { acks: Acks } }).core.acks;
  const write = acks.write.bind(acks);
  acks.write = (now, w, room) => {
    const honest = acks.received.list();
    const c = honest.length === 0 || !armed() ? undefined : claim(honest);
    if (c === undefined) return write(now, w, room);
    writeAck(w, c.ranges, c.delayUnits);
    acks.ackDue = undefined;
    acks.ackElicitingUnacked = 0;
    return acks.largest;
  };
  if (!eager) return;
  const onPacket = acks.onPacket.bind(acks);
  acks.onPacket = (now, pn, prev, elic, rep) => {
    onPacket(now, pn, prev, elic, rep);
    acks.ackDue = now;
  };
};

const dir = await mkdtemp(join(tmpdir(), 'a16-optack-'));
const users = strategies.map((_, i) => `u${i}`);
await writeFile(join(dir, 'credentials.txt'), users.map((u) => `${u} pw-${u}\n`).join(''));
await writeFile(join(dir, 'big'), largeThreadFile('u0', Math.floor((3.9 * 1024 * 1024) / 4012)));
const port = 40_000 + Math.floor(Math.random() * 20_000);
const server = await startServer(dir, port, port + 1);
const path = `${rateKBps} KB/s, ${queueKB} KB queue, ${delayMs} ms each way`;
console.log(`bottleneck ${path}; ${rdts} RDTs of a 3.9 MiB thread a client; ${seconds} s a strategy`);
try {
  for (const [i, strategy] of strategies.entries()) {
    const holdMs = strategy === 'delay-zero' ? Number(process.env.A16_HOLD_MS ?? 200) : 0;
    const relay = await startBottleneck(port, { rateBytesPerS: rateKBps * 1000, queueBytes: queueKB * 1024, delayMs, upExtraDelayMs: holdMs });
    const ac = new AbortController();
    const logAt = server.out.length;
    const s = await session(relay.port, users[i] as string, ac.signal);
    let ended = '';
    s.conn.on('error', (e: Error & { code?: string }) => (ended ||= `error ${e.code ?? ''} ${e.message}`));
    s.conn.on('close', () => {
      const why = (s.conn as unknown as { core: { closeReason?: { kind: string; code: number; message: string } } }).core.closeReason;
      ended ||= why === undefined ? 'closed' : `closed (${why.kind} ${why.code}: ${why.message})`;
    });
    const fired = { unsent: false, armed: false };
    // The lies begin once the reply flows (the first quarter second honest): a liar wants the big reply's
    // rate, and a claim above what the server has sent at all is caught at once ('never sent').
    lie(s.conn, claimOf(strategy, fired), strategy !== 'honest' && strategy !== 'delay-zero', () => fired.armed);
    relay.mark();
    const t0 = performance.now();
    const replies = Array.from({ length: rdts }, () => s.request('RDT', ['big']).then((r) => r.lines.length, () => -1));
    let done = 0;
    void Promise.all(replies).then(() => (done = performance.now() - t0));
    const perSecond: number[] = [];
    let second = 0;
    let total: BottleneckCounts = relay.mark();
    for (let t = 0; t < seconds * 4 && done === 0 && ended === ''; t++) {
      await sleep(250);
      if (t === 1) fired.armed = true;
      const c = relay.mark();
      total = sumCounts(total, c);
      second += c.offeredBytes;
      if (t % 4 === 3) {
        perSecond.push(Math.round(second / 1000));
        second = 0;
      }
    }
    const elapsed = (performance.now() - t0) / 1000;
    const got = await Promise.race([Promise.all(replies), sleep(100).then(() => undefined)]);
    const offeredRate = total.offeredBytes / elapsed;
    console.log(
      `[${strategy}] ${elapsed.toFixed(1)} s: server offered ${(total.offeredBytes / 1e6).toFixed(2)} MB (${(offeredRate / 1000).toFixed(0)} KB/s = ${(offeredRate / (rateKBps * 1000)).toFixed(2)}× the path), carried ${(total.carriedBytes / 1e6).toFixed(2)} MB, dropped ${total.dropped} of ${total.offeredDatagrams} datagrams; client sent ${total.upDatagrams} datagrams; ` +
        `KB a second: ${perSecond.join(' ')}; replies ${got === undefined ? 'not all in' : `all in (${got.join(', ')} lines)`}${done > 0 ? ` after ${(done / 1000).toFixed(1)} s` : ''}; ended: ${ended || 'no'}; server log: ${JSON.stringify(server.out.slice(logAt).trim().split('\n').slice(-2).join(' | ') || '(nothing)')}`,
    );
    ac.abort();
    relay.close();
    await sleep(300);
  }
} finally {
  server.child.kill('SIGTERM');
  await server.exited;
  await rm(dir, { recursive: true, force: true });
}
