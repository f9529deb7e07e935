import { describeViolations, isClean, type IntegrityCounts } from '../integrity/integrity-checker.js';
import { kcpDefault, kcpFast } from '../peers/kcp-profile.js';
import { bulkLimitBps, MATHIS_MSS_BYTES, mathisForBulk, type BulkResult } from '../run/bulk-run.js';
import type { ChatResult } from '../run/chat-run.js';
import { BASE_LINK, BASE_RTT_MS } from '../scenarios/link-variants.js';
import { IP_UDP_HEADER_BYTES } from '../sim/sim-pair.js';
import { UDP_ROUNDS, UDP_WARMUP_MS } from '../udp/udp-bench.js';
import { bytes, ms, num, ratio, table } from './format.js';
import type { RunResults } from './results.js';
import { evaluateTargets } from './targets.js';

function delivery(integrity: IntegrityCounts, completed: boolean): string {
  if (!isClean(integrity) && (integrity.duplicated || integrity.outOfOrder || integrity.corrupted)) return `**VIOLATION: ${describeViolations(integrity)}**`;
  if (!completed) return `incomplete: ${integrity.delivered}/${integrity.sent} delivered at stop`;
  return 'ok';
}

function chatSection(run: RunResults): string {
  const variants = [...new Map(run.chat.map((r) => [r.variant.id, r.variant])).values()];
  const rows: string[][] = [];
  for (const v of variants) {
    const kcp = run.chat.find((r) => r.variant.id === v.id && r.system === 'kcp-fast');
    for (const r of run.chat.filter((x) => x.variant.id === v.id)) {
      const lb = r.completed ? '' : '≥ ';
      rows.push([
        v.id,
        r.system,
        lb + ms(r.latency.mean),
        lb + ms(r.latency.p50),
        lb + ms(r.latency.p99),
        lb + ms(r.latency.max),
        kcp ? ratio(r.latency.p99 / kcp.latency.p99) : '—',
        ratio(r.latency.p99 / BASE_RTT_MS),
        num(r.wirePerPayload),
        kcp ? ratio(r.wirePerPayload / kcp.wirePerPayload) : '—',
        delivery(r.integrity, r.completed),
      ]);
    }
  }
  const s = run.chatScenario;
  return [
    '## Chat (simulated)',
    '',
    `${s.messageBytes}-byte message every ${s.intervalMs} ms for ${s.durationMs / 1000} s of network time, each way ` +
      `(${2 * Math.floor(s.durationMs / s.intervalMs)} timed messages). Latency is send call → delivery to the peer app, both directions pooled. ` +
      `"÷ KCP" is the ratio to KCP fast in the same run; the limit is the one-way delay (${BASE_LINK.delayMs} ms ± ${BASE_LINK.jitterMs}); ` +
      `"p99 ÷ RTT" is against the ${BASE_RTT_MS} ms RTT the targets use. Wire bytes count every datagram both ways plus ${IP_UDP_HEADER_BYTES} bytes of IPv4+UDP header each. ` +
      `"≥" marks a run that did not finish within the drain limit (${s.drainLimitMs / 1000} s): undelivered messages count with their age at the stop.`,
    '',
    table(['link', 'system', 'mean ms', 'p50 ms', 'p99 ms', 'max ms', 'p99 ÷ KCP fast', 'p99 ÷ RTT', 'wire B / payload B', 'wire ÷ KCP fast', 'delivery'], rows),
  ].join('\n');
}

