import { describeViolations, type IntegrityCounts } from '../integrity/integrity-checker.js';
import { kcpDefault, kcpFast, kcpFlush } from '../peers/kcp-profile.js';
import { REFERENCE, type SystemId } from '../peers/systems.js';
import { bulkLimitBps, MATHIS_MSS_BYTES, mathisForBulk, spuriousShare, type BulkResult } from '../run/bulk-run.js';
import type { ChatResult } from '../run/chat-run.js';
import type { ForumResult } from '../run/forum-run.js';
import { BASE_LINK, BASE_RTT_MS, REORDER_HOLD_MS, REORDER_SHARE, type LinkVariant } from '../scenarios/link-variants.js';
import { IP_UDP_HEADER_BYTES } from '../sim/sim-pair.js';
import { formatSpread, groupBy, spread } from '../stats/seeds.js';
import { RELAY_WARMUP_RUNS_PER_CASE, UDP_ROUNDS, UDP_WARMUP_MS } from '../udp/udp-bench.js';
import { ENCRYPTION_PAIRS } from '../udp/encryption-pairs.js';
import { closedText } from '../udp/many-real.js';
import type { UdpBulkResult, UdpChatResult } from '../udp/udp-results.js';
import { bytes, ms, num, ratio, table } from './format.js';
import type { OutputNames, RunResults } from './results.js';
import { evaluateTargets, type TargetRow } from './targets.js';

/** One result per seed of one case, and the reference system's results by seed. */
interface Case<T> {
  readonly variant: LinkVariant;
  readonly system: SystemId;
  readonly runs: readonly T[];
}

/** Cases in first-seen order of variant, then system. */
function cases<T extends { readonly variant: LinkVariant; readonly system: SystemId }>(results: readonly T[]): Case<T>[] {
  const out: Case<T>[] = [];
  for (const byVariant of groupBy(results, (r) => r.variant.id).values()) {
    for (const runs of groupBy(byVariant, (r) => r.system).values()) {
      const first = runs[0] as T;
      out.push({ variant: first.variant, system: first.system, runs });
    }
  }
  return out;
}

/** Formats one figure of every seed as `median (min–max)`. */
function over<T>(runs: readonly T[], figure: (r: T) => number, format: (v: number) => string): string {
  return formatSpread(spread(runs.map(figure)), format);
}

/** Per-seed ratio of `figure` to the same seed's run of `others` (NaN where that seed has none). */
function ratios<T extends { readonly seed: number }>(runs: readonly T[], others: readonly T[], figure: (r: T) => number): number[] {
  const bySeed = new Map(others.map((o) => [o.seed, o]));
  return runs.map((r) => {
    const o = bySeed.get(r.seed);
    return o ? figure(r) / figure(o) : Number.NaN;
  });
}

/** `ok`, or which seeds were incomplete or broke delivery. */
function delivery<T extends { readonly seed: number }>(runs: readonly T[], integrity: (r: T) => IntegrityCounts, completed: (r: T) => boolean): string {
  const broken = runs.filter((r) => {
    const i = integrity(r);
    return i.duplicated > 0 || i.outOfOrder > 0 || i.corrupted > 0;
  });
  if (broken.length > 0) return `**VIOLATION (seed ${broken.map((r) => r.seed).join(', ')}): ${describeViolations(integrity(broken[0] as T))}**`;
  const incomplete = runs.filter((r) => !completed(r));
  if (incomplete.length === 0) return 'ok';
  return `incomplete on seed ${incomplete.map((r) => `${r.seed} (${integrity(r).delivered}/${integrity(r).sent})`).join(', ')}`;
}

const refLabel = 'KCP flush';

