import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCli, USAGE, type CliOptions } from './cli-options.js';
import { describeViolations, type IntegrityCounts } from './integrity/integrity-checker.js';
import { runMicro } from './micro/micro-bench.js';
import { CHAT_ONLY, SystemFactory, type SystemId } from './peers/systems.js';
import { bulkGoodputSpec, chatLatencySpec, renderSvg } from './report/charts.js';
import { machineInfo } from './report/machine.js';
import { plainBulk, plainChat, renderMarkdown } from './report/markdown.js';
import { Progress } from './report/progress.js';
import { outputNames, type RunResults, type WindowCalibration } from './report/results.js';
import { runBulk, type BulkResult } from './run/bulk-run.js';
import { runChat, type ChatResult } from './run/chat-run.js';
import { runForum, type ForumResult } from './run/forum-run.js';
import { runMany, type ManyResult } from './run/many-run.js';
import { BULK, BULK_QUICK } from './scenarios/bulk.js';
import { CHAT, CHAT_QUICK } from './scenarios/chat.js';
import { FORUM, FORUM_FIRST, FORUM_FIRST_LOSS, FORUM_FIRST_QUICK, FORUM_QUICK, type ForumScenario } from './scenarios/forum.js';
import { plainLoss, quickVariants, standardVariants, type LinkVariant } from './scenarios/link-variants.js';
import { MANY, MANY_QUICK } from './scenarios/many.js';
import { ALL_UDP_PARTS } from './udp/udp-bench.js';
import { runUdpInChild } from './udp/udp-child.js';
import { MANY_REAL, MANY_REAL_QUICK, runManyReal, type ManyRealResult } from './udp/many-real.js';
import type { MicroResult } from './micro/micro-bench.js';
import type { UdpReport } from './udp/udp-results.js';

interface Job {
  readonly label: string;
  readonly run: () => void | Promise<void>;
}

const CALIBRATION_WINDOWS = [64, 128, 256];
const CALIBRATION_LOSSES = [0, 0.1, 0.2];

function variantsFor(opts: CliOptions): LinkVariant[] {
  if (opts.loss !== undefined) return [plainLoss(opts.loss)];
  return opts.quick ? quickVariants() : standardVariants();
}

