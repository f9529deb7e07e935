#!/usr/bin/env node
// `pnpm build` and `pnpm typecheck`: run a workspace script (`build` or
// `typecheck`) only in the packages whose inputs changed since it last
// succeeded there, and report the others as up to date. tsup with type
// declarations took most of a minute for every package on a loaded machine,
// and `demo`, `test`, `bench` build first; `test` type-checks too.
//
// A package is redone when the fingerprint of its inputs (every file's path,
// size and modification time) differs from the one taken when the last
// successful run started (stamps in node_modules/.cache/run-changed/): an
// edit, a new or deleted file, or a file restored with an older time all
// count. The inputs:
// - build: the package's files outside dist/, node_modules/ and test/, plus
//   tsconfig.base.json and pnpm-lock.yaml, plus those of the workspace
//   packages it bundles (BUNDLED: the binaries carry forum-protocol inside
//   their dist, see their tsup.config.ts). Other workspace dependencies stay
//   external (imported at run time), so a change in rudp does not make
//   forum-server stale.
// - typecheck: the same plus test/, the type declarations in the dist/ of its
//   workspace dependencies (by content: a rebuild that leaves the types as
//   they were changes nothing), and every package's test/ (tests share
//   helpers across packages). tsc itself runs incrementally (node_modules/.cache/typecheck.tsbuildinfo).
//
// Usage: node scripts/run-changed.mjs build|typecheck [--force]
// (`pnpm build:all` / `pnpm typecheck:all` run every package unconditionally.)
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const task = process.argv[2];
if (task !== 'build' && task !== 'typecheck') {
  console.error('Usage: node scripts/run-changed.mjs build|typecheck [--force]');
  process.exit(2);
}
const force = process.argv.includes('--force');
const stampDir = join(root, 'node_modules', '.cache', 'run-changed');
const SHARED = ['tsconfig.base.json', 'pnpm-lock.yaml'].map((f) => join(root, f));
/**
 * Workspace packages whose build bundles another's (tsup `noExternal`): its sources are inputs of theirs. The
 * binaries bundle forum-protocol with fp-ts and io-ts: loading those as ~40 CommonJS modules took about 0.2 s of
 * every forum-client and forum-server start (0.52 → 0.30 s for `--help`).
 */
const BUNDLED = { 'forum-client': ['forum-protocol'], 'forum-server': ['forum-protocol'] };
const EXTRA_ARGS = { build: [], typecheck: ['--incremental', '--tsBuildInfoFile', 'node_modules/.cache/typecheck.tsbuildinfo'] }[task];

/** Workspace packages: name, directory, scripts, and the workspace packages they depend on. */
const workspacePackages = () => {
  const dirs = readdirSync(join(root, 'packages')).map((d) => join(root, 'packages', d));
  const pkgs = [];
  for (const dir of [...dirs, join(root, 'bench')]) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const json = JSON.parse(readFileSync(file, 'utf8'));
    const deps = Object.entries({ ...json.dependencies, ...json.devDependencies })
      .filter(([, v]) => String(v).startsWith('workspace:'))
      .map(([k]) => k);
    pkgs.push({ name: json.name, dir, deps, scripts: json.scripts ?? {} });
  }
  return pkgs;
};

/** Adds `path size mtime` of every file under `dir` to `into`, skipping the directory names in `skip`. */
const listFiles = (dir, skip, into) => {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    if (skip.has(entry.name) || entry.name.endsWith('.tsbuildinfo')) continue;
    const p = join(dir, entry.name);
    if (entry.isDirectory()) listFiles(p, skip, into);
    else {
      const st = statSync(p, { throwIfNoEntry: false });
      if (st !== undefined) into.push(`${relative(root, p)} ${st.size} ${st.mtimeMs}`);
    }
  }
};

/** Adds `path content-hash` of every type declaration file in `dir` (a dependency's dist: only its types matter to a type check). */
const listDeclarations = (dir, into) => {
  let names;
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names.filter((n) => /\.d\.c?ts$/.test(n))) {
    into.push(`${relative(root, join(dir, name))} ${createHash('sha256').update(readFileSync(join(dir, name))).digest('hex')}`);
  }
};

const pkgs = workspacePackages();
const byName = new Map(pkgs.map((p) => [p.name, p]));