function bulkSection(run: RunResults): string {
  const s = run.bulkScenario;
  const variants = [...new Map(run.bulk.map((r) => [r.variant.id, r.variant])).values()];
  const rows: string[][] = [];
  for (const v of variants) {
    const limit = bulkLimitBps(s, v.loss);
    const kcp = run.bulk.find((r) => r.variant.id === v.id && r.system === 'kcp-fast');
    for (const r of run.bulk.filter((x) => x.variant.id === v.id)) {
      rows.push([
        v.id,
        r.system,
        num(r.goodputBps / 1e6),
        num(r.fractionOfLimit),
        kcp ? ratio(r.goodputBps / kcp.goodputBps) : '—',
        r.completed ? num(r.completionMs / 1000, 1) : `> ${num(s.timeLimitMs / 1000, 0)}`,
        num(r.wirePerPayload, 3),
        delivery(r.integrity, r.completed),
      ]);
    }
    if (v.kind === 'plain') {
      const m = mathisForBulk(s, v.loss);
      rows.push([v.id, 'TCP (Mathis model)', num(m / 1e6), num(m / limit), kcp ? ratio(m / kcp.goodputBps) : '—', num((s.totalBytes * 8) / m, 1), '—', 'model']);
    }
  }
  return [
    '## Bulk (simulated)',
    '',
    `${(s.totalBytes / 1048576).toFixed(0)} MiB one way in ${s.chunkBytes / 1024} KiB messages over a ${s.bandwidthBps / 1e6} Mbit/s bottleneck with a ${s.queueBytes / 1024} KiB drop-tail queue ` +
      `(both directions; loss applies after the queue, so the loss-free limit is B·(1−p)). Goodput counts payload bytes from the first send to the last delivery. ` +
      `The TCP row is the Mathis et al. model (MSS/RTT)·1.22/√p with MSS ${MATHIS_MSS_BYTES} B and RTT ${BASE_RTT_MS} ms, capped at B. ` +
      `Wire bytes include ${IP_UDP_HEADER_BYTES} bytes of IPv4+UDP header per datagram, both directions.`,
    '',
    table(['link', 'system', 'goodput Mbit/s', '÷ B·(1−p)', '÷ KCP fast', 'completion s', 'wire B / payload B', 'delivery'], rows),
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
      'The bench uses 128/128 for KCP in every scenario; this table (goodput ÷ B·(1−p)) is measured in the same run to show that choice is fair to KCP.',
    '',
    table(['window (segments)', ...losses.map((l) => `p=${l}`)], rows),
  ].join('\n');
}

function manySection(run: RunResults): string {
  if (run.many.length === 0) return '';
  const rows = run.many.map((r) => [
    r.system,
    r.connections.toLocaleString('en-US'),
    bytes(r.heapPerConnectionBytes),
    bytes(r.rssPerConnectionBytes),
    num(r.serverUsPerMessage, 1),
    num(r.processUsPerMessage, 1),
    r.delivered.toLocaleString('en-US'),
    delivery(r.integrity, r.completed),
  ]);
  const s = run.manyScenario;
  return [
    '## Many peers (simulated)',
    '',
    `N client endpoints connect to one server endpoint over one second, then each sends one ${s.messageBytes}-byte message every ${s.periodMs} ms for ${s.durationMs / 1000} s ` +
      `(loss ${s.loss}). Memory: growth of the V8 heap (after forced GC) from opening the N connections, divided by 2N — both the client and the server side of each ` +
      'connection live in this process; simulator link state is allocated before the baseline. RSS per connection also sees native memory (KCP\'s C structures, ' +
      'which the V8 heap does not) and is noisy. Server µs/msg is the time spent inside the server endpoint per delivered message; process µs/msg is all CPU ' +
      '(simulator and every client included).',
    '',
    table(['system', 'connections', 'heap / conn', 'RSS / conn', 'server µs / msg', 'process µs / msg', 'delivered', 'delivery'], rows),
  ].join('\n');
}

function forumSection(run: RunResults): string {
  if (run.forum.length === 0) return '';
  const rows = run.forum.map((r) => [
    r.variant.id,
    r.system,
    String(r.commands),
    ms(r.rtt.p50),
    ms(r.rtt.p99),
    ms(r.rtt.max),
    r.clean && r.completed ? 'ok' : r.clean ? 'incomplete' : '**VIOLATION**',
  ]);
  return [
    '## Forum sessions (simulated)',
    '',
    'Scripted sessions (login, CRT, MSG × N, RDT, UPD of a small file) encoded with forum-protocol\'s codec and served by its real request path over a memory store, each request waiting for its reply. The first request is sent at connect, so its RTT includes the handshake; UPD is answered with its transfer reply (the file goes over TCP in the real forum). ' +
      'RTT is request send call → reply delivered.',
    '',
    table(['link', 'system', 'commands', 'p50 ms', 'p99 ms', 'max ms', 'replies'], rows),
  ].join('\n');
}

function microSection(run: RunResults): string {
  if (run.micro.length === 0) return '';
  const rows = run.micro.map((m) => [m.name, Math.round(m.opsPerSec).toLocaleString('en-US'), num(m.meanNs, 0), `± ${num(m.rme, 1)}%`, String(m.samples)]);
  return ['## Micro-benchmarks (tinybench)', '', table(['task', 'ops/s', 'mean ns', 'rme', 'samples'], rows)].join('\n');
}