function chatSection(run: RunResults): string {
  const rows: string[][] = [];
  const all = cases(run.chat);
  for (const c of all) {
    const ref = all.find((x) => x.variant.id === c.variant.id && x.system === REFERENCE)?.runs ?? [];
    const lb = c.runs.every((r) => r.completed) ? '' : '≥ ';
    rows.push([
      c.variant.id,
      c.system,
      lb + over(c.runs, (r) => r.latency.mean, ms),
      lb + over(c.runs, (r) => r.latency.p50, ms),
      lb + over(c.runs, (r) => r.latency.p99, ms),
      lb + over(c.runs, (r) => r.latency.max, ms),
      formatSpread(spread(ratios(c.runs, ref, (r) => r.latency.p99)), ratio),
      over(c.runs, (r) => r.latency.p99 / BASE_RTT_MS, ratio),
      over(c.runs, (r) => r.wirePerPayload, num),
      formatSpread(spread(ratios(c.runs, ref, (r) => r.wirePerPayload)), ratio),
      delivery(c.runs, (r) => r.integrity, (r) => r.completed),
    ]);
  }
  const s = run.chatScenario;
  return [
    '## Chat (simulated)',
    '',
    `${s.messageBytes}-byte message every ${s.intervalMs} ms for ${s.durationMs / 1000} s of network time, each way ` +
      `(${2 * Math.floor(s.durationMs / s.intervalMs)} timed messages per seed). Latency is send call → delivery to the peer app, both directions pooled. ` +
      `Every cell is the median over the seeds with the min–max in brackets; ratios pair each seed with the ${refLabel} run of the same seed. ` +
      `The limit is the one-way delay (${BASE_LINK.delayMs} ms ± ${BASE_LINK.jitterMs}); "p99 ÷ RTT" is against the ${BASE_RTT_MS} ms RTT. ` +
      `Wire bytes count every datagram both ways plus ${IP_UDP_HEADER_BYTES} bytes of IPv4+UDP header each. ` +
      `"≥" marks a case where some seed did not finish within the drain limit (${s.drainLimitMs / 1000} s): undelivered messages count with their age at the stop.`,
    '',
    table(['link', 'system', 'mean ms', 'p50 ms', 'p99 ms', 'max ms', `p99 ÷ ${refLabel}`, 'p99 ÷ RTT', 'wire B / payload B', `wire ÷ ${refLabel}`, 'delivery'], rows),
  ].join('\n');
}

/** The plain-loss variant a jitter-reorder variant is compared with (same loss, no reordering). */
export function withoutReorder(results: readonly BulkResult[], r: BulkResult): BulkResult | undefined {
  return results.find((x) => x.system === r.system && x.seed === r.seed && x.variant.kind === 'plain' && x.variant.loss === r.variant.loss);
}

function bulkSection(run: RunResults): string {
  const s = run.bulkScenario;
  const rows: string[][] = [];
  const all = cases(run.bulk);
  const pct = (v: number): string => (Number.isFinite(v) ? `${(v * 100).toFixed(2)}%` : '—');
  for (const c of all) {
    const limit = bulkLimitBps(s, c.variant.loss);
    const ref = all.find((x) => x.variant.id === c.variant.id && x.system === REFERENCE)?.runs ?? [];
    const seconds = (r: BulkResult): number => r.completionMs / 1000;
    const vsPlain = c.variant.kind === 'jitter-reorder' ? c.runs.map((r) => r.goodputBps / (withoutReorder(run.bulk, r)?.goodputBps ?? Number.NaN)) : [];
    rows.push([
      c.variant.id,
      c.system,
      over(c.runs, (r) => r.goodputBps / 1e6, num),
      over(c.runs, (r) => r.fractionOfLimit, num),
      formatSpread(spread(ratios(c.runs, ref, (r) => r.goodputBps)), ratio),
      c.runs.every((r) => r.completed) ? over(c.runs, seconds, (v) => num(v, 1)) : `> ${num(s.timeLimitMs / 1000, 0)} on some seeds`,
      formatSpread(spread(ratios(c.runs, ref, (r) => r.completionMs)), ratio),
      formatSpread(spread(vsPlain), ratio),
      over(c.runs, (r) => (r.sender ? r.sender.packetsRetransmitted / r.sender.packetsSent : Number.NaN), pct),
      over(c.runs, spuriousShare, pct),
      over(c.runs, (r) => r.wirePerPayload, (v) => num(v, 3)),
      delivery(c.runs, (r) => r.integrity, (r) => r.completed),
    ]);
    if (c.variant.kind === 'plain' && c.system === all.filter((x) => x.variant.id === c.variant.id).at(-1)?.system) {
      const m = mathisForBulk(s, c.variant.loss);
      rows.push([c.variant.id, 'TCP (Mathis model)', num(m / 1e6), num(m / limit), '—', num((s.totalBytes * 8) / m, 1), '—', '—', '—', '—', '—', 'model']);
    }
  }
  return [
    '## Bulk (simulated)',
    '',
    `${(s.totalBytes / 1048576).toFixed(0)} MiB one way in ${s.chunkBytes / 1024} KiB messages over a ${s.bandwidthBps / 1e6} Mbit/s bottleneck with a ${s.queueBytes / 1024} KiB drop-tail queue ` +
      `(both directions; the bottleneck carries ${IP_UDP_HEADER_BYTES} bytes of IPv4+UDP header per datagram, and loss applies after the queue, so the loss-free limit of payload is below B·(1−p) by the header share). ` +
      `Goodput counts payload bytes from the first send to the last delivery. Cells: median over the seeds (min–max). ` +
      `"time ÷ ${refLabel}" is completion time against the ${refLabel} run of the same seed (lower is better). ` +
      `"÷ no reordering" is goodput against the same system, seed and loss without reordering. ` +
      `"resent" is the sender's retransmitted packets ÷ packets sent; "spurious" counts resends of packets that were not lost ` +
      `(the transport's own count where it keeps one; on a link that loses nothing every resend is spurious). KCP does not expose its counters: —. ` +
      `The TCP row is the Mathis et al. model (MSS/RTT)·1.22/√p with MSS ${MATHIS_MSS_BYTES} B and RTT ${BASE_RTT_MS} ms, capped at B. ` +
      `Wire bytes include ${IP_UDP_HEADER_BYTES} bytes of IPv4+UDP header per datagram, both directions.`,
    '',
    table(
      ['link', 'system', 'goodput Mbit/s', '÷ B·(1−p)', `÷ ${refLabel}`, 'completion s', `time ÷ ${refLabel}`, '÷ no reordering', 'resent', 'spurious', 'wire B / payload B', 'delivery'],
      rows,
    ),
  ].join('\n');
}

