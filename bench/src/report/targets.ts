import { isClean } from '../integrity/integrity-checker.js';
import { REFERENCE, type SystemId } from '../peers/systems.js';
import { spuriousShare, type BulkResult } from '../run/bulk-run.js';
import type { ChatResult } from '../run/chat-run.js';
import type { ForumResult } from '../run/forum-run.js';
import type { LinkVariant } from '../scenarios/link-variants.js';
import { spread } from '../stats/seeds.js';
import { ENCRYPTION_PAIRS } from '../udp/encryption-pairs.js';
import type { UdpBulkResult, UdpPeer, UdpThroughput } from '../udp/udp-results.js';
import { ms, num, ratio } from './format.js';
import type { RunResults } from './results.js';

/** Whether a target was reached. */
export type TargetStatus = 'met' | 'not met' | 'not measured';

/** One row of the targets table (issue 13's targets, then the rest of benchmark-method.md's). */
export interface TargetRow {
  readonly figure: string;
  readonly target: string;
  readonly measured: string;
  readonly status: TargetStatus;
}

/** One seed's value of a figure. */
export interface SeedValue {
  readonly seed: number;
  readonly value: number;
}

/** A bound on a figure: `value ≤ limit` (`at-most`) or `value ≥ limit` (`at-least`). */
export interface Bound {
  readonly kind: 'at-most' | 'at-least';
  readonly limit: number;
  /**
   * How far past the limit one seed may be, as a fraction of the limit, before
   * the target counts as not met even if the median meets it. 0 = every seed must meet it.
   */
  readonly tolerance: number;
}

/** The verdict of one bound over the seeds. */
export interface Verdict {
  readonly met: boolean;
  readonly median: number;
  /** Seeds that miss the limit, with whether they miss it badly (beyond the tolerance). */
  readonly misses: readonly (SeedValue & { readonly badly: boolean })[];
  readonly count: number;
}

const BADLY = 0.1;

/**
 * Judges one figure over the seeds: met when the median meets the bound and
 * no seed misses it by more than the tolerance. A missing value (NaN) on any
 * seed counts as a bad miss.
 */
export function judge(values: readonly SeedValue[], bound: Bound): Verdict {
  const passes = (v: number, slack: number): boolean =>
    bound.kind === 'at-most' ? v <= bound.limit * (1 + slack) : v >= bound.limit * (1 - slack);
  const misses = values
    .filter((v) => !(Number.isFinite(v.value) && passes(v.value, 0)))
    .map((v) => ({ ...v, badly: !(Number.isFinite(v.value) && passes(v.value, bound.tolerance)) }));
  const median = spread(values.map((v) => v.value)).median;
  const met = values.length > 0 && Number.isFinite(median) && passes(median, 0) && !misses.some((m) => m.badly);
  return { met, median, misses, count: values.length };
}

/** `median m (min–max)` and the seeds (or the `unit` the values are taken over) that missed. */
function describe(values: readonly SeedValue[], verdict: Verdict, format: (v: number) => string, unit = 'seed'): string {
  const s = spread(values.map((v) => v.value));
  const range = s.count > 1 ? ` (${format(s.min)}–${format(s.max)})` : '';
  const misses = verdict.misses.length
    ? `; missed on ${unit} ${verdict.misses.map((m) => `${m.seed} (${format(m.value)}${m.badly ? ', badly' : ''})`).join(', ')}`
    : '';
  return `median ${format(s.median)}${range}${misses}`;
}

const notRun = (figure: string, target: string, why = 'not run'): TargetRow => ({ figure, target, measured: why, status: 'not measured' });

/** Results of one system on one variant, by seed. */
function runsOf<T extends { readonly system: SystemId; readonly variant: LinkVariant; readonly seed: number }>(
  results: readonly T[],
  system: SystemId,
  match: (v: LinkVariant) => boolean,
): T[] {
  return results.filter((r) => r.system === system && match(r.variant));
}

/** Per-seed `figure(mine) ÷ figure(reference)`, for seeds both ran. */
function pairedRatios<T extends { readonly seed: number }>(mine: readonly T[], ref: readonly T[], figure: (r: T) => number): SeedValue[] {
  const bySeed = new Map(ref.map((r) => [r.seed, r]));
  return mine.flatMap((r) => {
    const o = bySeed.get(r.seed);
    return o ? [{ seed: r.seed, value: figure(r) / figure(o) }] : [];
  });
}