function udpSection(run: RunResults): string {
  const u = run.udp;
  if (!u) return '';
  const parts = ['## Real UDP on 127.0.0.1'];
  if (u.throughput.length > 0) {
    parts.push(
      '',
      'One rudp connection (up to 256 unacknowledged messages) against raw node:dgram send/receive of the same sizes in the same run. ' +
        'Raw dgram gets ideal flow control (sender and receiver share a counter in-process; best of windows 32 and 128 datagrams), so it measures ' +
        'what the socket path delivers, not how many datagrams a blind sender can drop. Both count messages received per second, ' +
        `after ${UDP_WARMUP_MS} ms of warm-up (JIT and congestion-control start are not what this measures). ` +
        `A full run alternates ${UDP_ROUNDS} rounds of raw and rudp per size after a forced GC; the table gives the medians, and the ratio is the median of the rounds' ratios.`,
      '',
      table(
        ['message', 'raw msgs/s', 'rudp msgs/s', 'raw MB/s', 'rudp MB/s', 'ratio'],
        u.throughput.map((t) => [
          `${t.messageBytes} B`,
          Math.round(t.rawMessagesPerSec).toLocaleString('en-US'),
          Math.round(t.rudpMessagesPerSec).toLocaleString('en-US'),
          num(t.rawMBps),
          num(t.rudpMBps),
          ratio(t.ratio),
        ]),
      ),
    );
  }
  if (u.chat.length > 0) {
    parts.push(
      '',
      'Chat through the lossy relay (same figures as the simulated chat, real sockets and timers).',
      '',
      table(
        ['loss', 'system', 'mean ms', 'p50 ms', 'p99 ms', 'max ms', 'wire B / payload B', 'delivery'],
        u.chat.map((c) => [
          String(c.loss),
          c.system,
          ms(c.latency.mean),
          ms(c.latency.p50),
          ms(c.latency.p99),
          ms(c.latency.max),
          num(c.wirePerPayload),
          c.clean && c.completed ? 'ok' : c.clean ? 'incomplete' : '**VIOLATION**',
        ]),
      ),
    );
  }
  return parts.join('\n');
}

/** Renders the whole report as Markdown. */
export function renderMarkdown(run: RunResults): string {
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
        ['seed', String(run.seed)],
        ['command', `pnpm bench${run.argv.length ? ` -- ${run.argv.join(' ')}` : ''}`],
        ['wall time', `${(run.wallMs / 1000).toFixed(1)} s`],
      ],
    ),
    '',
  );
  out.push(
    'Systems: **rudp**; **kcp-fast** = KCP (C, node-kcp 1.0.13) with ' +
      `nodelay ${kcpFast.nodelay}, interval ${kcpFast.intervalMs} ms, resend ${kcpFast.resend}, nc ${kcpFast.noCongestionWindow}; ` +
      `**kcp-default** = nodelay ${kcpDefault.nodelay}, interval ${kcpDefault.intervalMs} ms, resend ${kcpDefault.resend}, nc ${kcpDefault.noCongestionWindow}. ` +
      `Both KCP profiles: windows ${kcpFast.sendWindow}/${kcpFast.receiveWindow} segments, MTU ${kcpFast.mtu} (rudp's datagram limit), message mode, ` +
      'driven as KCP documents (ikcp_update at the times ikcp_check gives; data and ACKs leave on those ticks). ' +
      `Simulated link per direction: one-way delay ${BASE_LINK.delayMs} ms ± ${BASE_LINK.jitterMs} ms jitter (FIFO), loss p per datagram. ` +
      'Every payload carries a sequence number and a CRC-32; every run is checked for loss, duplication, reordering and corruption.',
    '',
  );
  if (run.problems.length > 0) {
    out.push('## ⚠ Problems', '', ...run.problems.map((p) => `- ${p}`), '');
  } else {
    out.push('**Delivery integrity: every run delivered every message once, intact and in order.**', '');
  }
  if (run.notes.length > 0) out.push('## Notes', '', ...run.notes.map((n) => `- ${n}`), '');
  const targets = evaluateTargets(run);
  out.push(
    '## Targets (benchmark-method.md)',
    '',
    table(['figure', 'target', 'measured', 'status'], targets.map((t) => [t.figure, t.target, t.measured, t.status === 'met' ? '✅ met' : t.status === 'not met' ? '❌ not met' : '— not measured'])),
    '',
  );
  for (const section of [
    run.chat.length ? chatSection(run) : '',
    run.chat.length ? '![chat latency](chat-latency.svg)' : '',
    run.bulk.length ? bulkSection(run) : '',
    run.bulk.length ? '![bulk goodput](bulk-goodput.svg)' : '',
    calibrationSection(run),
    manySection(run),
    forumSection(run),
    microSection(run),
    udpSection(run),
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
