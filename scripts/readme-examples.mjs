// The code examples of the READMEs, compiled against the BUILT packages as a user would import
// them, and the runnable ones run: each package's test/readme-examples.test.ts uses this, so
// an example that names a missing export or calls a function with the wrong arguments fails.
//
// Every ```ts and ```js block is an example. HTML comments right before its fence (invisible on
// GitHub and npm) say what it needs:
//
//   <!-- example: run -->         run it (`node`, TypeScript through tsx) in an empty directory:
//                                 it must exit 0 within 20 s, on loopback, with nothing on stderr
//   <!-- example: given           declarations put before the block, for a fragment that uses
//   declare const conn: …;        names its surroundings would define (`conn`, `server`); only
//   -->                           types and `declare`, so they cost nothing when it runs
//   <!-- example: declares A, B from 'rudpx/core' -->
//                                 the block only declares A and B (an API shown as an interface):
//                                 each must be the very type that module exports
//
// A block is compiled as an ES module in TypeScript (`.mts`: a ```js one too, which TypeScript
// checks at least as strictly), or, when it calls `require(`, as CommonJS JavaScript (`.cjs`,
// checkJs), strict, under `moduleResolution: nodenext`: package names resolve through the
// packages' `exports` to their `dist/` types, as in a user's project.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, mkdirSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Fence languages that are examples; other blocks (sh, diagrams) are not code to compile. */
const LANGS = new Map([
  ['ts', 'ts'],
  ['typescript', 'ts'],
  ['js', 'js'],
  ['javascript', 'js'],
]);

/** @typedef {import('./readme-examples.d.mts').ReadmeExample} ReadmeExample */

/**
 * The examples of one README, with what their markers say.
 * @param {string} readmePath
 * @returns {ReadmeExample[]}
 */
export function readmeExamples(readmePath) {
  const lines = readFileSync(readmePath, 'utf8').split('\n');
  /** @type {ReadmeExample[]} */
  const examples = [];
  let heading = '';
  /** @type {{ run: boolean; given: string[]; declares: { names: string[]; from: string } | undefined; line: number } | undefined} */
  let pending;
  const where = (i) => `${readmePath}:${i + 1}`;
  for (let i = 0; i < lines.length; i++) {
    const l = /** @type {string} */ (lines[i]);
    const marker = /^<!-- example: ?(\w*)(.*)$/.exec(l.trim());
    if (marker !== null) {
      pending ??= { run: false, given: [], declares: undefined, line: i };
      const [, kind, rest] = marker;
      let body = /** @type {string} */ (rest);
      // A comment may span lines: everything up to its `-->`.
      while (!body.includes('-->')) {
        i++;
        if (i >= lines.length) throw new Error(`${where(pending.line)}: an example comment is not closed`);
        body += '\n' + lines[i];
      }
      body = body.slice(0, body.indexOf('-->'));
      if (kind === 'run') {
        if (body.trim() !== '') throw new Error(`${where(i)}: "run" takes nothing after it`);
        pending.run = true;
      } else if (kind === 'given') pending.given.push(body.trim());
      else if (kind === 'declares') {
        const d = /^\s*([\w\s,]+?)\s+from\s+'([^']+)'\s*$/.exec(body);
        if (d === null) throw new Error(`${where(i)}: "declares" wants "NAME, NAME from 'module'"`);
        pending.declares = { names: /** @type {string} */ (d[1]).split(',').map((n) => n.trim()), from: /** @type {string} */ (d[2]) };
      } else throw new Error(`${where(i)}: unknown example comment "${kind}" (run, given or declares)`);
      continue;
    }
    if (/^#{1,6} /.test(l)) heading = l.replace(/^#+ /, '');
    const fence = /^```(\w*)\s*$/.exec(l);
    if (fence === null) {
      if (pending !== undefined && l.trim() !== '') throw new Error(`${where(pending.line)}: an example comment is not right before a code block`);
      continue;
    }
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(/** @type {string} */ (lines[end]))) end++;
    const lang = LANGS.get(/** @type {string} */ (fence[1]));
    if (lang === undefined) {
      if (pending !== undefined) throw new Error(`${where(pending.line)}: an example comment before a \`\`\`${fence[1]} block, which is not compiled`);
    } else {
      const code = lines.slice(start, end).join('\n') + '\n';
      const commonJs = lang === 'js' && /\brequire\(/.test(code);
      const given = pending?.given.join('\n') ?? '';
      if (commonJs && (given !== '' || pending?.declares !== undefined)) throw new Error(`${where(i)}: a CommonJS example is compiled as JavaScript: no "given" or "declares"`);
      // Run as written with node, a JavaScript example has nowhere to put declarations.
      if (lang === 'js' && given !== '' && pending?.run === true) throw new Error(`${where(i)}: a JavaScript example that runs cannot be "given" declarations`);
      examples.push({ readme: readmePath, line: start + 1, heading, lang, code, given, declares: pending?.declares, run: pending?.run ?? false, commonJs });
    }
    pending = undefined;
    i = end;
  }
  if (pending !== undefined) throw new Error(`${where(pending.line)}: an example comment is not right before a code block`);
  return examples;
}