const plainAt = (loss: number) => (v: LinkVariant) => v.kind === 'plain' && v.loss === loss;
const reorderAt = (loss: number) => (v: LinkVariant) => v.kind === 'jitter-reorder' && v.loss === loss;
const SUBJECT: SystemId = 'rudp';

/** Several bounds on one row: met when all are. */
function combine(figure: string, target: string, parts: readonly { readonly label: string; readonly values: readonly SeedValue[]; readonly bound: Bound; readonly format: (v: number) => string }[]): TargetRow {
  if (parts.some((p) => p.values.length === 0)) return notRun(figure, target);
  const verdicts = parts.map((p) => ({ p, v: judge(p.values, p.bound) }));
  return {
    figure,
    target,
    measured: verdicts.map(({ p, v }) => `${p.label}: ${describe(p.values, v, p.format)}`).join('; '),
    status: verdicts.every(({ v }) => v.met) ? 'met' : 'not met',
  };
}

function simReorderBulk(run: RunResults): TargetRow {
  const figure = 'bulk, 10% reordering + per-datagram jitter, no loss (simulated)';
  const target = 'goodput ≥ 0.8 × the same run without reordering; spurious retransmissions ≤ 1% of packets; time ≤ 0.5 × KCP flush';
  const mine = runsOf(run.bulk, SUBJECT, reorderAt(0));
  const plain = runsOf(run.bulk, SUBJECT, plainAt(0));
  const ref = runsOf(run.bulk, REFERENCE, reorderAt(0));
  return combine(figure, target, [
    { label: 'goodput ÷ no reordering', values: pairedRatios(mine, plain, (r) => r.goodputBps), bound: { kind: 'at-least', limit: 0.8, tolerance: BADLY }, format: ratio },
    { label: 'spurious', values: mine.map((r) => ({ seed: r.seed, value: spuriousShare(r) })), bound: { kind: 'at-most', limit: 0.01, tolerance: BADLY }, format: pct },
    { label: 'time ÷ KCP flush', values: pairedRatios(mine, ref, (r) => r.completionMs), bound: { kind: 'at-most', limit: 0.5, tolerance: BADLY }, format: ratio },
  ]);
}

function simReorderLossBulk(run: RunResults): TargetRow {
  const mine = runsOf(run.bulk, SUBJECT, reorderAt(0.1));
  const ref = runsOf(run.bulk, REFERENCE, reorderAt(0.1));
  return combine('bulk, the same plus 10% loss (simulated)', 'time ≤ 0.5 × KCP flush', [
    { label: 'time ÷ KCP flush', values: pairedRatios(mine, ref, (r) => r.completionMs), bound: { kind: 'at-most', limit: 0.5, tolerance: BADLY }, format: ratio },
  ]);
}

function relayBulk(run: RunResults, loss: number): TargetRow {
  const figure = loss === 0 ? 'bulk, 10% reordering + per-datagram jitter, no loss (real relay)' : 'bulk, the same plus 10% loss (real relay)';
  const target = loss === 0 ? 'goodput ≥ 0.8 × the same run without reordering; spurious retransmissions ≤ 1% of packets; time ≤ 0.5 × KCP flush' : 'time ≤ 0.5 × KCP flush';
  const bulk = run.udp?.bulk ?? [];
  const of = (system: string, reorder: boolean): UdpBulkResult[] => bulk.filter((r) => r.system === system && r.reorder === reorder && r.loss === loss);
  const mine = of(SUBJECT, true);
  const parts = [
    { label: 'time ÷ KCP flush', values: pairedRatios(mine, of(REFERENCE, true), (r) => r.completionMs), bound: { kind: 'at-most', limit: 0.5, tolerance: BADLY } as Bound, format: ratio },
  ];
  if (loss === 0) {
    parts.unshift(
      { label: 'goodput ÷ no reordering', values: pairedRatios(mine, of(SUBJECT, false), (r) => r.goodputBps), bound: { kind: 'at-least', limit: 0.8, tolerance: BADLY }, format: ratio },
      { label: 'spurious (rudp\'s own count)', values: mine.map((r) => ({ seed: r.seed, value: r.spuriousShare })), bound: { kind: 'at-most', limit: 0.01, tolerance: BADLY }, format: pct },
    );
  }
  return combine(figure, target, parts);
}

