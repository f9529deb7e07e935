import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { FORUM_COMMANDS, parseCommandLine, validateName } from '../src/index.js';

const text = (line: string): string => {
  const r = parseCommandLine(line);
  return E.isLeft(r) ? r.left.text : `OK ${r.right.cmd} ${JSON.stringify(r.right.args)}`;
};

describe('parseCommandLine', () => {
  it('accepts each command with the right arguments', () => {
    expect(text('CRT t')).toBe('OK CRT ["t"]');
    expect(text('MSG t hello   big  world ')).toBe('OK MSG ["t","hello   big  world"]');
    expect(text('  MSG   t   x')).toBe('OK MSG ["t","x"]');
    expect(text('DLT t 3')).toBe('OK DLT ["t","3"]');
    expect(text('EDT t 3 new  text')).toBe('OK EDT ["t","3","new  text"]');
    expect(text('LST')).toBe('OK LST []');
    expect(text('RDT t')).toBe('OK RDT ["t"]');
    expect(text('UPD t file.txt')).toBe('OK UPD ["t","file.txt"]');
    expect(text('DWN t file.txt')).toBe('OK DWN ["t","file.txt"]');
    expect(text('RMV t')).toBe('OK RMV ["t"]');
    expect(text('XIT')).toBe('OK XIT []');
  });

  it('"Invalid command" for an unknown, empty or wrong-case word', () => {
    for (const line of ['', '   ', 'FOO t', 'crt t', 'Lst', 'CRTX t']) expect(text(line)).toBe('Invalid command');
  });

  const tooFew: Record<string, string> = { CRT: 'CRT', MSG: 'MSG t', DLT: 'DLT t', EDT: 'EDT t 1', RDT: 'RDT', UPD: 'UPD t', DWN: 'DWN t', RMV: 'RMV' };
  const tooMany: Record<string, string> = { CRT: 'CRT a b', DLT: 'DLT t 1 2', LST: 'LST x', RDT: 'RDT a b', UPD: 'UPD t f g', DWN: 'DWN t f g', RMV: 'RMV a b', XIT: 'XIT now' };

  it.each(FORUM_COMMANDS.filter((c) => tooFew[c] !== undefined))('%s with too few arguments', (cmd) => {
    expect(text(tooFew[cmd] ?? '')).toBe(`Incorrect syntax for ${cmd}`);
  });

  it.each(FORUM_COMMANDS.filter((c) => tooMany[c] !== undefined))('%s with too many arguments', (cmd) => {
    expect(text(tooMany[cmd] ?? '')).toBe(`Incorrect syntax for ${cmd}`);
  });

  it('MSG and EDT take any number of message words (never "too many")', () => {
    expect(text('MSG t a b c d e f g')).toBe('OK MSG ["t","a b c d e f g"]');
    expect(text('EDT t 1 a b c d e f g')).toBe('OK EDT ["t","1","a b c d e f g"]');
  });

  it('a message number that is not digits is "Incorrect syntax"', () => {
    for (const n of ['x', '-1', '1.5', '+2', '0x1']) {
      expect(text(`DLT t ${n}`)).toBe('Incorrect syntax for DLT');
      expect(text(`EDT t ${n} m`)).toBe('Incorrect syntax for EDT');
    }
  });

  it('hostile titles and file names are refused with a clear reason, for every command that takes them', () => {
    const hostile: Array<[string, string]> = [
      ['../etc', "must not contain '/'"],
      ['a\\b', "must not contain '\\'"],
      ['..', "must not contain '..'"],
      ['a..b', "must not contain '..'"],
      ['a\u0000b', 'must not contain a NUL byte'],
      ['a\u001bb', 'must not contain control characters'],
      ['.hidden', "must not start with '.'"],
      ['trailing.', "must not end with '.'"],
      ['CON', 'must not be a reserved device name'],
      ['lpt1.txt', 'must not be a reserved device name'],
      ['credentials.txt', "must not be 'credentials.txt'"],
      ['Credentials.TXT', "must not be 'credentials.txt'"],
      ['x'.repeat(101), 'must be at most 100 bytes'],
      ['é'.repeat(51), 'must be at most 100 bytes'],
    ];
    for (const [name, why] of hostile) {
      for (const line of [`CRT ${name}`, `MSG ${name} hi`, `DLT ${name} 1`, `EDT ${name} 1 hi`, `RDT ${name}`, `RMV ${name}`, `UPD ${name} f`, `DWN ${name} f`]) {
        expect(text(line)).toBe(`Invalid thread title: ${why}`);
      }
      expect(text(`UPD t ${name}`)).toBe(`Invalid file name: ${why}`);
      expect(text(`DWN t ${name}`)).toBe(`Invalid file name: ${why}`);
    }
  });

  it('a message with control characters is refused', () => {
    expect(text('MSG t a\u0007b')).toBe('Invalid message: must not contain control characters');
  });

  it('names that are merely unusual are accepted', () => {
    for (const n of ['a.b', 'café', 'x'.repeat(100), 'CONSOLE', 'a-b_c', '日本']) expect(E.isRight(validateName('thread title', n))).toBe(true);
    expect(validateName('file name', '')).toEqual(E.left('Invalid file name: must not be empty'));
  });
});