function calibrationSection(run: RunResults): string {
  if (run.calibration.length === 0) return '';
  const losses = [...new Set(run.calibration.flatMap((c) => c.results.map((r) => r.variant.loss)))];
  const rows = run.calibration.map((c) => [
    String(c.window),
    ...losses.map((loss) => {
      const r = c.results.find((x) => x.variant.loss === loss);
      return r ? `${num(r.fractionOfLimit)}${r.completed ? '' : ' (incomplete)'}` : '—';
    }),
  ]);
  return [
    '### KCP fast window calibration (bulk)',
    '',
    'KCP fast has no congestion window (nc = 1), so its send window alone decides how much it puts in flight. Windows much larger than ' +
      'bandwidth-delay product + queue (≈ 75 + 56 segments here) overflow the queue and lose goodput, so "larger windows for bulk" would hurt KCP. ' +
      `The bench uses 128/128 for KCP in every scenario; this table (goodput ÷ B·(1−p), ticks drive, seed ${run.seed}) shows that choice is fair to KCP.`,
    '',
    table(['window (segments)', ...losses.map((l) => `p=${l}`)], rows),
  ].join('\n');
}

/** A memory figure; a negative one (allocator noise larger than the effect) is not published as such. */
function memory(value: number): string {
  return value < 0 ? '≈ 0 (noise)' : bytes(value);
}

function manySection(run: RunResults): string {
  if (run.many.length === 0) return '';
  const rows = [...groupBy(run.many, (r) => `${r.system} ${r.connections}`).values()].map((runs) => {
    const r = runs[0] as (typeof runs)[number];
    return [
      r.system,
      r.connections.toLocaleString('en-US'),
      over(runs, (x) => x.heapPerConnectionBytes, memory),
      over(runs, (x) => x.rssPerConnectionBytes, memory),
      over(runs, (x) => x.serverUsPerMessage, (v) => num(v, 1)),
      over(runs, (x) => x.processUsPerMessage, (v) => num(v, 1)),
      over(runs, (x) => x.delivered, (v) => v.toLocaleString('en-US')),
      delivery(runs, (x) => x.integrity, (x) => x.completed),
    ];
  });
  const s = run.manyScenario;
  return [
    '## Many peers (simulated)',
    '',
    `N client endpoints connect to one server endpoint over one second, then each sends one ${s.messageBytes}-byte message every ${s.periodMs} ms for ${s.durationMs / 1000} s ` +
      `(loss ${s.loss}). Memory: growth of the V8 heap (after forced GC) from opening the N connections, divided by 2N — both the client and the server side of each ` +
      'connection live in this process; simulator link state is allocated before the baseline. RSS per connection also sees native memory (KCP\'s C structures, ' +
      'which the V8 heap does not) and is noisy: where the allocator returned more than the connections took, the figure is "≈ 0 (noise)", never negative. ' +
      'Server µs/msg is the time spent inside the server endpoint per delivered message; process µs/msg is all CPU (simulator and every client included). ' +
      'Cells: median over the seeds (min–max).',
    '',
    table(['system', 'connections', 'heap / conn', 'RSS / conn', 'server µs / msg', 'process µs / msg', 'delivered', 'delivery'], rows),
  ].join('\n');
}