function chatP99(run: RunResults, loss: number): TargetRow {
  const mine = runsOf(run.chat, SUBJECT, plainAt(loss));
  const ref = runsOf(run.chat, REFERENCE, plainAt(loss));
  return combine(`chat p99 at ${loss * 100}% loss (simulated)`, '≤ 0.55 × KCP flush p99 (median of seeds); wire bytes ≤ KCP flush\'s', [
    { label: 'p99 ÷ KCP flush', values: pairedRatios(mine, ref, (r) => r.latency.p99), bound: { kind: 'at-most', limit: 0.55, tolerance: BADLY }, format: ratio },
    { label: 'wire ÷ KCP flush', values: pairedRatios(mine, ref, (r) => r.wirePerPayload), bound: { kind: 'at-most', limit: 1, tolerance: BADLY }, format: ratio },
  ]);
}

function chatBurst(run: RunResults): TargetRow {
  const burst = (v: LinkVariant): boolean => v.kind === 'burst' && v.loss === 0.1;
  const mine = runsOf(run.chat, SUBJECT, burst);
  const ref = runsOf(run.chat, REFERENCE, burst);
  return combine('chat p99, burst loss (mean burst 3, 10%, simulated)', '≤ 0.8 × KCP flush', [
    { label: 'p99 ÷ KCP flush', values: pairedRatios(mine, ref, (r) => r.latency.p99), bound: { kind: 'at-most', limit: 0.8, tolerance: BADLY }, format: ratio },
  ]);
}

function bulkZero(run: RunResults): TargetRow {
  const mine = runsOf(run.bulk, SUBJECT, plainAt(0));
  return combine('bulk at p = 0 (simulated)', '≥ 0.95 × B on every seed', [
    { label: 'goodput ÷ B', values: mine.map((r) => ({ seed: r.seed, value: r.fractionOfLimit })), bound: { kind: 'at-least', limit: 0.95, tolerance: 0 }, format: (v) => num(v, 3) },
  ]);
}

function firstReply(run: RunResults): TargetRow {
  const first = (r: ForumResult): boolean => r.scenario.commands === 1 && r.variant.loss === 0.2;
  const mine = run.forum.filter((r) => first(r) && r.system === SUBJECT);
  const ref = run.forum.filter((r) => first(r) && r.system === REFERENCE);
  const row = combine('first forum reply after connect, p99 at 20% loss (simulated)', "≤ KCP flush's first-message p99", [
    { label: 'p99 ÷ KCP flush', values: pairedRatios(mine, ref, (r) => r.firstReply.p99), bound: { kind: 'at-most', limit: 1, tolerance: BADLY }, format: ratio },
  ]);
  if (row.status === 'not measured') return row;
  const p99 = (rs: readonly ForumResult[]): string => ms(spread(rs.map((r) => r.firstReply.p99)).median);
  return { ...row, measured: `${row.measured} (rudp ${p99(mine)} ms, KCP flush ${p99(ref)} ms)` };
}

function udp64k(run: RunResults): TargetRow {
  const figure = 'real UDP on loopback, one connection, 64 KB messages';
  const target = "bytes/s ≥ udx-native's in the same run";
  const t = run.udp?.throughput.find((x) => x.messageBytes >= 60_000);
  const rudp = t?.peers.find((p) => p.peer === 'rudp');
  const udx = t?.peers.find((p) => p.peer === 'udx-native');
  if (!rudp || !udx || !Number.isFinite(rudp.ratioToUdx)) return notRun(figure, target, run.udp ? 'udx-native not measured' : 'not run');
  return {
    figure,
    target,
    measured: `rudp ${num(rudp.megabytesPerSec)} MB/s, udx-native ${num(udx.megabytesPerSec)} MB/s (median of rounds' ratios × ${ratio(rudp.ratioToUdx)})`,
    status: rudp.ratioToUdx >= 1 ? 'met' : 'not met',
  };
}

