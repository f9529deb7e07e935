/**
 * The TypeScript examples of the published README, so they cannot rot again:
 * every ```ts block is type-checked against the package's source (its
 * `rudpx`, `rudpx/core`, `rudpx/testing` and `rudpx/crypto` imports mapped
 * to `src/`), and the sans-IO core and simulator examples are run as a user
 * would run them (`node --import tsx`), their output checked. A block that
 * only declares an API (the congestion controller's interface) is checked
 * to be the very type the package exports.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const repoRoot = join(pkgDir, '..', '..');
const run = promisify(execFile);

/** Each entry point of package.json "exports", as the source file it is built from. */
const ENTRY_POINTS: Readonly<Record<string, string>> = {
  rudpx: 'index.ts',
  'rudpx/core': 'core.ts',
  'rudpx/crypto': 'crypto.ts',
  'rudpx/testing': 'testing.ts',
};

/** A ```ts block of the README and the heading it sits under. */
interface Block {
  readonly heading: string;
  readonly line: number;
  readonly code: string;
}

function tsBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split('\n');
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i] as string;
    if (/^#{1,6} /.test(l)) heading = l.replace(/^#+ /, '');
    if (l.trim() !== '```ts') continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && (lines[end] as string).trim() !== '```') end++;
    blocks.push({ heading, line: start + 1, code: lines.slice(start, end).join('\n') + '\n' });
    i = end;
  }
  return blocks;
}

/** `code` with the package's specifiers pointing at its source files. */
function toSource(code: string): string {
  return code.replace(/from '(rudpx(?:\/[a-z]+)?)'/g, (_whole, spec: string) => {
    const file = ENTRY_POINTS[spec];
    if (file === undefined) throw new Error(`README imports ${spec}, which package.json does not export`);
    return `from ${JSON.stringify(join(pkgDir, 'src', file))}`;
  });
}

/** What a declaration-only block needs around it to be checked: the names it uses, and that it is the real type. */
const DECLARATION_CHECKS: Readonly<Record<string, { readonly before: string; readonly after: string }>> = {
  'Congestion control': {
    before: `import type { AckSample, CongestionController as Exported, CongestionControllerFactory as ExportedFactory } from 'rudpx/core';\n`,
    after: [
      'type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;',
      'export const sameController: Same<CongestionController, Exported> = true;',
      'export const sameFactory: Same<CongestionControllerFactory, ExportedFactory> = true;',
      '',
    ].join('\n'),
  },
};

/** The runnable examples: their heading, and the lines they must print. */
const RUNS: Readonly<Record<string, readonly RegExp[]>> = {
  'Sans-IO core': [/^hello$/],
  'In the simulator': [/^1000 msg 0 msg 999$/],
  'Server identity and key pinning': [/^SHA256:[A-Za-z0-9+/]{43}$/, /^ERR_RUDP_SERVER_KEY_MISMATCH true$/, /^true$/],
};

const readme = readFileSync(join(pkgDir, 'README.md'), 'utf8');
const blocks = tsBlocks(readme);
const dir = mkdtempSync(join(tmpdir(), 'rudpx-readme-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes block `i` as an ES module (`.mts`: top-level await works wherever it lands). */
function writeBlock(b: Block, i: number): string {
  const check = DECLARATION_CHECKS[b.heading];
  const file = join(dir, `block-${i}-line-${b.line}.mts`);
  // `export {}`: each block is a module of its own, even one without imports.
  writeFileSync(file, toSource(`${check?.before ?? ''}${b.code}${check?.after ?? ''}export {};\n`));
  return file;
}

describe('README.md examples', () => {
  it('has the blocks this test knows of', () => {
    const headings = blocks.map((b) => b.heading);
    for (const h of [...Object.keys(RUNS), ...Object.keys(DECLARATION_CHECKS)]) expect(headings).toContain(h);
  });

  it('no example drops the promise of a send (`void conn.send(…)`): it rejects once the connection closes, an unhandled rejection that ends the process', () => {
    // The Channels example did so for position updates; `write` is the call that returns false instead. (Prose quoting it in backticks is fine.)
    const dropped = readme.split('\n').flatMap((l, i) => (/(^|[^`\w])void\s+[\w.]+\.send\(/.test(l) ? [`line ${i + 1}: ${l.trim()}`] : []));
    expect(dropped).toEqual([]);
  });

  it('every ```ts block type-checks against the package', () => {
    const files = blocks.map(writeBlock);
    const { config } = ts.readConfigFile(join(repoRoot, 'tsconfig.base.json'), (f) => ts.sys.readFile(f));
    const { options } = ts.parseJsonConfigFileContent(config, ts.sys, repoRoot);
    const program = ts.createProgram(files, {
      ...options,
      noEmit: true,
      // An example may leave a name unused; the source's own settings are not the README's business.
      noUnusedLocals: false,
      noUnusedParameters: false,
      allowImportingTsExtensions: true,
      typeRoots: [join(repoRoot, 'node_modules', '@types')],
    });
    const problems: string[] = [];
    for (const [i, file] of files.entries()) {
      const source = program.getSourceFile(file);
      if (source === undefined) throw new Error(`not compiled: ${file}`);
      const diagnostics = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)];
      for (const d of diagnostics) {
        const at = d.start !== undefined ? source.getLineAndCharacterOfPosition(d.start).line + 1 : 0;
        problems.push(`README block at line ${blocks[i]?.line} (${blocks[i]?.heading}), its line ${at}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
      }
    }
    expect(problems).toEqual([]);
  }, 60_000);

  it.each(Object.entries(RUNS))('the "%s" example runs and prints what it says', async (heading, lines) => {
    const matching = blocks.filter((b) => b.heading === heading);
    expect(matching).toHaveLength(1);
    const block = matching[0] as Block;
    const file = writeBlock(block, blocks.indexOf(block));
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', file], { cwd: repoRoot, timeout: 20_000 });
    expect(stderr).toBe('');
    const out = stdout.trimEnd().split('\n');
    expect(out).toHaveLength(lines.length);
    for (const [i, re] of lines.entries()) expect(out[i], `${heading} printed ${JSON.stringify(out)}`).toMatch(re);
  }, 30_000);
});
