import { COMMAND_ARGS } from 'forum-protocol';
import { describe, expect, it } from 'vitest';
import { helpLines, syntaxOf, usageLine } from '../src/command-help.js';
import { interpretLine } from '../src/command-line.js';

describe('interpretLine: what a line typed at the command prompt asks for', () => {
  it('a syntax error keeps the spec line and adds the usage line', () => {
    expect(interpretLine('MSG t1')).toEqual({ kind: 'refused', lines: ['Incorrect syntax for MSG', 'Usage: MSG <title> <message…>'] });
    expect(interpretLine('LST extra')).toEqual({ kind: 'refused', lines: ['Incorrect syntax for LST', 'Usage: LST'] });
    expect(interpretLine('DLT t1 x')).toEqual({ kind: 'refused', lines: ['Incorrect syntax for DLT', 'Usage: DLT <title> <N>'] });
    expect(interpretLine('DWN t')).toEqual({ kind: 'refused', lines: ['Incorrect syntax for DWN', 'Usage: DWN <title> <filename> [--overwrite]'] });
  });

  it('other refusals are the spec lines alone', () => {
    expect(interpretLine('FOO')).toEqual({ kind: 'refused', lines: ['Invalid command'] });
    expect(interpretLine('crt t1')).toEqual({ kind: 'refused', lines: ['Invalid command'] });
    expect(interpretLine('')).toEqual({ kind: 'refused', lines: ['Invalid command'] });
    expect(interpretLine('CRT a/b')).toEqual({ kind: 'refused', lines: ["Invalid thread title: must not contain '/'"] });
  });

  it('help and help CMD are the client\'s own', () => {
    expect(interpretLine('help')).toEqual({ kind: 'help', topic: undefined });
    expect(interpretLine('  help   EDT ')).toEqual({ kind: 'help', topic: 'EDT' });
  });

  it('DWN title file --overwrite asks to replace; the flag is not sent', () => {
    expect(interpretLine('DWN t f.txt --overwrite')).toEqual({ kind: 'forum', command: { cmd: 'DWN', args: ['t', 'f.txt'] }, overwrite: true });
    expect(interpretLine('DWN t f.txt')).toEqual({ kind: 'forum', command: { cmd: 'DWN', args: ['t', 'f.txt'] }, overwrite: false });
    // Only as the third word of DWN: as a file name it is a file name, elsewhere it is an argument like any other.
    expect(interpretLine('DWN t --overwrite')).toEqual({ kind: 'forum', command: { cmd: 'DWN', args: ['t', '--overwrite'] }, overwrite: false });
    expect(interpretLine('UPD t f --overwrite')).toEqual({ kind: 'refused', lines: ['Incorrect syntax for UPD', 'Usage: UPD <title> <filename>'] });
    expect(interpretLine('MSG t --overwrite')).toEqual({ kind: 'forum', command: { cmd: 'MSG', args: ['t', '--overwrite'] }, overwrite: false });
  });

  it('messages keep their inner spacing', () => {
    expect(interpretLine('MSG t1 hello  there')).toEqual({ kind: 'forum', command: { cmd: 'MSG', args: ['t1', 'hello  there'] }, overwrite: false });
  });
});

describe('help', () => {
  it('lists every command with its syntax, and help', () => {
    const lines = helpLines();
    for (const cmd of Object.keys(COMMAND_ARGS)) expect(lines.some((l) => l.trimStart().startsWith(`${cmd} `) || l.trim().startsWith(`${cmd}  `) || l.trim() === cmd)).toBe(true);
    expect(lines.some((l) => l.includes('EDT <title> <N> <message…>'))).toBe(true);
    expect(lines.some((l) => l.trimStart().startsWith('help [CMD]'))).toBe(true);
  });

  it('help CMD gives the usage line and the details, whatever the case of CMD', () => {
    expect(helpLines('UPD')[0]).toBe('Usage: UPD <title> <filename>');
    expect(helpLines('dwn')[0]).toBe(usageLine('DWN'));
    expect(helpLines('DWN').join('\n')).toContain('--overwrite');
  });

  it('an unknown topic says so and lists the commands', () => {
    const lines = helpLines('FOO');
    expect(lines[0]).toBe('No command FOO; the commands are:');
    expect(lines.length).toBe(helpLines().length + 1);
  });

  it('the syntax follows the grammar: one placeholder per argument', () => {
    for (const [cmd, kinds] of Object.entries(COMMAND_ARGS)) {
      const words = syntaxOf(cmd as keyof typeof COMMAND_ARGS).split(' ').filter((w) => w !== '[--overwrite]');
      expect(words.length).toBe(kinds.length + 1);
    }
  });
});