function forumDelivery(runs: readonly ForumResult[]): string {
  const dirty = runs.filter((r) => !r.clean);
  if (dirty.length > 0) return `**VIOLATION (seed ${dirty.map((r) => r.seed).join(', ')})**`;
  const incomplete = runs.filter((r) => !r.completed);
  return incomplete.length === 0 ? 'ok' : `incomplete on seed ${incomplete.map((r) => r.seed).join(', ')}`;
}

/** Forum runs of the first-reply scenario (one command per session). */
export function firstReplyRuns(forum: readonly ForumResult[]): ForumResult[] {
  return forum.filter((r) => r.scenario.commands === 1);
}

function forumSection(run: RunResults): string {
  const sessions = run.forum.filter((r) => r.scenario.commands !== 1);
  const first = firstReplyRuns(run.forum);
  if (sessions.length === 0 && first.length === 0) return '';
  const parts = ['## Forum sessions (simulated)', ''];
  if (sessions.length > 0) {
    const rows = cases(sessions).map((c) => [
      c.variant.id,
      c.system,
      over(c.runs, (r) => r.commands, (v) => num(v, 0)),
      over(c.runs, (r) => r.rtt.p50, ms),
      over(c.runs, (r) => r.rtt.p99, ms),
      over(c.runs, (r) => r.rtt.max, ms),
      forumDelivery(c.runs),
    ]);
    parts.push(
      'Scripted sessions (login, CRT, MSG × N, RDT, UPD of a small file) encoded with forum-protocol\'s codec and served by its real request path over a memory store, each request waiting for its reply. The first request is sent at connect, so its RTT includes the handshake; UPD is answered with its transfer reply (the file goes over TCP in the real forum). ' +
        'RTT is request send call → reply delivered. Cells: median over the seeds (min–max).',
      '',
      table(['link', 'system', 'commands', 'p50 ms', 'p99 ms', 'max ms', 'replies'], rows),
      '',
    );
  }
  if (first.length > 0) {
    const all = cases(first);
    const rows = all.map((c) => {
      const ref = all.find((x) => x.variant.id === c.variant.id && x.system === REFERENCE)?.runs ?? [];
      return [
        c.variant.id,
        c.system,
        String(c.runs[0]?.scenario.sessions ?? 0),
        over(c.runs, (r) => r.firstReply.p50, ms),
        over(c.runs, (r) => r.firstReply.p99, ms),
        over(c.runs, (r) => r.firstReply.max, ms),
        formatSpread(spread(ratios(c.runs, ref, (r) => r.firstReply.p99)), ratio),
        forumDelivery(c.runs),
      ];
    });
    parts.push(
      '### First reply after connect',
      '',
      'Each session connects and sends its first request (the login name) at once; the figure is that request\'s round trip, handshake included ' +
        '(KCP has no handshake: its first message is data). p99 is over the sessions of one seed; cells are the median over the seeds (min–max).',
      '',
      table(['link', 'system', 'sessions', 'p50 ms', 'p99 ms', 'max ms', `p99 ÷ ${refLabel}`, 'replies'], rows),
    );
  }
  return parts.join('\n');
}

function microSection(run: RunResults): string {
  if (run.micro.length === 0) return '';
  const rows = run.micro.map((m) => [m.name, Math.round(m.opsPerSec).toLocaleString('en-US'), num(m.meanNs, 0), `± ${num(m.rme, 1)}%`, String(m.samples)]);
  return [
    '## Micro-benchmarks (tinybench)',
    '',
    'ops/s is 1 s ÷ the mean time per operation, so the two columns agree; rme is the relative margin of error of the mean.',
    '',
    table(['task', 'ops/s', 'mean ns', 'rme', 'samples'], rows),
  ].join('\n');
}

function udpChatRows(chat: readonly UdpChatResult[]): string[][] {
  const rows: string[][] = [];
  for (const byVariant of groupBy(chat, (c) => c.variantId).values()) {
    const ref = byVariant.filter((c) => c.system === REFERENCE);
    for (const runs of groupBy(byVariant, (c) => c.system).values()) {
      const c = runs[0] as UdpChatResult;
      rows.push([
        c.variantId,
        c.system,
        over(runs, (r) => r.latency.mean, ms),
        over(runs, (r) => r.latency.p50, ms),
        over(runs, (r) => r.latency.p99, ms),
        over(runs, (r) => r.latency.max, ms),
        formatSpread(spread(ratios(runs, ref, (r) => r.latency.p99)), ratio),
        over(runs, (r) => r.wirePerPayload, num),
        runs.every((r) => r.clean && r.completed) ? 'ok' : runs.every((r) => r.clean) ? 'incomplete on some seeds' : '**VIOLATION**',
      ]);
    }
  }
  return rows;
}