function cpuPerByte(run: RunResults): TargetRow {
  const figure = 'CPU per byte, on loopback (and bulk through a relay)';
  const target = "≤ 1.5 × udx-native's";
  const rows = (run.udp?.throughput ?? []).flatMap((t) => {
    const rudp = t.peers.find((p) => p.peer === 'rudp');
    const udx = t.peers.find((p) => p.peer === 'udx-native');
    const stream = t.peers.find((p) => p.peer === 'rudp stream()');
    return rudp && udx ? [{ size: t.messageBytes, r: rudp.cpuSecondsPerGB / udx.cpuSecondsPerGB, stream: stream ? stream.cpuSecondsPerGB / udx.cpuSecondsPerGB : undefined }] : [];
  });
  const bulk = run.udp?.bulk ?? [];
  const plainOf = (system: string): UdpBulkResult[] => bulk.filter((r) => r.system === system && !r.reorder && r.loss === 0);
  const relay = pairedRatios(plainOf(SUBJECT), plainOf('udx-native'), (r) => r.cpuSeconds / r.totalBytes);
  if (rows.length === 0 && relay.length === 0) return notRun(figure, target);
  const relayVerdict = judge(relay, { kind: 'at-most', limit: 1.5, tolerance: BADLY });
  const loopback = rows.length ? `loopback, CPU s/GB ÷ udx-native: ${rows.map((x) => `${x.size.toLocaleString('en-US')} B × ${ratio(x.r)}`).join('; ')}` : 'loopback: not run';
  // The verdict stays on messages (one event each); written as a byte stream, as udx-native is, rudp is shown beside it.
  const asStream = rows.filter((x) => x.stream !== undefined);
  const streamNote = asStream.length ? ` (rudp stream(), written as a byte stream as udx-native is: ${asStream.map((x) => `${x.size.toLocaleString('en-US')} B × ${ratio(x.stream as number)}`).join('; ')})` : '';
  const viaRelay = relay.length ? `bulk through the relay (no loss, FIFO; both ends, the relay apart): ${describe(relay, relayVerdict, ratio)}` : 'through a relay: not run';
  return {
    figure,
    target,
    measured: `${loopback}${streamNote}; ${viaRelay}`,
    status: rows.every((x) => x.r <= 1.5) && (relay.length === 0 || relayVerdict.met) ? 'met' : 'not met',
  };
}

/** Issue 14's cost of encryption on loopback: rudp (default provider) ÷ rudp plaintext, round by round (judged as seeds are), and the fallback libraries' medians. */
export function encryptedThroughput(throughput: readonly UdpThroughput[]): TargetRow {
  const figure = 'encrypted vs plaintext rudp, real UDP on loopback, 1 KB and 64 KB messages';
  const target = "bytes/s ≥ 0.8 × plaintext rudp's in the same run";
  const sizes = throughput.filter((t) => t.messageBytes >= 1024);
  const rows = sizes.flatMap((t) => {
    if (!t.peers.some((p) => p.peer === 'rudp plain')) return [];
    const rounds = (peer: UdpPeer): readonly SeedValue[] => (t.peers.find((p) => p.peer === peer)?.ratiosToPlain ?? []).map((value, i) => ({ seed: i + 1, value }));
    const sealed = rounds('rudp');
    const median = (peer: UdpPeer): number => spread(rounds(peer).map((r) => r.value)).median;
    const verdict = judge(sealed, { kind: 'at-least', limit: 0.8, tolerance: BADLY });
    return [{ size: t.messageBytes, sealed, verdict, sodium: median('rudp libsodium'), node: median('rudp node:crypto') }];
  });
  if (rows.length === 0) return notRun(figure, target);
  const measured = rows
    .map((x) => `${x.size.toLocaleString('en-US')} B: ${describe(x.sealed, x.verdict, ratio, 'round')} (on libsodium ${ratio(x.sodium)}, on node:crypto ${ratio(x.node)})`)
    .join('; ');
  return {
    figure,
    target,
    measured: `rudp ÷ rudp plain, each round the median of its ${ENCRYPTION_PAIRS} pairs of runs back to back (ABBA twice, order alternating), over the rounds: ${measured}`,
    status: rows.every((x) => x.verdict.met) ? 'met' : 'not met',
  };
}

