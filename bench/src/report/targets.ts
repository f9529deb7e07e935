import { isClean } from '../integrity/integrity-checker.js';
import type { SystemId } from '../peers/systems.js';
import { bulkLimitBps, type BulkResult } from '../run/bulk-run.js';
import type { ChatResult } from '../run/chat-run.js';
import { BASE_RTT_MS } from '../scenarios/link-variants.js';
import { ms, num, ratio } from './format.js';
import type { RunResults } from './results.js';

/** Whether a target was reached. */
export type TargetStatus = 'met' | 'not met' | 'not measured';

/** One row of the targets table of benchmark-method.md. */
export interface TargetRow {
  readonly figure: string;
  readonly target: string;
  readonly measured: string;
  readonly status: TargetStatus;
}

const SUBJECT: SystemId = 'rudp';

function chatAt(results: readonly ChatResult[], system: SystemId, loss: number): ChatResult | undefined {
  return results.find((r) => r.system === system && r.variant.kind === 'plain' && r.variant.loss === loss);
}

function bulkAt(results: readonly BulkResult[], system: SystemId, loss: number): BulkResult | undefined {
  return results.find((r) => r.system === system && r.variant.kind === 'plain' && r.variant.loss === loss);
}

function chatP99Target(run: RunResults, loss: number, rttFactor: number): TargetRow {
  const figure = `chat p99 latency, p = ${loss * 100}%`;
  const target = `≤ 0.67 × KCP fast p99, and ≤ ${rttFactor} × RTT (${rttFactor * BASE_RTT_MS} ms)`;
  const mine = chatAt(run.chat, SUBJECT, loss);
  const kcp = chatAt(run.chat, 'kcp-fast', loss);
  if (!mine || !kcp) return { figure, target, measured: 'not run', status: 'not measured' };
  const r = mine.latency.p99 / kcp.latency.p99;
  const ok = mine.completed && r <= 0.67 && mine.latency.p99 <= rttFactor * BASE_RTT_MS;
  return {
    figure,
    target,
    measured: `rudp ${ms(mine.latency.p99)} ms, KCP fast ${ms(kcp.latency.p99)} ms (× ${ratio(r)}; ${ratio(mine.latency.p99 / BASE_RTT_MS)} × RTT)`,
    status: ok ? 'met' : 'not met',
  };
}

function chatOverheadTarget(run: RunResults): TargetRow {
  const figure = 'chat wire overhead';
  const target = "≤ KCP fast's bytes per payload byte (every loss rate)";
  const pairs = run.chat
    .filter((r) => r.system === SUBJECT && r.variant.kind === 'plain')
    .map((r) => ({ mine: r, kcp: chatAt(run.chat, 'kcp-fast', r.variant.loss) }))
    .filter((p): p is { mine: ChatResult; kcp: ChatResult } => p.kcp !== undefined);
  if (pairs.length === 0) return { figure, target, measured: 'not run', status: 'not measured' };
  const worst = pairs.reduce((a, b) => (b.mine.wirePerPayload / b.kcp.wirePerPayload > a.mine.wirePerPayload / a.kcp.wirePerPayload ? b : a));
  const ok = pairs.every((p) => p.mine.wirePerPayload <= p.kcp.wirePerPayload);
  return {
    figure,
    target,
    measured: `worst at p = ${worst.mine.variant.loss}: rudp ${num(worst.mine.wirePerPayload)}, KCP fast ${num(worst.kcp.wirePerPayload)}`,
    status: ok ? 'met' : 'not met',
  };
}