function udpBulkRows(bulk: readonly UdpBulkResult[]): string[][] {
  const rows: string[][] = [];
  const pct = (v: number): string => (Number.isFinite(v) ? `${(v * 100).toFixed(2)}%` : '—');
  for (const byVariant of groupBy(bulk, (c) => c.variantId).values()) {
    const ref = byVariant.filter((c) => c.system === REFERENCE);
    for (const runs of groupBy(byVariant, (c) => c.system).values()) {
      const c = runs[0] as UdpBulkResult;
      const plain = runs.map((r) => {
        const p = bulk.find((x) => !x.reorder && x.system === r.system && x.seed === r.seed && x.loss === r.loss);
        return r.reorder && p ? r.goodputBps / p.goodputBps : Number.NaN;
      });
      rows.push([
        c.variantId,
        c.system,
        over(runs, (r) => r.goodputBps / 1e6, num),
        over(runs, (r) => r.completionMs / 1000, (v) => num(v, 2)),
        formatSpread(spread(ratios(runs, ref, (r) => r.completionMs)), ratio),
        formatSpread(spread(plain), ratio),
        over(runs, (r) => r.resentShare, pct),
        over(runs, (r) => r.spuriousShare, pct),
        over(runs, (r) => r.drops.link, (v) => num(v, 0)),
        over(runs, (r) => r.drops.queue, (v) => num(v, 0)),
        over(runs, (r) => r.drops.relayKernel + r.drops.endsKernel, (v) => num(v, 0)),
        over(runs, (r) => (r.cpuSeconds * 1e9) / r.totalBytes, (v) => num(v, 1)),
        over(runs, (r) => (r.relayCpuSeconds * 1e9) / r.totalBytes, (v) => num(v, 1)),
        `${over(runs, (r) => r.relayLateness.meanMs, (v) => num(v, 2))} / ${over(runs, (r) => r.relayLateness.maxMs, (v) => num(v, 1))}`,
        runs.every((r) => r.clean && r.completed) ? 'ok' : runs.every((r) => r.clean) ? 'incomplete on some seeds' : '**VIOLATION**',
      ]);
    }
  }
  return rows;
}