async function main(argv: readonly string[]): Promise<number> {
  const opts = parseCli(argv);
  if (opts instanceof Error) {
    process.stderr.write(`${opts.message}\n\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const started = performance.now();
  const factory = await SystemFactory.load();
  const notes: string[] = [];
  const problems: string[] = [];
  const chatSystems = opts.systems.filter((s) => {
    if (factory.available(s)) return true;
    notes.push(`${s} skipped: ${factory.rudpUnavailable ?? 'unavailable'}.`);
    return false;
  });
  const systems = chatSystems.filter((s) => !CHAT_ONLY.includes(s));
  if (typeof (globalThis as { gc?: unknown }).gc !== 'function') notes.push('GC not exposed (run node with --expose-gc): heap per connection not measured.');

  const chatScenario = opts.quick ? CHAT_QUICK : CHAT;
  const bulkScenario = opts.quick ? BULK_QUICK : BULK;
  const manyScenario = opts.quick ? MANY_QUICK : MANY;
  const variants = variantsFor(opts);
  const wants = (s: CliOptions['scenarios'][number]): boolean => opts.scenarios.includes(s);

  const chat: ChatResult[] = [];
  const bulk: BulkResult[] = [];
  const calibration: WindowCalibration[] = [];
  const many: ManyResult[] = [];
  const forum: ForumResult[] = [];
  const micro: MicroResult[] = [];
  let udp: UdpReport | undefined;
  const manyReal: ManyRealResult[] = [];
  const jobs: Job[] = [];

  const check = (what: string, integrity: IntegrityCounts, completed: boolean, system: SystemId): void => {
    if (integrity.duplicated || integrity.outOfOrder || integrity.corrupted) {
      const line = `INTEGRITY VIOLATION in ${what}: ${describeViolations(integrity)}`;
      problems.push(`**${line}**`);
      progress.log(line);
      process.exitCode = 1;
    } else if (!completed) {
      const line = `${what} did not complete: ${integrity.delivered}/${integrity.sent} delivered when stopped${system === 'kcp-default' ? ' (KCP default collapses under loss)' : ''}`;
      problems.push(line);
      if (system === 'rudp') progress.log(`INCOMPLETE: ${line}`);
    }
  };

  // Seeds are the innermost loop, so a run's progress line shows every seed of one case together.
  if (wants('chat')) {
    for (const v of variants) {
      for (const system of chatSystems) {
        for (const seed of opts.seeds) {
          jobs.push({
            label: `chat ${system} ${v.id} seed ${seed}`,
            run: () => {
              const r = runChat(factory, system, v, seed, chatScenario);
              chat.push(r);
              check(`chat ${system} ${v.id} seed ${seed}`, r.integrity, r.completed, system);
            },
          });
        }
      }
    }
  }
  if (wants('bulk')) {
    for (const v of variants) {
      for (const system of systems) {
        for (const seed of opts.seeds) {
          jobs.push({
            label: `bulk ${system} ${v.id} seed ${seed}`,
            run: () => {
              const r = runBulk(factory, system, v, seed, bulkScenario);
              bulk.push(r);
              check(`bulk ${system} ${v.id} seed ${seed}`, r.integrity, r.completed, system);
            },
          });
        }
      }
    }
    if (!opts.quick && opts.loss === undefined && systems.includes('kcp-fast')) {
      for (const window of CALIBRATION_WINDOWS) {
        jobs.push({
          label: `bulk kcp-fast window ${window}`,
          run: () => {
            calibration.push({
              window,
              results: CALIBRATION_LOSSES.map((p) => runBulk(factory, 'kcp-fast', plainLoss(p), opts.seed, bulkScenario, { kcpWindow: window })),
            });
          },
        });
      }
    }
  }
  if (wants('many')) {
    for (const count of manyScenario.counts) {
      for (const system of systems) {
        for (const seed of opts.seeds) {
          jobs.push({
            label: `many ${system} ${count} connections seed ${seed}`,
            run: () => {
              const r = runMany(factory, system, count, seed, manyScenario);
              many.push(r);
              check(`many ${system} ${count} seed ${seed}`, r.integrity, r.completed, system);
            },
          });
        }
      }
    }
  }
  if (wants('forum')) {
    const forumJob = (v: LinkVariant, system: SystemId, seed: number, scenario: ForumScenario, what: string): Job => ({
      label: `${what} ${system} ${v.id} seed ${seed}`,
      run: async () => {
        const r = await runForum(factory, system, v, seed, scenario);
        forum.push(r);
        if (!r.clean) {
          problems.push(`**INTEGRITY VIOLATION in ${what} ${system} ${v.id} seed ${seed}: a reply failed to decode, did not match its request or was an error**`);
          process.exitCode = 1;
        } else if (!r.completed) {
          const why = r.closed.length ? `: connection closed: ${r.closed.join('; ')}` : '';
          problems.push(`${what} ${system} ${v.id} seed ${seed} did not complete (${r.commands} commands answered)${why}`);
        }
      },
    });
    for (const v of opts.loss !== undefined ? variants : (opts.quick ? [0.1] : [0, 0.1, 0.2]).map(plainLoss)) {
      for (const system of systems) {
        for (const seed of opts.seeds) jobs.push(forumJob(v, system, seed, opts.quick ? FORUM_QUICK : FORUM, 'forum'));
      }
    }
    const firstLoss = plainLoss(opts.loss ?? FORUM_FIRST_LOSS);
    for (const system of systems) {
      for (const seed of opts.seeds) jobs.push(forumJob(firstLoss, system, seed, opts.quick ? FORUM_FIRST_QUICK : FORUM_FIRST, 'forum first reply'));
    }
  }
  if (wants('micro')) {
    jobs.push({
      label: 'micro-benchmarks',
      run: async () => {
        const r = await runMicro(opts.quick);
        micro.push(...r.results);
        notes.push(...r.notes);
      },
    });
  }
  if (wants('udp') || wants('relay-bulk') || wants('loopback')) {
    const parts = wants('udp') ? ALL_UDP_PARTS : { throughput: wants('loopback'), relayBulk: wants('relay-bulk'), relayChat: false };
    jobs.push({
      label: wants('udp') ? 'real UDP on 127.0.0.1' : [wants('loopback') && 'loopback throughput', wants('relay-bulk') && 'bulk through the relay'].filter(Boolean).join(' and ') + ' on 127.0.0.1',
      run: async () => {
        // In a fresh process: after the simulated scenarios this one's heap would handicap rudp (udp-child.ts).
        const r = await runUdpInChild(opts.quick, opts.seeds, (line) => progress.log(`  ${line}`), parts);
        if (typeof r === 'string') notes.push(r);
        else udp = r;
      },
    });
  }

  if (wants('many-real')) {
    jobs.push({
      label: 'many connections on real sockets',
      run: async () => {
        const r = await runManyReal(opts.quick ? MANY_REAL_QUICK : MANY_REAL, (line) => progress.log(`  ${line}`));
        manyReal.push(...r.results);
        notes.push(...r.notes);
      },
    });
  }

  const progress = new Progress(jobs.length);
  for (const job of jobs) {
    progress.step(job.label);
    await job.run();
  }
  progress.finish();

  const results: RunResults = {
    machine: machineInfo(),
    seed: opts.seed,
    seeds: opts.seeds,
    quick: opts.quick,
    partial: opts.partial,
    argv: argv.filter((a) => a !== '--'),
    chatScenario,
    bulkScenario,
    manyScenario,
    chat,
    bulk,
    calibration,
    many,
    forum,
    micro,
    udp,
    manyReal,
    manyRealScenario: opts.quick ? MANY_REAL_QUICK : MANY_REAL,
    notes,
    problems,
    wallMs: performance.now() - started,
  };
  const outDir = opts.outDir ?? fileURLToPath(new URL('../results/', import.meta.url));
  await mkdir(outDir, { recursive: true });
  // A quick run has files of its own, so it can never overwrite the committed full results.
  const names = outputNames(opts.quick);
  await writeFile(path.join(outDir, names.report), renderMarkdown(results, names));
  await writeFile(path.join(outDir, names.json), `${JSON.stringify(results, null, 1)}\n`);
  if (chat.length) await writeFile(path.join(outDir, names.chatSvg), await renderSvg(chatLatencySpec(plainChat(chat))));
  if (bulk.length) await writeFile(path.join(outDir, names.bulkSvg), await renderSvg(bulkGoodputSpec(plainBulk(bulk), bulkScenario)));
  process.stderr.write(`wrote ${path.join(outDir, names.report)} (${(results.wallMs / 1000).toFixed(1)} s)\n`);
  if (problems.some((p) => p.includes('VIOLATION'))) process.stderr.write('DELIVERY INTEGRITY VIOLATIONS: see the Problems section of the report.\n');
  return process.exitCode === 1 ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