function bulkTarget(run: RunResults, figure: string, target: string, losses: readonly number[], minFraction: number, beatKcp: boolean): TargetRow {
  const rows = losses
    .map((loss) => ({ loss, mine: bulkAt(run.bulk, SUBJECT, loss), kcp: bulkAt(run.bulk, 'kcp-fast', loss) }))
    .filter((r): r is { loss: number; mine: BulkResult; kcp: BulkResult | undefined } => r.mine !== undefined);
  if (rows.length === 0) return { figure, target, measured: 'not run', status: 'not measured' };
  const ok = rows.every(
    (r) => r.mine.completed && r.mine.fractionOfLimit >= minFraction && (!beatKcp || (r.kcp !== undefined && r.mine.goodputBps >= r.kcp.goodputBps)),
  );
  const measured = rows
    .map((r) => `p=${r.loss}: ${num(r.mine.fractionOfLimit)}${beatKcp && r.kcp ? ` (KCP fast ${num(r.kcp.fractionOfLimit)})` : ''}`)
    .join('; ');
  return { figure, target, measured, status: ok ? 'met' : 'not met' };
}

function deliveryTarget(run: RunResults): TargetRow {
  const figure = 'delivery';
  const target = 'every run: nothing lost, duplicated, corrupted or out of order';
  const mine = [
    ...run.chat.filter((r) => r.system === SUBJECT).map((r) => ({ clean: isClean(r.integrity), done: r.completed })),
    ...run.bulk.filter((r) => r.system === SUBJECT).map((r) => ({ clean: isClean(r.integrity), done: r.completed })),
    ...run.many.filter((r) => r.system === SUBJECT).map((r) => ({ clean: isClean(r.integrity), done: r.completed })),
    ...run.forum.filter((r) => r.system === SUBJECT).map((r) => ({ clean: r.clean, done: r.completed })),
  ];
  if (mine.length === 0) return { figure, target, measured: 'not run', status: 'not measured' };
  const bad = mine.filter((m) => !m.clean || !m.done).length;
  return { figure, target, measured: `${mine.length - bad}/${mine.length} rudp runs complete and clean`, status: bad === 0 ? 'met' : 'not met' };
}

function memoryTarget(run: RunResults): TargetRow {
  const figure = 'idle connection memory';
  const target = '≤ 4 KiB each at 10,000 connections';
  const r = run.many.find((m) => m.system === SUBJECT && m.connections === 10_000);
  if (!r || !Number.isFinite(r.heapPerConnectionBytes)) return { figure, target, measured: 'not run (or no --expose-gc)', status: 'not measured' };
  return {
    figure,
    target,
    measured: `${r.heapPerConnectionBytes.toFixed(0)} B heap per connection`,
    status: r.heapPerConnectionBytes <= 4096 ? 'met' : 'not met',
  };
}

function udpTarget(run: RunResults): TargetRow {
  const figure = 'real UDP throughput vs raw dgram';
  const target = '≥ 0.5 × raw dgram (64 B and 1 KB messages)';
  const rows = run.udp?.throughput ?? [];
  if (rows.length === 0) return { figure, target, measured: 'not run', status: 'not measured' };
  const ok = rows.every((r) => r.ratio >= 0.5);
  return { figure, target, measured: rows.map((r) => `${r.messageBytes} B: × ${ratio(r.ratio)}`).join('; '), status: ok ? 'met' : 'not met' };
}

/** Evaluates every target of benchmark-method.md against one run (rudp is the subject). */
export function evaluateTargets(run: RunResults): TargetRow[] {
  const limit = (loss: number): string => `B·(1−p) = ${num(bulkLimitBps(run.bulkScenario, loss) / 1e6)} Mbit/s`;
  return [
    chatP99Target(run, 0.1, 2.5),
    chatP99Target(run, 0.2, 3.5),
    chatOverheadTarget(run),
    bulkTarget(run, 'bulk goodput, p ≤ 10%', '≥ 0.90 × B·(1−p), and ≥ KCP fast', [0, 0.01, 0.05, 0.1], 0.9, true),
    bulkTarget(run, 'bulk goodput, p = 20%', `≥ 0.80 × ${limit(0.2)}`, [0.2], 0.8, false),
    bulkTarget(run, 'bulk goodput, p = 0', `≥ 0.95 × B`, [0], 0.95, false),
    deliveryTarget(run),
    memoryTarget(run),
    udpTarget(run),
  ];
}
