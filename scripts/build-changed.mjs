#!/usr/bin/env node
// `pnpm build`: runs the `build` script of each workspace package whose files
// changed since its last successful build, and skips the others (tsup with
// type declarations takes most of a minute for all of them on a loaded
// machine; `demo`, `test` and `bench` build first).
//
// A package is rebuilt when it has no stamp yet, when its `dist` is gone, or
// when any of its files (outside dist/, node_modules/ and test/) or a shared
// input (tsconfig.base.json, pnpm-lock.yaml) is newer than the moment its last
// successful build started. The stamps live in node_modules/.cache/build-changed/.
// A package's outputs depend only on its own files: tsup leaves workspace
// dependencies external (imported at run time), so a change in rudp does not
// make forum-server stale.
//
// Usage: node scripts/build-changed.mjs [--force]   (`pnpm build:all` forces)
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const force = process.argv.includes('--force');
const stampDir = join(root, 'node_modules', '.cache', 'build-changed');
const SKIP = new Set(['dist', 'node_modules', 'test', 'coverage']);
const SHARED = ['tsconfig.base.json', 'pnpm-lock.yaml'].map((f) => join(root, f));

/** Workspace packages with a `build` script: name, directory, and the workspace packages they depend on. */
const workspacePackages = () => {
  const dirs = readdirSync(join(root, 'packages')).map((d) => join(root, 'packages', d));
  const pkgs = [];
  for (const dir of [...dirs, join(root, 'bench')]) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const json = JSON.parse(readFileSync(file, 'utf8'));
    if (typeof json.scripts?.build !== 'string') continue;
    const deps = Object.entries({ ...json.dependencies, ...json.devDependencies })
      .filter(([, v]) => String(v).startsWith('workspace:'))
      .map(([k]) => k);
    pkgs.push({ name: json.name, dir, deps });
  }
  return pkgs;
};

/** The newest modification time (ms) of the inputs of the package in `dir`. */
const newestInput = (dir) => {
  let newest = Math.max(...SHARED.map((f) => statSync(f, { throwIfNoEntry: false })?.mtimeMs ?? 0));
  const walk = (d) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      if (SKIP.has(entry.name) || entry.name.endsWith('.tsbuildinfo')) continue;
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  walk(dir);
  return newest;
};

const stampFile = (name) => join(stampDir, `${name.replace(/[^a-zA-Z0-9._-]/g, '_')}.json`);

/** Why the package must be rebuilt, or `undefined` when its outputs are current. */
const staleReason = (pkg) => {
  if (force) return 'forced';
  if (!existsSync(join(pkg.dir, 'dist'))) return 'no dist';
  let stamp;
  try {
    stamp = JSON.parse(readFileSync(stampFile(pkg.name), 'utf8'));
  } catch {
    return 'never built here';
  }
  return newestInput(pkg.dir) > stamp.startedAt ? 'files changed' : undefined;
};

/** `pnpm run build` in the package's directory, quiet unless it fails. */
const runBuild = (pkg) =>
  new Promise((resolve) => {
    const execPath = process.env.npm_execpath;
    const [cmd, args] = execPath?.endsWith('.cjs') || execPath?.endsWith('.js') ? [process.execPath, [execPath]] : ['pnpm', []];
    const child = spawn(cmd, [...args, 'run', 'build'], { cwd: pkg.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (b) => (output += b));
    child.stderr.on('data', (b) => (output += b));
    child.on('error', (e) => resolve({ ok: false, output: `${output}${e.message}\n` }));
    child.on('close', (code) => resolve({ ok: code === 0, output }));
  });

const pkgs = workspacePackages();
const byName = new Map(pkgs.map((p) => [p.name, p]));
const stale = new Map(pkgs.map((p) => [p.name, staleReason(p)]).filter(([, r]) => r !== undefined));
const fresh = pkgs.filter((p) => !stale.has(p.name)).map((p) => p.name);
if (fresh.length > 0) console.log(`build: up to date: ${fresh.join(', ')}`);

// Builds run in dependency order, independent ones side by side.
const done = new Map();
const build = (pkg) => {
  if (done.has(pkg.name)) return done.get(pkg.name);
  const promise = (async () => {
    const deps = await Promise.all(pkg.deps.filter((d) => byName.has(d)).map((d) => build(byName.get(d))));
    if (deps.some((ok) => !ok)) return false;
    if (!stale.has(pkg.name)) return true;
    const startedAt = Date.now();
    const result = await runBuild(pkg);
    const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
    if (!result.ok) {
      console.error(`build: ${pkg.name} FAILED (${relative(root, pkg.dir)}):\n${result.output}`);
      return false;
    }
    mkdirSync(stampDir, { recursive: true });
    // The start time, not the end: a file saved during the build is newer, so the next run rebuilds.
    writeFileSync(stampFile(pkg.name), `${JSON.stringify({ startedAt })}\n`);
    console.log(`build: ${pkg.name} built in ${seconds} s (${stale.get(pkg.name)})`);
    return true;
  })();
  done.set(pkg.name, promise);
  return promise;
};
const results = await Promise.all(pkgs.map(build));
process.exitCode = results.every(Boolean) ? 0 : 1;