/** A hash of the path, size and modification time of every file `task` reads in `pkg`. */
const fingerprint = (pkg) => {
  const files = [];
  for (const f of SHARED) {
    const st = statSync(f, { throwIfNoEntry: false });
    files.push(`${relative(root, f)} ${st?.size ?? -1} ${st?.mtimeMs ?? -1}`);
  }
  if (task === 'build') {
    for (const p of [pkg, ...(BUNDLED[pkg.name] ?? []).map((d) => byName.get(d))]) listFiles(p.dir, new Set(['dist', 'node_modules', 'test', 'coverage']), files);
  }
  else {
    listFiles(pkg.dir, new Set(['dist', 'node_modules', 'coverage']), files);
    for (const d of pkg.deps.filter((d) => byName.has(d))) listDeclarations(join(byName.get(d).dir, 'dist'), files);
    for (const p of pkgs) if (p !== pkg) listFiles(join(p.dir, 'test'), new Set(), files);
  }
  return createHash('sha256').update(files.sort().join('\n')).digest('hex');
};

const stampFile = (name) => join(stampDir, `${task}-${name.replace(/[^a-zA-Z0-9._-]/g, '_')}.json`);

/** Why `task` must run in the package, or `undefined` when its last success is current. */
const staleReason = (pkg) => {
  if (force) return 'forced';
  if (task === 'build' && !existsSync(join(pkg.dir, 'dist'))) return 'no dist';
  let stamp;
  try {
    stamp = JSON.parse(readFileSync(stampFile(pkg.name), 'utf8'));
  } catch {
    return 'no earlier run here';
  }
  return fingerprint(pkg) === stamp.fingerprint ? undefined : 'files changed';
};

/** `pnpm run <task>` in the package's directory, its output kept unless it fails. */
const runTask = (pkg) =>
  new Promise((resolve) => {
    const execPath = process.env.npm_execpath;
    const [cmd, args] = execPath?.endsWith('.cjs') || execPath?.endsWith('.js') ? [process.execPath, [execPath]] : ['pnpm', []];
    const child = spawn(cmd, [...args, 'run', task, ...EXTRA_ARGS], { cwd: pkg.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (b) => (output += b));
    child.stderr.on('data', (b) => (output += b));
    child.on('error', (e) => resolve({ ok: false, output: `${output}${e.message}\n` }));
    child.on('close', (code) => resolve({ ok: code === 0, output }));
  });

/** At most `limit` tasks at once: tsc and tsup each want a core. */
const limit = Math.max(1, Math.min(4, availableParallelism()));
let running = 0;
const queue = [];
const slot = () => (running < limit ? (running++, Promise.resolve()) : new Promise((resolve) => queue.push(resolve)));
const release = () => {
  const next = queue.shift();
  if (next) next();
  else running--;
};

const withTask = pkgs.filter((p) => typeof p.scripts[task] === 'string');
const stale = new Map(withTask.map((p) => [p.name, staleReason(p)]).filter(([, r]) => r !== undefined));
const fresh = withTask.filter((p) => !stale.has(p.name)).map((p) => p.name);
if (fresh.length > 0) console.log(`${task}: up to date: ${fresh.join(', ')}`);

// Builds go in dependency order (a package after the workspace packages it uses); type checks need no order.
const done = new Map();
const run = (pkg) => {
  if (done.has(pkg.name)) return done.get(pkg.name);
  const promise = (async () => {
    if (task === 'build') {
      const deps = await Promise.all(pkg.deps.filter((d) => byName.get(d)?.scripts.build !== undefined).map((d) => run(byName.get(d))));
      if (deps.some((ok) => !ok)) return false;
    }
    if (!stale.has(pkg.name)) return true;
    await slot();
    // Taken before the run: a file saved while it runs changes the fingerprint, so the next run redoes it.
    const before = fingerprint(pkg);
    const startedAt = Date.now();
    const result = await runTask(pkg).finally(release);
    const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
    if (!result.ok) {
      console.error(`${task}: ${pkg.name} FAILED (${relative(root, pkg.dir)}):\n${result.output}`);
      return false;
    }
    mkdirSync(stampDir, { recursive: true });
    writeFileSync(stampFile(pkg.name), `${JSON.stringify({ fingerprint: before })}\n`);
    console.log(`${task}: ${pkg.name} done in ${seconds} s (${stale.get(pkg.name)})`);
    return true;
  })();
  done.set(pkg.name, promise);
  return promise;
};
const results = await Promise.all(withTask.map(run));
process.exitCode = results.every(Boolean) ? 0 : 1;
