/**
 * The two binaries carry forum-protocol, fp-ts and io-ts inside their dist (tsup `noExternal`): loaded as some 40
 * separate modules these took about 0.2 s of every start. A bundled package's changes must rebuild the binaries,
 * which scripts/run-changed.mjs knows from its BUNDLED list; as they are needed only to build them, the binaries list them as devDependencies.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { describe, expect, it } from 'vitest';

const root = new URL('../../../', import.meta.url);
const BINARIES = ['client', 'server'] as const;
const BUNDLED = /^(forum-protocol|fp-ts|io-ts|postgres|string-width)(\/|$)/;

/** The module specifiers a built ES module imports (static and dynamic, and required where needed: the client's cli-progress). */
const importedSpecifiers = (code: string): readonly string[] =>
  [
    ...code.matchAll(
      /^\s*(?:import|export)\b[^'"`;]*?\bfrom\s*["']([^"']+)["']|^\s*import\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)|\bcreateRequire\([^)]*\)\(\s*["']([^"']+)["']\s*\)/gm,
    ),
  ].map((m) => m[1] ?? m[2] ?? m[3] ?? m[4] ?? '');

/** The code of a binary's dist: main.js and the chunks it imports when needed (forum-server's database driver, on --store). */
const distCode = (name: string): string => {
  const dist = new URL(`packages/${name}/dist/`, root);
  return readdirSync(dist)
    .filter((f) => f.endsWith('.js'))
    .map((f) => readFileSync(new URL(f, dist), 'utf8'))
    .join('\n');
};

describe('the binaries bundle what their start would otherwise load module by module', () => {
  for (const name of BINARIES) {
    it(`forum-${name}'s dist imports no bundled package`, () => {
      const code = distCode(name);
      const imported = importedSpecifiers(code);
      expect(imported).toContain('rudpx');
      expect(imported.filter((s) => BUNDLED.test(s))).toEqual([]);
    });
  }

  for (const name of BINARIES) {
    it(`forum-${name}'s dependencies are the packages its dist imports: a bundled one is only needed to build it`, () => {
      const code = distCode(name);
      const manifest = JSON.parse(readFileSync(new URL(`packages/${name}/package.json`, root), 'utf8')) as { dependencies?: Record<string, string> };
      const packageOf = (s: string): string => s.split('/').slice(0, s.startsWith('@') ? 2 : 1).join('/');
      const imported = new Set(importedSpecifiers(code).filter((s) => !s.startsWith('node:') && !s.startsWith('.') && !builtinModules.includes(packageOf(s))).map(packageOf));
      expect(Object.keys(manifest.dependencies ?? {}).sort()).toEqual([...imported].sort());
    });
  }

  it('a change in forum-protocol rebuilds both binaries (run-changed.mjs lists it as bundled in each)', () => {
    const script = readFileSync(new URL('scripts/run-changed.mjs', root), 'utf8');
    expect(script).toContain(`'forum-client': ['forum-protocol']`);
    expect(script).toContain(`'forum-server': ['forum-protocol']`);
  });
});
