import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import { bulkLimitBps, mathisForBulk, type BulkResult } from '../run/bulk-run.js';
import type { ChatResult } from '../run/chat-run.js';
import type { BulkScenario } from '../scenarios/bulk.js';
import { groupBy, spread } from '../stats/seeds.js';

/** The median over seeds of `figure` for each (system, loss). */
function medians<T extends { readonly system: string; readonly variant: { readonly loss: number } }>(results: readonly T[], figure: (r: T) => number): { system: string; loss: number; value: number }[] {
  return [...groupBy(results, (r) => `${r.system} ${r.variant.loss}`).values()].map((runs) => {
    const r = runs[0] as T;
    return { system: r.system, loss: r.variant.loss, value: spread(runs.map(figure)).median };
  });
}

/** Renders a Vega-Lite spec to SVG headlessly. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

/** p99 and mean chat latency against loss (medians over seeds), one line per system and figure (log scale). */
export function chatLatencySpec(results: readonly ChatResult[]): TopLevelSpec {
  const values = [
    ...medians(results, (r) => r.latency.p99).map((m) => ({ loss: m.loss * 100, system: m.system, figure: 'p99', ms: m.value })),
    ...medians(results, (r) => r.latency.mean).map((m) => ({ loss: m.loss * 100, system: m.system, figure: 'mean', ms: m.value })),
  ];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Chat latency vs loss (64 B every 20 ms, RTT 70 ms, simulated, median of seeds)',
    width: 560,
    height: 340,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'loss', type: 'quantitative', title: 'loss per direction (%)' },
      y: { field: 'ms', type: 'quantitative', title: 'latency (ms, log scale)', scale: { type: 'log' } },
      color: { field: 'system', type: 'nominal', title: 'system' },
      strokeDash: { field: 'figure', type: 'nominal', title: 'figure' },
      shape: { field: 'figure', type: 'nominal', title: 'figure' },
    },
  };
}

/** Bulk goodput against loss per system (median of seeds), with the B·(1−p) line and the Mathis TCP curve. */
export function bulkGoodputSpec(results: readonly BulkResult[], scenario: BulkScenario): TopLevelSpec {
  const losses = [...new Set(results.map((r) => r.variant.loss))].sort((a, b) => a - b);
  const curveLosses = [...new Set([...losses, ...Array.from({ length: 31 }, (_, i) => i / 100)])].sort((a, b) => a - b);
  const values = [
    ...medians(results, (r) => r.goodputBps).map((m) => ({ loss: m.loss * 100, series: m.system, mbps: m.value / 1e6 })),
    ...curveLosses.map((p) => ({ loss: p * 100, series: 'limit B·(1−p)', mbps: bulkLimitBps(scenario, p) / 1e6 })),
    ...curveLosses.filter((p) => p > 0).map((p) => ({ loss: p * 100, series: 'TCP (Mathis model)', mbps: mathisForBulk(scenario, p) / 1e6 })),
  ];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `Bulk goodput vs loss (${scenario.bandwidthBps / 1e6} Mbit/s bottleneck, ${scenario.queueBytes / 1024} KiB queue, simulated, median of seeds)`,
    width: 560,
    height: 340,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'loss', type: 'quantitative', title: 'loss per direction (%)' },
      y: { field: 'mbps', type: 'quantitative', title: 'goodput (Mbit/s)' },
      color: { field: 'series', type: 'nominal', title: 'series' },
    },
  };
}