function udpSection(run: RunResults): string {
  const u = run.udp;
  if (!u) return '';
  const parts = ['## Real UDP on 127.0.0.1'];
  if (u.notes.length > 0) parts.push('', ...u.notes.map((n) => `- ${n}`));
  if (u.throughput.length > 0) {
    const rows: string[][] = [];
    for (const t of u.throughput) {
      for (const p of t.peers) {
        rows.push([
          `${t.messageBytes.toLocaleString('en-US')} B`,
          p.peer,
          Math.round(p.messagesPerSec).toLocaleString('en-US'),
          Number.isFinite(p.datagramsPerSec) ? Math.round(p.datagramsPerSec).toLocaleString('en-US') : '—',
          num(p.megabytesPerSec),
          ratio(p.ratioToUdx),
          num(p.cpuSecondsPerGB, 1),
        ]);
      }
    }
    parts.push(
      '',
      'One connection, one way, sender and receiver in one process (the real-socket part runs in a fresh process of its own, not after the simulated scenarios in the bench process): rudp (Node API, written as its README shows a writer that does not await each message: `write()` until it returns false, then `drain`, 1 MiB unacknowledged at most; its sockets batched by its addon where built, with UDP GSO and GRO where the kernel has them (the same datagrams on the wire, fewer trips through the kernel network stack; udx-native uses neither), ' +
        '"rudp node:dgram" the same on node:dgram sockets, `socketBatching: false`; "rudp stream()" the same connection written as a byte stream, as udx-native and TCP are: `stream().write()` until it returns false, then `drain`, small writes leaving together), udx-native (one stream, ' +
        'written as its users write it: `write()` until it returns false, then wait for `drain`), node:net TCP the same way, and raw node:dgram ' +
        '(one datagram per message, ideal flow control: sender and receiver share a counter in-process, best of windows 32 and 128 datagrams, 2 and 4 for 64 KB). ' +
        'Messages/s counts whole messages delivered; datagrams/s counts what the sender put on the wire: rudp packs many small messages into one datagram, ' +
        'raw dgram sends one each (TCP segments are not counted: —). ' +
        `Counting starts after ${UDP_WARMUP_MS} ms of warm-up. A full run alternates ${UDP_ROUNDS} rounds of every peer per size after a full GC (between runs a scavenge only: a full GC before each run discarded rudp's optimized code, and each rudp run was measured partly cold), each round opened by a discarded rudp run (the first rudp run after raw dgram was handicapped), then rudp and rudp plain back to back in ${ENCRYPTION_PAIRS} pairs, mirrored (ABBA twice), which first alternating from round to round (their ratio is the cost of encryption: each round takes the median of its pairs' ratios, so one run a stall of the VM hit does not decide the round; the table pools the runs); ` +
        'the table gives medians, "÷ udx-native" is the median of the rounds\' byte-rate ratios. CPU is the whole process\'s (both ends) per GB of payload delivered.',
      '',
      table(['message', 'peer', 'messages/s', 'datagrams/s', 'MB/s', '÷ udx-native', 'CPU s / GB'], rows),
    );
  }
  if (u.bulk.length > 0) {
    const b = u.bulk[0] as UdpBulkResult;
    parts.push(
      '',
      `### Bulk through the impairing relay`,
      '',
      `${(b.totalBytes / 1048576).toFixed(0)} MiB one way through udp-relay on 127.0.0.1, over the simulated bulk's link: ${BASE_LINK.delayMs} ms ± ${BASE_LINK.jitterMs} ms one way, ` +
        `a 10 Mbit/s bottleneck with a 64 KiB drop-tail queue (${IP_UDP_HEADER_BYTES} B of IP/UDP header charged per datagram); "reorder" links draw each datagram's delay on its own ` +
        `(jitter reorders) and hold ${REORDER_SHARE * 100}% of datagrams ${REORDER_HOLD_MS} ms longer, the plain links keep FIFO order. ` +
        `The relay runs in a process of its own with 4 MiB socket buffers. ` +
        `Each system first makes ${RELAY_WARMUP_RUNS_PER_CASE} discarded runs per link below, each on a connection of its own: ` +
        `rudp's JavaScript (and the relay's) settles only after several connections and some tens of seconds of traffic at 10 Mbit/s (V8 optimizes its code, deoptimizes it as a new connection or a first loss brings new shapes, and optimizes again), ` +
        `and with one warm-up run per link rudp's measured seeds still fell from 0.82 to 0.38 CPU s; the warm-up runs are listed below the table as the cold cost. ` +
        `Then the systems take turns within each seed, their order rotated from seed to seed. ` +
        `rudp runs through its Node API, KCP (flushed) through the bench's socket driver with the same profile as the simulation, udx-native as one stream each way ` +
        `(its server side learns the relay's upstream port from a raw datagram first). Cells: median over the seeds (min–max); ` +
        `"÷ no reordering" is goodput against the plain run of the same system, seed and loss. "resent" is the sender's resent packets ÷ packets sent; ` +
        `"spurious" the resends it found needless itself (rudp's stats().spuriousRetransmissions; — where a transport does not count them). ` +
        `Drops, both directions: "link" the modelled random loss, "queue" the modelled bottleneck's, "kernel" full socket buffers at the relay or the ends (harness, should be 0). ` +
        `CPU per GB: the two ends (this process), and the relay process apart. "relay late": how long after the link model's time the relay forwarded a datagram ` +
        `(its timers wake no finer than 1 ms, and wait for its event loop): the real path's delay is the model's plus this.`,
      '',
      table(
        ['link', 'system', 'goodput Mbit/s', 'completion s', `time ÷ ${refLabel}`, '÷ no reordering', 'resent', 'spurious', 'link drops', 'queue drops', 'kernel drops', 'CPU s / GB', 'relay CPU s / GB', 'relay late ms mean / max', 'delivery'],
        udpBulkRows(u.bulk),
      ),
      '',
      coldRuns(u.bulkWarmUp),
    );
  }
  if (u.chat.length > 0) {
    const relayChatCount = Math.round(spread(u.chat.map((c) => c.latency.count)).median);
    parts.push(
      '',
      '### Chat through the impairing relay',
      '',
      `Same figures as the simulated chat (64 B every 20 ms each way, ${BASE_LINK.delayMs} ms ± ${BASE_LINK.jitterMs} one-way, FIFO), real sockets and timers, same systems as the relay bulk ` +
        `(udx-native writes each message to its stream; the receiver splits the stream by the payloads' length field), but shorter: ` +
        `about ${relayChatCount} timed messages per run (both ways) against the simulated chat's 6,000, so a p99 is ` +
        `about the ${Math.ceil(relayChatCount / 100)}th slowest and moves more from seed to seed ` +
        `(the simulator run as short gives the same spread: \`src/tools/chat-p99-spread.ts\`). Cells: median over the seeds (min–max).`,
      '',
      table(['link', 'system', 'mean ms', 'p50 ms', 'p99 ms', 'max ms', `p99 ÷ ${refLabel}`, 'wire B / payload B', 'delivery'], udpChatRows(u.chat)),
    );
  }
  return parts.join('\n');
}

