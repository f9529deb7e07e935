import { describe, expect, it } from 'vitest';
import { coldRuns, compactProblems } from '../src/report/markdown.js';
import type { UdpBulkResult, UdpPeer, UdpThroughput } from '../src/udp/udp-results.js';
import { outputNames } from '../src/report/results.js';
import { encryptedThroughput, judge, manyRealTarget } from '../src/report/targets.js';
import type { ManyRealResult } from '../src/udp/many-real.js';
import { formatSpread, groupBy, rotated, spread } from '../src/stats/seeds.js';

describe('spread over seeds', () => {
  it('rotates the run order so that each system goes first in turn', () => {
    const systems = ['rudp', 'kcp-flush', 'udx-native'];
    expect(rotated(systems, 0)).toEqual(systems);
    expect(rotated(systems, 1)).toEqual(['kcp-flush', 'udx-native', 'rudp']);
    expect(rotated(systems, 5)).toEqual(['udx-native', 'rudp', 'kcp-flush']);
    expect(new Set([0, 1, 2].map((i) => rotated(systems, i)[0]))).toEqual(new Set(systems));
    expect(rotated([], 3)).toEqual([]);
  });

  it('gives the median (mean of the middle two for an even count), min and max, skipping NaN', () => {
    expect(spread([5, 1, 3, Number.NaN, 4, 2])).toEqual({ median: 3, min: 1, max: 5, count: 5 });
    expect(spread([4, 1, 3, 2]).median).toBe(2.5);
    expect(spread([]).count).toBe(0);
  });

  it('formats median (min–max), or one value when the seeds agree', () => {
    const f = (v: number): string => v.toFixed(1);
    expect(formatSpread(spread([0.919, 0.95, 0.932, 0.96, 0.97]), (v) => v.toFixed(3))).toBe('0.950 (0.919–0.970)');
    expect(formatSpread(spread([1, 3, 2]), f)).toBe('2.0 (1.0–3.0)');
    expect(formatSpread(spread([2, 2.01]), f)).toBe('2.0');
    expect(formatSpread(spread([7]), f)).toBe('7.0');
  });

  it('groups in first-seen order', () => {
    expect([...groupBy(['b1', 'a1', 'b2'], (s) => s[0]).entries()]).toEqual([
      ['b', ['b1', 'b2']],
      ['a', ['a1']],
    ]);
  });
});

describe('judge (a target over seeds)', () => {
  const seeds = (...values: number[]) => values.map((value, i) => ({ seed: i + 1, value }));

  it('is met when the median meets the bound and no seed misses badly, naming the seeds that miss', () => {
    const v = judge(seeds(0.5, 0.52, 0.56, 0.4, 0.45), { kind: 'at-most', limit: 0.55, tolerance: 0.1 });
    expect(v.met).toBe(true);
    expect(v.median).toBe(0.5);
    expect(v.misses).toEqual([{ seed: 3, value: 0.56, badly: false }]);
  });

  it('is not met when one seed misses badly although the median meets it', () => {
    const v = judge(seeds(0.5, 0.5, 0.5, 0.5, 0.7), { kind: 'at-most', limit: 0.55, tolerance: 0.1 });
    expect(v.met).toBe(false);
    expect(v.misses).toEqual([{ seed: 5, value: 0.7, badly: true }]);
  });

  it('is not met when the median misses', () => {
    expect(judge(seeds(0.6, 0.6, 0.5), { kind: 'at-most', limit: 0.55, tolerance: 0.1 }).met).toBe(false);
  });

  it('with tolerance 0 ("on every seed") any miss fails: bulk at p = 0 on seeds 4 and 15 of the review', () => {
    const v = judge(
      [
        { seed: 1, value: 0.951 },
        { seed: 4, value: 0.919 },
        { seed: 15, value: 0.932 },
      ],
      { kind: 'at-least', limit: 0.95, tolerance: 0 },
    );
    expect(v.met).toBe(false);
    expect(v.misses.map((m) => m.seed)).toEqual([4, 15]);
    expect(v.misses.every((m) => m.badly)).toBe(true);
  });

  it('counts a missing figure (NaN) as a bad miss, and nothing measured as not met', () => {
    expect(judge(seeds(0.9, Number.NaN, 0.9), { kind: 'at-least', limit: 0.8, tolerance: 0.1 }).met).toBe(false);
    expect(judge([], { kind: 'at-least', limit: 0.8, tolerance: 0.1 }).met).toBe(false);
  });
});

describe('output files', () => {
  it('a --quick run never writes the full run\'s files', () => {
    const full = outputNames(false);
    const quick = outputNames(true);
    expect(full).toEqual({ report: 'latest.md', chatSvg: 'chat-latency.svg', bulkSvg: 'bulk-goodput.svg', json: 'latest.json' });
    for (const name of Object.values(quick)) expect(Object.values(full)).not.toContain(name);
  });
});

