/**
 * The sans-IO rule, as architecture.md states it: `wire/`, `crypto/`,
 * `core/` and the simulator in `testing/` import no Node module and read no
 * clock, timer or ambient randomness (time, randomness and crypto are passed
 * in); only `node/`, the adapter, touches sockets, DNS and clocks. Imports
 * point one way: wire, then crypto, then core, then the simulator and the
 * adapter.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = new URL('../src/', import.meta.url).pathname;

/** What each folder may import from, besides itself. */
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  wire: [],
  crypto: ['wire'],
  core: ['wire', 'crypto'],
  testing: ['wire', 'crypto', 'core'],
  node: ['wire', 'crypto', 'core'],
};
/** The folders that must stay pure. */
const PURE = ['wire', 'crypto', 'core', 'testing'];
/** Calls that read a clock, set a timer or draw ambient randomness, and Node's globals. */
const AMBIENT =
  /\b(?:Date\.now|performance\.now|Math\.random|setTimeout|setInterval|setImmediate|queueMicrotask|process\.hrtime)\s*\(|\bprocess\.(?:env|nextTick)\b|\bnew Date\b|\bcrypto\.(?:getRandomValues|randomUUID|subtle)\b|\bBuffer\b/;

/**
 * Every module specifier `code` names: `import … from`, `export … from`, `import type`, a bare
 * `import '…'`, `import(…)` (also as a type), `require(…)`, in either quote, across lines.
 */
const specifiers = (code: string): string[] => [...code.matchAll(/(?<![\w$.])(?:from|import|require)\s*\(?\s*(['"`])(.+?)\1/g)].map((m) => m[2] as string);

function sourcesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourcesUnder(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** The code of a file without its comments (what a rule about calls should read). */
const withoutComments = (text: string): string => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');

describe('rudpx layers', () => {
  it('keeps wire, crypto, core and the simulator free of Node modules, clocks, timers and ambient randomness', () => {
    const wrong: string[] = [];
    for (const folder of PURE) {
      for (const file of sourcesUnder(join(SRC, folder))) {
        const code = withoutComments(readFileSync(file, 'utf8'));
        const name = relative(SRC, file);
        for (const spec of specifiers(code)) if (!spec.startsWith('.')) wrong.push(`${name} imports ${spec}`);
        const call = AMBIENT.exec(code);
        if (call !== null) wrong.push(`${name} calls ${call[0]}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('imports only from the layers below', () => {
    const wrong: string[] = [];
    for (const [folder, allowed] of Object.entries(MAY_IMPORT)) {
      for (const file of sourcesUnder(join(SRC, folder))) {
        for (const spec of specifiers(withoutComments(readFileSync(file, 'utf8'))).filter((x) => x.startsWith('.'))) {
          const target = relative(SRC, join(file, '..', spec)).split('/')[0] as string;
          if (target !== folder && !allowed.includes(target)) wrong.push(`${relative(SRC, file)} -> ${target}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('sees an import however it is written', () => {
    const written = [
      `export { a } from '../node/a.js';`,
      `import type { B } from "../node/b.js";`,
      `import {\n  c,\n} from\n  '../node/c.js';`,
      `import '../node/d.js';`,
      `const e = await import ( '../node/e.js');`,
      `type F = import('../node/f.js').F;`,
      `import g = require('../node/g.js');`,
      `export * as h from '../node/h.js';`,
      'const i = await import(`../node/i.js`);',
    ];
    expect(written.flatMap(specifiers)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'].map((x) => `../node/${x}.js`));
    // Not imports: a method named `from` (taken for one, it would be a module 'abc' the pure layers may not use).
    expect(specifiers(`const j = Array.from('abc'); const k = Uint8Array.from("de");`)).toEqual([]);
    for (const call of ['new Date()', 'crypto.getRandomValues(out)', 'Buffer.from(x)', 'queueMicrotask(f)', 'Date.now()']) expect(AMBIENT.test(call)).toBe(true);
  });

  it('holds every source file in a layer, except the entry points', () => {
    const entries = readdirSync(SRC, { withFileTypes: true });
    expect(entries.filter((e) => e.isDirectory()).map((e) => e.name).sort()).toEqual(Object.keys(MAY_IMPORT).sort());
    expect(entries.filter((e) => e.isFile()).map((e) => e.name).sort()).toEqual(['core.ts', 'crypto.ts', 'index.ts', 'testing.ts']);
  });
});
