/**
 * The folders of `src` are layers, and imports point one way: a file may
 * import from its own folder and from layers below it, never from one
 * above. `index.ts` and `postgres.ts` (the two entry points) sit on top.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = new URL('../src/', import.meta.url).pathname;

/** Bottom first: what each layer may build on is everything before it. */
const LAYERS = [
  'protocol', // the wire: limits, codec, commands and messages, grammar, names
  'concurrency', // mutexes, semaphores, group commit
  'limits', // sliding windows and token buckets per key and per host
  'store', // the ForumStore interface, the thread model, the in-memory and identity stores, sessions
  'handlers', // login, accounts and the command handlers over a store
  'file-store', // the data directory
  'transfer', // the TCP transfer channel: records, keys, tokens
  'postgres-store', // PostgreSQL (its tokens are the transfer layer's)
  'client', // known hosts
  'process', // what both binaries do about their own process: standard streams that go away
] as const;

/**
 * Every module specifier `code` names: `import … from`, `export … from`, `import type`, a bare
 * `import '…'`, `import(…)` (also as a type), `require(…)`, in either quote, across lines.
 */
const specifiers = (code: string): string[] => [...code.matchAll(/(?<![\w$.])(?:from|import|require)\s*\(?\s*(['"`])(.+?)\1/g)].map((m) => m[2] as string);

/** The folders under `src/` the relative imports of `text` (a file in `folder`) reach. */
function importedFolders(folder: string, text: string): string[] {
  const out: string[] = [];
  for (const spec of specifiers(text).filter((x) => x.startsWith('.'))) {
    const parts = join(folder, spec).split('/');
    // A file directly under src/ (an entry point) is named by its own name, not a folder.
    out.push(parts.length > 1 ? (parts[0] as string) : `(entry) ${parts[0]}`);
  }
  return out;
}

/** The source files of `folder` (under `src/`) and of its sub-folders (a layer's own parts, as `postgres-store/migrations`), as paths under `src/`. */
const filesUnder = (folder: string): string[] =>
  readdirSync(join(SRC, folder), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(folder, e.name)) : [join(folder, e.name)]));

describe('forum-protocol layers', () => {
  it('holds every source file in a declared layer, except the two entry points', () => {
    const entries = readdirSync(SRC, { withFileTypes: true });
    expect(entries.filter((e) => e.isFile()).map((e) => e.name).sort()).toEqual(['index.ts', 'postgres.ts']);
    expect(entries.filter((e) => e.isDirectory()).map((e) => e.name).sort()).toEqual([...LAYERS].sort());
  });

  it('imports only from the same layer or the layers below it', () => {
    const wrong: string[] = [];
    for (const [rank, layer] of LAYERS.entries()) {
      for (const file of filesUnder(layer)) {
        for (const target of importedFolders(dirname(file), readFileSync(join(SRC, file), 'utf8'))) {
          const targetRank = (LAYERS as readonly string[]).indexOf(target);
          if (targetRank < 0 || targetRank > rank) wrong.push(`${file} -> ${target}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('sees an import however it is written', () => {
    const written = [
      `export { a } from '../client/a.js';`,
      `import type { B } from "../client/b.js";`,
      `import {\n  c,\n} from\n  '../client/c.js';`,
      `import '../client/d.js';`,
      `const e = await import ( '../client/e.js');`,
      `type F = import('../client/f.js').F;`,
      `export * as g from '../client/g.js';`,
    ];
    expect(written.flatMap((text) => importedFolders('protocol', text))).toEqual(Array(7).fill('client'));
  });
});