describe('problems list', () => {
  it('folds the seeds of one incomplete case into one line and keeps violations as they are', () => {
    const lines = compactProblems([
      'chat kcp-default p=0.1 seed 1 did not complete: 3643/6001 delivered when stopped',
      '**INTEGRITY VIOLATION in chat rudp p=0.1 seed 2: 1 duplicated**',
      'chat kcp-default p=0.1 seed 2 did not complete: 4713/6001 delivered when stopped',
      'forum first reply kcp-fast p=0.2 seed 3 did not complete (0 commands answered)',
    ]);
    expect(lines).toEqual([
      'chat kcp-default p=0.1 did not complete on 2 seeds (seed 1: 3643/6001 delivered when stopped; seed 2: 4713/6001 delivered when stopped)',
      '**INTEGRITY VIOLATION in chat rudp p=0.1 seed 2: 1 duplicated**',
      'forum first reply kcp-fast p=0.2 did not complete on 1 seed (seed 3: (0 commands answered))',
    ]);
  });
});

describe('the many-real target (10,000 mostly idle connections, real sockets)', () => {
  const result = (system: ManyRealResult['system'], round: number, cpu: number, rss: number): ManyRealResult => ({
    system,
    round,
    connections: 10_000,
    connected: 10_000,
    serverCpuPercent: cpu,
    datagramsPerMessage: 2,
    datagramsSentPerMessage: 1,
    rssPerConnection: rss,
    heapPerConnection: rss / 2,
    window: { cpuSeconds: cpu * 0.6, userSeconds: cpu * 0.5, systemSeconds: cpu * 0.1, wallSeconds: 60, datagramsSent: 60_000, datagramsReceived: 60_000, messages: 60_000 },
    clean: true,
    sent: 70_000,
    received: 70_000,
    closedOnServer: {},
    closedOnClients: {},
  });

  it('pairs rudp with udx-native round by round: met only when CPU ≤ 2 × and RSS per connection ≤ 1 ×', () => {
    const met = manyRealTarget({ manyReal: [result('rudp', 0, 2.6, 9_000), result('udx-native', 0, 1.4, 10_000), result('udx-native', 1, 1.2, 10_000), result('rudp', 1, 2.2, 9_500)] });
    expect(met.status).toBe('met');
    expect(met.measured).toContain('2 rounds');
    const cpu = manyRealTarget({ manyReal: [result('rudp', 0, 7.1, 9_000), result('udx-native', 0, 1.3, 10_000)] });
    expect(cpu.status).toBe('not met');
    const memory = manyRealTarget({ manyReal: [result('rudp', 0, 2, 16_000), result('udx-native', 0, 1.3, 10_000)] });
    expect(memory.status).toBe('not met');
  });

  it('is not measured without both systems', () => {
    expect(manyRealTarget({ manyReal: [] }).status).toBe('not measured');
    expect(manyRealTarget({ manyReal: [result('rudp', 0, 2, 9_000)] }).measured).toBe('udx-native not measured');
  });
});

describe('the relay bulk warm-up runs (the cold cost)', () => {
  const run = (system: UdpBulkResult['system'], variantId: string, cpuSeconds: number): UdpBulkResult => ({
    system,
    variantId,
    reorder: false,
    loss: 0,
    seed: 0,
    totalBytes: 4 * 1048576,
    completionMs: 3_600,
    goodputBps: 9e6,
    resentShare: 0,
    spuriousShare: 0,
    drops: { link: 0, queue: 0, relayKernel: 0, endsKernel: 0 },
    cpuSeconds,
    relayCpuSeconds: 0.3,
    relayLateness: { meanMs: 0.1, maxMs: 1 },
    clean: true,
    completed: true,
  });

  it('lists each system\'s runs in the order they ran, with their link', () => {
    const line = coldRuns([run('rudp', 'plain p=0', 1.031), run('rudp', 'plain p=0.1', 0.808), run('udx-native', 'plain p=0', 0.566), run('udx-native', 'plain p=0.1', Number.NaN)]);
    expect(line).toContain('per 4 MiB run');
    expect(line).toContain('rudp: plain p=0 1.03, plain p=0.1 0.81; udx-native: plain p=0 0.57, plain p=0.1 —.');
  });

  it('says nothing when no warm-up ran', () => {
    expect(coldRuns([])).toBe('');
  });
});

describe('the encrypted vs plaintext target (loopback, round by round)', () => {
  const size = (messageBytes: number, sealed: readonly number[]): UdpThroughput => {
    const peer = (name: UdpPeer, ratios: readonly number[]) => ({ peer: name, messagesPerSec: 1, datagramsPerSec: 1, megabytesPerSec: 1, cpuSecondsPerGB: 1, ratioToUdx: 1, ratiosToPlain: ratios });
    return { messageBytes, peers: [peer('rudp', sealed), peer('rudp plain', sealed.map(() => 1)), peer('rudp libsodium', [0.7, 0.72, 0.71])] };
  };

  it('is met when the median of the rounds\' ratios is at least 0.8 and no round is below 0.72; the rounds that miss are named', () => {
    const row = encryptedThroughput([size(64, [0.5]), size(1024, [0.85, 0.9, 0.75, 0.82, 0.88]), size(64_000, [0.83, 0.84, 0.86, 0.81, 0.9])]);
    expect(row.status).toBe('met');
    expect(row.measured).toContain('1,024 B: median 0.85 (0.75–0.90); missed on round 3 (0.75)');
    expect(row.measured).not.toContain('64 B');
  });

  it('is not met when one round misses badly, even with a good median', () => {
    expect(encryptedThroughput([size(1024, [0.85, 0.9, 0.7, 0.82, 0.88])]).status).toBe('not met');
    expect(encryptedThroughput([size(1024, [0.79, 0.78, 0.9])]).status).toBe('not met');
  });
});