/** Issue 14's cost of encryption in the simulated chat: rudp ÷ rudp-plain, same seed. */
function encryptedChat(run: RunResults): TargetRow {
  const parts = [0.1, 0.2].flatMap((loss) => {
    const mine = runsOf(run.chat, SUBJECT, plainAt(loss));
    const plain = runsOf(run.chat, 'rudp-plain', plainAt(loss));
    return [
      { label: `p=${loss} p99 ÷ plaintext`, values: pairedRatios(mine, plain, (r: ChatResult) => r.latency.p99), bound: { kind: 'at-most', limit: 1.05, tolerance: 0 } as Bound, format: ratio },
      { label: `wire ÷ plaintext`, values: pairedRatios(mine, plain, (r: ChatResult) => r.wirePerPayload), bound: { kind: 'at-most', limit: 1.1, tolerance: 0 } as Bound, format: ratio },
    ];
  });
  return combine('encrypted vs plaintext rudp, chat at 10% and 20% loss (simulated)', 'p99 within 5% of plaintext; wire bytes per payload byte within 10%', parts);
}

/** The real-socket many-connections target: server CPU and RSS per connection, each round's rudp ÷ the same round's udx-native. */
export function manyRealTarget(run: Pick<RunResults, 'manyReal'>): TargetRow {
  const figure = '10,000 mostly idle connections on one server (real sockets)';
  const target = "server CPU ≤ 2 × udx-native's at the same load; memory per connection ≤ udx-native's";
  const rs = run.manyReal;
  const rounds = [...new Set(rs.map((r) => r.round))];
  // Ratios pair the two systems of one round (run back to back), as the real-UDP throughput rows do.
  const pairs = rounds.flatMap((round) => {
    const mine = rs.find((r) => r.round === round && r.system === SUBJECT);
    const udx = rs.find((r) => r.round === round && r.system === 'udx-native');
    return mine && udx ? [{ mine, udx }] : [];
  });
  if (pairs.length === 0) return notRun(figure, target, rs.length ? 'udx-native not measured' : 'not run');
  const cpu = pairs.map((p, i) => ({ seed: i + 1, value: p.mine.serverCpuPercent / p.udx.serverCpuPercent }));
  const rss = pairs.map((p, i) => ({ seed: i + 1, value: p.mine.rssPerConnection / p.udx.rssPerConnection }));
  const cpuVerdict = judge(cpu, { kind: 'at-most', limit: 2, tolerance: BADLY });
  const rssVerdict = judge(rss, { kind: 'at-most', limit: 1, tolerance: BADLY });
  const n = (pairs[0] as (typeof pairs)[number]).mine.connections.toLocaleString('en-US');
  const med = (f: (p: (typeof pairs)[number]) => number): number => spread(pairs.map(f)).median;
  return {
    figure,
    target,
    measured:
      `${n} connections, ${pairs.length} round${pairs.length === 1 ? '' : 's'} ("seed" = round): server CPU ÷ udx-native ${describe(cpu, cpuVerdict, ratio)} ` +
      `(rudp ${med((p) => p.mine.serverCpuPercent).toFixed(1)}%, udx-native ${med((p) => p.udx.serverCpuPercent).toFixed(1)}% of a core); ` +
      `RSS per connection ÷ udx-native ${describe(rss, rssVerdict, ratio)}; datagrams per message rudp ${num(med((p) => p.mine.datagramsPerMessage))}, udx-native ${num(med((p) => p.udx.datagramsPerMessage))}`,
    status: cpuVerdict.met && rssVerdict.met ? 'met' : 'not met',
  };
}

function pct(v: number): string {
  return Number.isFinite(v) ? `${(v * 100).toFixed(2)}%` : '—';
}

function chatOverhead(run: RunResults): TargetRow {
  const figure = 'chat wire overhead (simulated)';
  const target = "≤ KCP flush's bytes per payload byte (every loss rate)";
  const losses = [...new Set(run.chat.filter((r) => r.variant.kind === 'plain').map((r) => r.variant.loss))];
  const per = losses.map((loss) => ({
    loss,
    values: pairedRatios(runsOf(run.chat, SUBJECT, plainAt(loss)), runsOf(run.chat, REFERENCE, plainAt(loss)), (r: ChatResult) => r.wirePerPayload),
  }));
  const measured = per.filter((p) => p.values.length > 0);
  if (measured.length === 0) return notRun(figure, target);
  const verdicts = measured.map((p) => ({ p, v: judge(p.values, { kind: 'at-most', limit: 1, tolerance: BADLY }) }));
  return {
    figure,
    target,
    measured: verdicts.map(({ p, v }) => `p=${p.loss}: ${describe(p.values, v, ratio)}`).join('; '),
    status: verdicts.every(({ v }) => v.met) ? 'met' : 'not met',
  };
}

