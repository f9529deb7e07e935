import { describe, expect, it } from 'vitest';
import { foregroundOfStat } from '../src/terminal-foreground.js';

/** A `/proc/PID/stat` line of process `pid` named `comm`, in process group `pgrp`, its terminal's foreground group `tpgid`. */
const stat = (comm: string, pgrp: number, tpgid: number): string => `4242 (${comm}) S 4100 ${pgrp} 4100 34817 ${tpgid} 4194304 101 0 0 0 0 0 0 0 20 0 1 0 3918332`;

describe('foregroundOfStat', () => {
  it("is true when the process group is the terminal's foreground group, false when another is", () => {
    expect(foregroundOfStat(stat('node', 4242, 4242))).toBe(true);
    // `forum-server 4000 &`: the shell's group has the terminal.
    expect(foregroundOfStat(stat('node', 4242, 4100))).toBe(false);
  });

  it('reads the fields after the command name, whatever spaces and parentheses the name holds', () => {
    expect(foregroundOfStat(stat('a) S 1 2 3 4 5', 4242, 4242))).toBe(true);
    expect(foregroundOfStat(stat('x (y) 9 9 9 9 9', 4242, 7))).toBe(false);
  });

  it('cannot say for a process without a controlling terminal, or for text that is no such line', () => {
    expect(foregroundOfStat(stat('node', 4242, -1))).toBeUndefined();
    expect(foregroundOfStat('')).toBeUndefined();
    expect(foregroundOfStat('4242 node S 1 2 3 4 5')).toBeUndefined();
    expect(foregroundOfStat('4242 (node) S 4100')).toBeUndefined();
  });

  it('cannot say for input from a terminal that is not the controlling one: reading it stops no background job', () => {
    // tty_nr 34817 is /dev/pts/1 (major 136, minor 1); `forum-server 4000 < /dev/pts/2 &` reads pts/2 (34818).
    expect(foregroundOfStat(stat('node', 4242, 4100), 34818)).toBeUndefined();
    expect(foregroundOfStat(stat('node', 4242, 4100), 34817)).toBe(false);
    expect(foregroundOfStat(stat('node', 4242, 4242), 34817)).toBe(true);
  });
});
