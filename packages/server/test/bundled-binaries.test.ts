/**
 * The two binaries carry forum-protocol, fp-ts and io-ts inside their dist (tsup `noExternal`): loaded as some 40
 * separate modules these took about 0.2 s of every start. A bundled package's changes must rebuild the binaries,
 * which scripts/run-changed.mjs knows from its BUNDLED list.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../../../', import.meta.url);
const BINARIES = ['client', 'server'] as const;
const BUNDLED = /^(forum-protocol|fp-ts|io-ts|postgres|string-width)(\/|$)/;

/** The module specifiers a built ES module imports (static and dynamic). */
const importedSpecifiers = (code: string): readonly string[] =>
  [...code.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"']+)["']/g)].map((m) => m[1] ?? '');

describe('the binaries bundle what their start would otherwise load module by module', () => {
  for (const name of BINARIES) {
    it(`forum-${name}'s dist imports no bundled package`, () => {
      const code = readFileSync(new URL(`packages/${name}/dist/main.js`, root), 'utf8');
      const imported = importedSpecifiers(code);
      expect(imported).toContain('rudpx');
      expect(imported.filter((s) => BUNDLED.test(s))).toEqual([]);
    });
  }

  it('a change in forum-protocol rebuilds both binaries (run-changed.mjs lists it as bundled in each)', () => {
    const script = readFileSync(new URL('scripts/run-changed.mjs', root), 'utf8');
    expect(script).toContain(`'forum-client': ['forum-protocol']`);
    expect(script).toContain(`'forum-server': ['forum-protocol']`);
  });
});