/** Workspace packages a README may import: those with `exports` (the libraries). */
function importablePackages() {
  return readdirSync(join(root, 'packages')).flatMap((dir) => {
    const manifest = join(root, 'packages', dir, 'package.json');
    if (!existsSync(manifest)) return [];
    const pkg = JSON.parse(readFileSync(manifest, 'utf8'));
    return pkg.exports === undefined ? [] : [{ name: /** @type {string} */ (pkg.name), dir: join(root, 'packages', dir) }];
  });
}

/**
 * An empty project whose node_modules links the workspace's library packages, as installed
 * ones (imports resolve through their `exports` to `dist/`), and tsx.
 * @returns {{ dir: string; dispose(): void }}
 */
export function exampleProject() {
  const dir = mkdtempSync(join(tmpdir(), 'readme-examples-'));
  mkdirSync(join(dir, 'node_modules'));
  for (const p of importablePackages()) {
    if (!existsSync(join(p.dir, 'dist'))) throw new Error(`${p.name} is not built: run \`pnpm build\` (the README examples are checked against dist/)`);
    symlinkSync(p.dir, join(dir, 'node_modules', p.name), 'dir');
  }
  // What runs the TypeScript examples (`node --import tsx`), as a user would have it installed.
  symlinkSync(join(root, 'node_modules', 'tsx'), join(dir, 'node_modules', 'tsx'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'readme-examples', private: true, type: 'module' }));
  return { dir, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The source the compiler sees for `e`, and its file name.
 * @param {ReadmeExample} e
 * @param {number} n
 */
function source(e, n) {
  const name = `example-${n}-line-${e.line}`;
  if (e.commonJs) return { file: `${name}.cjs`, text: e.code };
  let text = `${e.given}\n${e.code}`;
  if (e.declares !== undefined) {
    const { names, from } = e.declares;
    text += `import type { ${names.map((x) => `${x} as Exported_${x}`).join(', ')} } from '${from}';\n`;
    text += 'type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;\n';
    for (const x of names) text += `export const same_${x}: Same<${x}, Exported_${x}> = true;\n`;
  }
  // `export {}`: a module of its own even without imports (top-level await, no clash of names).
  return { file: `${name}.mts`, text: `${text}export {};\n` };
}

/**
 * Compiles every example in `project` (one program); each problem as
 * `README:line (heading), its line N: message`. No problems: an empty array.
 * @param {readonly ReadmeExample[]} examples
 * @param {string} project
 * @returns {string[]}
 */
export function typeCheckExamples(examples, project) {
  const files = examples.map((e, n) => {
    const { file, text } = source(e, n);
    const path = join(project, file);
    writeFileSync(path, text);
    return path;
  });
  const program = ts.createProgram(files, {
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts'],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noUncheckedIndexedAccess: true,
    allowJs: true,
    checkJs: true,
    noEmit: true,
    skipLibCheck: true,
    types: ['node'],
    typeRoots: [join(root, 'node_modules', '@types')],
  });
  /** @type {string[]} */
  const problems = [];
  for (const [n, file] of files.entries()) {
    const e = /** @type {ReadmeExample} */ (examples[n]);
    const sf = program.getSourceFile(file);
    if (sf === undefined) throw new Error(`not compiled: ${file}`);
    // The block's first line follows the given declarations' lines (one empty line when there are none).
    const givenLines = e.commonJs ? 0 : e.given.split('\n').length;
    for (const d of [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)]) {
      const at = d.start === undefined ? 0 : sf.getLineAndCharacterOfPosition(d.start).line;
      // Lines of the block itself are counted from its first line; a "given" or "declares" problem says so.
      const place = at < givenLines ? 'its given declarations' : at - givenLines < e.code.split('\n').length - 1 ? `README line ${e.line + at - givenLines}` : 'its declares check';
      problems.push(`${e.readme}:${e.line} (${e.heading}), ${place}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    }
  }
  return problems;
}

/**
 * Runs `e` in `project` as a user would (`node file.mjs`, `node file.cjs`, `node --import tsx file.mts`).
 * @param {ReadmeExample} e
 * @param {string} project
 * @returns {Promise<{ code: number | null; stdout: string; stderr: string }>}
 */
export function runExample(e, project, timeoutMs = 20_000) {
  const ext = e.commonJs ? '.cjs' : e.lang === 'js' ? '.mjs' : '.mts';
  const path = join(project, `run-line-${e.line}${ext}`);
  // JavaScript as written; TypeScript with its given declarations (types only: tsx drops them).
  writeFileSync(path, ext === '.mts' ? source(e, 0).text : e.code);
  const args = ext === '.mts' ? ['--import', 'tsx', path] : [path];
  // Without NODE_PATH (vitest and pnpm set one that reaches the workspace): only the project's node_modules.
  const { NODE_PATH: _workspace, ...env } = process.env;
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: project, env, timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      resolve({ code, stdout, stderr: err !== null && err.killed ? `${stderr}(killed after ${timeoutMs} ms)` : stderr });
    });
  });
}
