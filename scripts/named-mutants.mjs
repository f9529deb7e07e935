#!/usr/bin/env node
/**
 * The hand-made one-line bugs the rudp unit tests must catch (issue 12,
 * "Tests that catch what they claim"), applied one at a time: each mutant
 * rewrites one line of a source file, runs the unit test files named for
 * it, and must make them fail (named from packages/rudp/test/unit; with one
 * outside it, '../name', they run under the suite's vitest.config.ts). The
 * file is restored after each run (also on Ctrl-C or SIGTERM, at once). StrykerJS (`pnpm mutation`) does the same exhaustively, in a
 * sandbox, for loss detection, ACK tracking, reassembly and flow control;
 * this script pins the specific regressions, across the rest of the core too.
 *
 * Usage: pnpm mutation:named [substring of a mutant name]
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { MUTANTS, unit } from './named-mutants-list.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const filter = process.argv[2];
let restore = () => {};
/** The test run under way, if any: its own process group, so a signal ends all of it (npx, vitest, its workers). */
let child;
const killChild = () => {
  // Not skipped once npx itself has exited: its vitest may still run in the group, holding the pipes, and 'close'
  // (which clears `child`) waits for them; a group already gone is ESRCH, caught below.
  if (child === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
};
// The tests run asynchronously, so these run at once (with spawnSync they waited for the run to end, and Ctrl-C
// only reached the child: the loop went on to the next mutant, and a kill of this process alone left the file mutated).
for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
  process.on(sig, () => {
    killChild();
    restore();
    process.exit(code);
  });
}

/** Runs `args` with npx in `root`, as its own process group; its output, status, and whether `timeoutMs` cut it off. */
function run(args, timeoutMs) {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    child = spawn('npx', args, { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killChild();
    }, timeoutMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      child = undefined;
      resolve({ stdout, stderr, status, timedOut });
    });
  });
}

let survived = 0;
let ran = 0;
for (const m of MUTANTS) {
  if (filter !== undefined && !m.name.includes(filter)) continue;
  const file = path.join(root, m.file);
  const original = readFileSync(file, 'utf8');
  const at = original.indexOf(m.from);
  if (at < 0 || original.indexOf(m.from, at + 1) >= 0) {
    console.error(`${m.name}: the line to mutate is not found exactly once in ${m.file} (the source changed: update this script)`);
    process.exitCode = 2;
    continue;
  }
  const tests = m.tests.map((t) => path.join(unit, `${t}.test.ts`));
  // vitest takes each name as a filter and skips one that matches no file: beside a name that does, a misnamed
  // test file would go unnoticed, and the mutant be credited to tests that never ran.
  const missing = tests.filter((t) => !existsSync(path.join(root, t)));
  if (missing.length > 0) {
    console.error(`${m.name}: no such test file: ${missing.join(', ')}`);
    process.exitCode = 2;
    continue;
  }
  restore = () => writeFileSync(file, original);
  writeFileSync(file, original.slice(0, at) + m.to + original.slice(at + m.from.length));
  try {
    // A test outside test/unit (named '../…') runs under the suite's own configuration, whose projects include it.
    const config = tests.every((t) => t.startsWith(`${unit}/`)) ? 'vitest.unit.config.ts' : 'vitest.config.ts';
    const r = await run(['vitest', 'run', '--config', config, ...tests], 180_000);
    // A run that found no test file also exits non-zero: that kills nothing. (One cut off by the time limit has no
    // summary either: a mutant that makes its tests hang is killed, as before.)
    const timedOut = r.timedOut;
    if (!timedOut && !/Test Files\s+\d+/.test(r.stdout)) {
      // Its first lines (vitest then lists every project's include and exclude patterns: pages of them).
      const said = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim() !== '').slice(0, 4).join('\n');
      console.error(`${m.name}: no test file ran (${tests.join(', ')} under ${config}):\n${said}`);
      process.exitCode = 2;
      continue;
    }
    ran++;
    const killed = r.status !== 0;
    if (!killed) survived++;
    const failed = /Tests\s+(\d+) failed/.exec(r.stdout)?.[1] ?? (timedOut ? 'timeout' : '0');
    console.log(`${killed ? 'killed  ' : 'SURVIVED'}  ${m.name}  (${failed} failing tests in ${m.tests.join(', ')})`);
  } finally {
    restore();
    restore = () => {};
  }
}
console.log(`${ran - survived} killed, ${survived} survived of ${ran}`);
if (survived > 0) process.exitCode = 1;