/** The line under the relay bulk table: each system's warm-up runs (discarded from the medians), CPU per run in the order they ran. */
export function coldRuns(runs: readonly UdpBulkResult[]): string {
  if (runs.length === 0) return '';
  const perSystem = [...groupBy(runs, (r) => r.system)].map(([system, mine]) => {
    const cpu = mine.map((r) => `${r.variantId} ${Number.isFinite(r.cpuSeconds) ? r.cpuSeconds.toFixed(2) : '—'}`).join(', ');
    return `${system}: ${cpu}`;
  });
  return `Cold cost, the discarded warm-up runs (CPU s of both ends per ${(runs[0] as UdpBulkResult).totalBytes / 1048576} MiB run, in the order they ran, each system's first relay run first): ${perSystem.join('; ')}.`;
}

function manyRealSection(run: RunResults): string {
  const rs = run.manyReal;
  if (rs.length === 0) return '';
  const s = run.manyRealScenario;
  const systems = [...new Set(rs.map((r) => r.system))];
  const cell = (values: readonly number[], f: (v: number) => string): string => {
    const x = spread(values);
    return x.count > 1 ? `${f(x.median)} (${f(x.min)}–${f(x.max)})` : f(x.median);
  };
  const kib = (v: number): string => (v / 1024).toFixed(2);
  const rows = systems.map((system) => {
    const mine = rs.filter((r) => r.system === system);
    return [
      system === 'rudp' ? 'rudp (encrypted, default options)' : system,
      mine.map((r) => `${r.connected.toLocaleString('en-US')}`).join(', '),
      cell(mine.map((r) => r.serverCpuPercent), (v) => v.toFixed(1)),
      cell(mine.map((r) => (r.window.cpuSeconds * 1e6) / r.window.messages), (v) => v.toFixed(0)),
      cell(mine.map((r) => r.datagramsPerMessage), (v) => v.toFixed(2)),
      cell(mine.map((r) => r.datagramsSentPerMessage), (v) => v.toFixed(2)),
      cell(mine.map((r) => r.rssPerConnection), kib),
      cell(mine.map((r) => r.heapPerConnection), kib),
      mine.every((r) => r.clean) ? 'clean' : mine.map((r) => `${r.received}/${r.sent}${closedText(r)}`).join(', '),
    ];
  });
  return [
    '## Many mostly idle connections on real sockets',
    '',
    `${s.connections.toLocaleString('en-US')} connections to one server on 127.0.0.1, spread over ${s.clientProcesses} client processes; each sends 16 bytes every ` +
      `${s.intervalMs / 1000} s, the phases spread evenly over the interval; nothing is sent back by the application. rudp: one \`listen\` endpoint, ` +
      'each client connection its own `connect` (encrypted, default transport options); udx-native: one socket in the server carrying every stream, ' +
      'one socket per client process (as udx users multiplex streams). The server runs in its own process: its CPU (user + system) is measured over ' +
      `${s.measureMs / 1000} s after ${s.settleMs / 1000} s of steady traffic, as a share of one core; datagrams are what the server's socket sent and received ` +
      'in that window per message it received; memory is (after a forced GC with every connection open) − (once listening, before any connection), per connection. ' +
      `Cells: median over ${s.rounds} round${s.rounds === 1 ? '' : 's'} (min–max), the systems alternating, each in fresh processes.`,
    '',
    table(['system', 'connections', 'server CPU %', 'server CPU µs / message', 'datagrams / message', 'sent by server / message', 'RSS KiB / conn', 'heap KiB / conn', 'delivery'], rows),
  ].join('\n');
}

/** One line per case instead of one per seed for runs that did not complete (violations stay one per line, in bold). */
export function compactProblems(lines: readonly string[]): string[] {
  const out: string[] = [];
  const cases = new Map<string, string[]>();
  for (const line of lines) {
    const m = /^(.+) seed (\d+) did not complete:? (.*)$/.exec(line);
    if (!m || line.startsWith('**')) {
      out.push(line);
      continue;
    }
    const what = m[1] ?? '';
    const seed = m[2] ?? '';
    const detail = m[3] ?? '';
    const list = cases.get(what);
    const entry = `seed ${seed}: ${detail}`;
    if (list) list.push(entry);
    else {
      cases.set(what, [entry]);
      out.push(`\u0000${what}`);
    }
  }
  return out.map((line) => {
    if (!line.startsWith('\u0000')) return line;
    const what = line.slice(1);
    const entries = cases.get(what) ?? [];
    return `${what} did not complete on ${entries.length} seed${entries.length === 1 ? '' : 's'} (${entries.join('; ')})`;
  });
}

