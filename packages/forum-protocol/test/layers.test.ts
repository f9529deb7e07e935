/**
 * The folders of `src` are layers, and imports point one way: a file may
 * import from its own folder and from layers below it, never from one
 * above. `index.ts` and `postgres.ts` (the two entry points) sit on top.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
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
] as const;

/** The folders under `src/` a relative import specifier from `file` (in `folder`) reaches. */
function importedFolders(folder: string, text: string): string[] {
  const out: string[] = [];
  for (const [, spec] of text.matchAll(/(?:from|import\(?)\s*'(\.{1,2}\/[^']+)'/g)) {
    const parts = join(folder, spec as string).split('/');
    // A file directly under src/ (an entry point) is named by its own name, not a folder.
    out.push(parts.length > 1 ? (parts[0] as string) : `(entry) ${parts[0]}`);
  }
  return out;
}

describe('forum-protocol layers', () => {
  it('holds every source file in a declared layer, except the two entry points', () => {
    const entries = readdirSync(SRC, { withFileTypes: true });
    expect(entries.filter((e) => e.isFile()).map((e) => e.name).sort()).toEqual(['index.ts', 'postgres.ts']);
    expect(entries.filter((e) => e.isDirectory()).map((e) => e.name).sort()).toEqual([...LAYERS].sort());
  });

  it('imports only from the same layer or the layers below it', () => {
    const wrong: string[] = [];
    for (const [rank, layer] of LAYERS.entries()) {
      for (const name of readdirSync(join(SRC, layer))) {
        for (const target of importedFolders(layer, readFileSync(join(SRC, layer, name), 'utf8'))) {
          const targetRank = (LAYERS as readonly string[]).indexOf(target);
          if (targetRank < 0 || targetRank > rank) wrong.push(`${layer}/${name} -> ${target}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});
