/**
 * The README's table of wire limits against the constants it names: each
 * row's `NAME` = value (with its unit) is the value the package exports, so
 * a limit changed in the code and not in the README fails here.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as forum from '../src/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** `96 KiB`, `4096 UTF-8 bytes`, `20,000`, `8 MiB` → bytes or a count. */
function valueOf(text: string): number {
  const m = /^([0-9][0-9,]*)( KiB| MiB)?/.exec(text);
  if (m === null) throw new Error(`no value in ${JSON.stringify(text)}`);
  return Number((m[1] as string).replace(/,/g, '')) * (m[2] === ' KiB' ? 1024 : m[2] === ' MiB' ? 1024 * 1024 : 1);
}

describe('README: Wire format and limits', () => {
  const section = readme.slice(readme.indexOf('## Wire format and limits'), readme.indexOf('Every request that passes'));
  const rows = [...section.matchAll(/`([A-Z_]+)` = ([^|]+?) *\|$/gm)].map((m) => [m[1] as string, (m[2] as string).trim()] as const);

  it('has the rows this test knows of', () => {
    expect(rows.map(([name]) => name)).toEqual(['MAX_REQUEST_BYTES', 'MAX_ARGS', 'MAX_ARG_BYTES', 'MAX_ID_LENGTH', 'MAX_CREDENTIAL_BYTES', 'MAX_NAME_BYTES', 'MAX_SERVER_MESSAGE_BYTES', 'MAX_THREAD_REPLY_BYTES', 'MAX_USER_THREAD_REPLY_BYTES', 'MAX_USER_THREAD_ENTRIES', 'MAX_THREADS', 'DEFAULT_THREADS_PER_USER']);
  });

  it.each(rows)('%s = %s is what the package exports', (name, text) => {
    expect((forum as unknown as Record<string, unknown>)[name]).toBe(valueOf(text));
  });
});