function targetStatus(t: TargetRow): string {
  return t.status === 'met' ? '✅ met' : t.status === 'not met' ? '❌ not met' : '— not measured';
}

/** Renders the whole report as Markdown; `names` are the chart files it links. */
export function renderMarkdown(run: RunResults, names: OutputNames): string {
  const m = run.machine;
  const out: string[] = [];
  out.push('# rudp benchmark results', '');
  if (run.partial) out.push(`> **Partial run** (${run.argv.join(' ') || 'filtered'}): not the full suite; do not compare with a full run.`, '');
  out.push(
    table(
      ['', ''],
      [
        ['date', m.date],
        ['machine', `${m.cpuModel}, ${m.cores} cores`],
        ['OS', m.os],
        ['Node', m.nodeVersion],
        ['seeds', run.seeds.join(', ')],
        ['command', `pnpm bench${run.argv.length ? ` -- ${run.argv.join(' ')}` : ''}`],
        ['wall time', `${(run.wallMs / 1000).toFixed(1)} s`],
      ],
    ),
    '',
  );
  out.push(
    'Systems: **rudp**; **kcp-flush** (the reference) = KCP (C, node-kcp 1.0.13) in its fast profile ' +
      `(nodelay ${kcpFlush.nodelay}, interval ${kcpFlush.intervalMs} ms, resend ${kcpFlush.resend}, nc ${kcpFlush.noCongestionWindow}) driven as kcp-go drives it for low latency: ` +
      'every send flushed at once (kcp-go\'s write path, write delay off) and every input followed by a flush, so ACKs leave at once (ACK no-delay); ' +
      '**kcp-fast** = the same profile driven as KCP\'s C README shows (ikcp_update at the times ikcp_check gives; data and ACKs leave on those ticks); ' +
      `**kcp-default** = nodelay ${kcpDefault.nodelay}, interval ${kcpDefault.intervalMs} ms, resend ${kcpDefault.resend}, nc ${kcpDefault.noCongestionWindow}, ticks. ` +
      `Every KCP profile: windows ${kcpFast.sendWindow}/${kcpFast.receiveWindow} segments, MTU ${kcpFast.mtu} (rudp's datagram limit), message mode. ` +
      `Simulated link per direction: one-way delay ${BASE_LINK.delayMs} ms ± ${BASE_LINK.jitterMs} ms jitter (FIFO unless the variant says jitter-reorder), loss p per datagram. ` +
      `Every simulated case runs on ${run.seeds.length} seed${run.seeds.length === 1 ? '' : 's'} (${run.seeds.join(', ')}). ` +
      'Every payload carries a sequence number and a CRC-32; every run is checked for loss, duplication, reordering and corruption.',
    '',
  );
  if (run.problems.length > 0) {
    out.push('## ⚠ Problems', '', ...compactProblems(run.problems).map((p) => `- ${p}`), '');
  } else {
    out.push('**Delivery integrity: every run delivered every message once, intact and in order.**', '');
  }
  if (run.notes.length > 0) out.push('## Notes', '', ...run.notes.map((n) => `- ${n}`), '');
  const targets = evaluateTargets(run);
  out.push(
    '## Targets (issue 13 and benchmark-method.md)',
    '',
    `A target is met when the median over the seeds meets it and no seed misses it badly (by more than 10% of the target, or at all where it says "every seed"); ` +
      `seeds that miss are named. Latency and time ratios are against ${refLabel} (KCP fast, flushed) in the same seed.`,
    '',
    table(['figure', 'target', 'measured', 'status'], targets.map((t) => [t.figure, t.target, t.measured, targetStatus(t)])),
    '',
  );
  for (const section of [
    run.chat.length ? chatSection(run) : '',
    run.chat.length ? `![chat latency](${names.chatSvg})` : '',
    run.bulk.length ? bulkSection(run) : '',
    run.bulk.length ? `![bulk goodput](${names.bulkSvg})` : '',
    calibrationSection(run),
    manySection(run),
    forumSection(run),
    microSection(run),
    udpSection(run),
    manyRealSection(run),
  ]) {
    if (section) out.push(section, '');
  }
  return out.join('\n');
}

/** Chat results of plain loss only, for charts. */
export function plainChat(results: readonly ChatResult[]): ChatResult[] {
  return results.filter((r) => r.variant.kind === 'plain');
}

/** Bulk results of plain loss only, for charts. */
export function plainBulk(results: readonly BulkResult[]): BulkResult[] {
  return results.filter((r) => r.variant.kind === 'plain');
}
