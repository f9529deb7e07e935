/**
 * Attack round 24, item (b): names a case-insensitive file system takes for one file, which the forum would keep
 * apart as two threads (or uploads) whose files then collide. Every code point from U+0021 to U+2FFFF, as a name
 * of its own and after `x`, through the forum's `validateName`; the valid ones grouped by two models of a file
 * system's comparison: NTFS (each UTF-16 unit through its simple upper case, no normalization: its upcase table)
 * and APFS/HFS+ (NFD, then case folded; approximated by upper then lower case). A group holding two names of
 * different `nameKey` is a finding.
 *
 *   npx tsx attack/name-fold.ts
 */
import { nameKey, validateName } from '../packages/forum-protocol/dist/index.js';

const ntfs = (s: string): string =>
  Array.from(s)
    .map((ch) => {
      if (ch.length !== 1) return ch;
      const u = ch.toUpperCase();
      return u.length === 1 ? u : ch;
    })
    .join('');
const apfs = (s: string): string => s.normalize('NFD').toUpperCase().toLowerCase().normalize('NFD');
const groups = { ntfs: new Map<string, string[]>(), apfs: new Map<string, string[]>() };
let valid = 0;
let tried = 0;
for (let cp = 0x21; cp < 0x30000; cp++) {
  if (cp >= 0xd800 && cp < 0xe000) continue;
  const ch = String.fromCodePoint(cp);
  for (const name of [ch, `x${ch}`]) {
    tried++;
    if (validateName('thread title', name)._tag !== 'Right') continue;
    valid++;
    for (const [fs, key] of [
      ['ntfs', ntfs(name)],
      ['apfs', apfs(name)],
    ] as const) {
      const g = groups[fs].get(key) ?? [];
      g.push(name);
      groups[fs].set(key, g);
    }
  }
}
console.log(`names tried ${tried}, valid ${valid}`);
for (const fs of ['ntfs', 'apfs'] as const) {
  const apart: string[] = [];
  let shared = 0;
  for (const names of groups[fs].values()) {
    if (names.length > 1) shared++;
    if (new Set(names.map(nameKey)).size > 1) apart.push(names.map((n) => `${n} (${[...n].map((c) => `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase()}`).join(' ')})`).join(', '));
  }
  console.log(`${fs}: ${shared} groups of two or more valid names one file; ${apart.length} of them the forum keeps apart`);
  for (const a of apart.slice(0, 20)) console.log(`  ${a}`);
}