function bulkGoodput(run: RunResults, figure: string, target: string, losses: readonly number[], minFraction: number, beatRef: boolean): TargetRow {
  const parts = losses.flatMap((loss) => {
    const mine = runsOf(run.bulk, SUBJECT, plainAt(loss));
    if (mine.length === 0) return [];
    const list = [
      { label: `p=${loss} ÷ B·(1−p)`, values: mine.map((r: BulkResult) => ({ seed: r.seed, value: r.fractionOfLimit })), bound: { kind: 'at-least', limit: minFraction, tolerance: BADLY } as Bound, format: (v: number) => num(v) },
    ];
    if (beatRef) {
      list.push({ label: `÷ KCP flush`, values: pairedRatios(mine, runsOf(run.bulk, REFERENCE, plainAt(loss)), (r) => r.goodputBps), bound: { kind: 'at-least', limit: 1, tolerance: BADLY }, format: (v: number) => ratio(v) });
    }
    return list;
  });
  if (parts.length === 0) return notRun(figure, target);
  return combine(figure, target, parts);
}

function deliveryTarget(run: RunResults): TargetRow {
  const figure = 'delivery';
  const target = 'every run: nothing lost, duplicated, corrupted or out of order';
  const mine = [
    ...run.chat.filter((r) => r.system === SUBJECT).map((r) => ({ clean: isClean(r.integrity), done: r.completed })),
    ...run.bulk.filter((r) => r.system === SUBJECT).map((r) => ({ clean: isClean(r.integrity), done: r.completed })),
    ...run.many.filter((r) => r.system === SUBJECT).map((r) => ({ clean: isClean(r.integrity), done: r.completed })),
    ...run.forum.filter((r) => r.system === SUBJECT).map((r) => ({ clean: r.clean, done: r.completed })),
    ...(run.udp?.chat ?? []).filter((r) => r.system === SUBJECT).map((r) => ({ clean: r.clean, done: r.completed })),
    ...(run.udp?.bulk ?? []).filter((r) => r.system === SUBJECT).map((r) => ({ clean: r.clean, done: r.completed })),
    ...run.manyReal.filter((r) => r.system === SUBJECT).map((r) => ({ clean: r.clean, done: r.connected === r.connections })),
  ];
  if (mine.length === 0) return notRun(figure, target);
  const bad = mine.filter((m) => !m.clean || !m.done).length;
  return { figure, target, measured: `${mine.length - bad}/${mine.length} rudp runs complete and clean`, status: bad === 0 ? 'met' : 'not met' };
}

function memoryTarget(run: RunResults): TargetRow {
  const runs = run.many.filter((m) => m.system === SUBJECT && m.connections === 10_000 && Number.isFinite(m.heapPerConnectionBytes));
  return combine('idle connection memory (simulated)', '≤ 4 KiB each at 10,000 connections', [
    { label: 'heap per connection', values: runs.map((r) => ({ seed: r.seed, value: r.heapPerConnectionBytes })), bound: { kind: 'at-most', limit: 4096, tolerance: BADLY }, format: (v) => `${v.toFixed(0)} B` },
  ]);
}

/**
 * Evaluates every target against one run (rudp is the subject, KCP flush
 * the reference): first issue 13's table, then the rest of
 * benchmark-method.md's.
 */
export function evaluateTargets(run: RunResults): TargetRow[] {
  return [
    simReorderBulk(run),
    relayBulk(run, 0),
    simReorderLossBulk(run),
    relayBulk(run, 0.1),
    chatP99(run, 0.1),
    chatP99(run, 0.2),
    chatBurst(run),
    bulkZero(run),
    firstReply(run),
    udp64k(run),
    cpuPerByte(run),
    encryptedThroughput(run.udp?.throughput ?? []),
    encryptedChat(run),
    manyRealTarget(run),
    chatOverhead(run),
    bulkGoodput(run, 'bulk goodput, p ≤ 10% (simulated)', '≥ 0.90 × B·(1−p), and ≥ KCP flush', [0, 0.01, 0.05, 0.1], 0.9, true),
    bulkGoodput(run, 'bulk goodput, p = 20% (simulated)', '≥ 0.80 × B·(1−p)', [0.2], 0.8, false),
    deliveryTarget(run),
    memoryTarget(run),
  ];
}
