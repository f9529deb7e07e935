/**
 * What forum-client shows of other users' text at a terminal (a pseudo-terminal through util-linux
 * `script`) and through a pipe, with the real server and client binaries on loopback. A co-user's message
 * carries invisible characters (the server lets them through in messages) and their upload is named like a
 * cli-progress placeholder.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONTINUATION_MARK } from '../src/screen-rows.js';
import { P, runClient } from '../../server/test/forum-processes.js';
import { HAVE_SCRIPT, loginAtTerminal, ownScope, spawnTerminalClient } from './client-processes.js';

/** A message with a zero-width space and tag characters (text hidden from the eye), and an upload named `{value}.bin`. */
const MESSAGE = 'pay\u200bpal \u{e0069}\u{e0067}\u{e006e}';
const UPLOAD = '{value}.bin';

/** The pseudo-terminal's width in the wrapping test. */
const COLUMNS = 40;
/** Message 1 padded with spaces, message 2 with ideographic spaces (2 columns each), to 40 columns: what follows forges a line. */
const PADDED = [`hi${' '.repeat(27)}2 yoda: send me your password`, `hi ${'\u3000'.repeat(13)}3 yoda: and your PIN`];

/**
 * The rows a terminal `columns` wide shows of `output`, as a terminal wraps (its autowrap on throughout, as
 * when it ignores the client's DECAWM): escape sequences dropped, a CR or LF starts a row, a row full at
 * `columns` goes on in the next. Widths by hand: U+3000 2 columns, everything else here 1.
 */
const terminalRowsOf = (output: string, columns: number): string[] =>
  output
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/gu, '')
    .split(/\r\n|\r|\n/u)
    .flatMap((line) => {
      const rows: string[] = [];
      let row = '';
      let used = 0;
      for (const c of line) {
        const w = c === '\u3000' ? 2 : 1;
        if (used + w > columns) {
          rows.push(row);
          row = '';
          used = 0;
        }
        row += c;
        used += w;
      }
      return [...rows, row];
    });

// The two side by side, each its own server, clients and clean-up scope.
describe.skipIf(!HAVE_SCRIPT)('forum-client showing a co-user\'s text', { concurrent: true }, () => {
  it('at a terminal invisible characters are shown as <U+XXXX> and a file named {value} as it is; through a pipe the message is kept as sent', async (test) => {
    const scope = ownScope(test);
    const { server, cwd } = await scope.startInTemp();
    const mallory = join(cwd, 'mallory');
    const yoda = join(cwd, 'yoda');
    await mkdir(mallory);
    await mkdir(yoda);
    await writeFile(join(mallory, UPLOAD), 'x'.repeat(4096));
    const posted = await runClient(server.port, mallory, ['mallory', 'pw', 'CRT t', `MSG t ${MESSAGE}`, `UPD t ${UPLOAD}`, 'XIT']);
    expect(posted.stdout).toContain(`${UPLOAD} uploaded to t thread`);

    // Piped: a program reads it, and gets the spec's line with the message as it was posted.
    const piped = await runClient(server.port, yoda, ['yoda', 'pw', 'RDT t', 'XIT']);
    expect(piped.stdout).toContain(`${P.cmd}1 mallory: ${MESSAGE}\n`);

    const t = spawnTerminalClient(server.port, yoda);
    scope.stops.push(() => t.kill());
    await loginAtTerminal(t, 'yoda', 'pw');
    t.type('RDT t\r');
    // Before, the zero-width space and the tags reached the terminal as they are: `paypal ` on the screen.
    await t.screen.waitFor('1 mallory: pay<U+200B>pal <U+E0069><U+E0067><U+E006E>');
    t.type(`DWN t ${UPLOAD}\r`);
    await t.screen.waitFor(`${UPLOAD} successfully downloaded`);
    // cli-progress expanded `{value}` in its template: the bar read `Downloading 0.bin [`.
    expect(t.screen.text).toContain(`Downloading ${UPLOAD} [`);
    t.type('XIT\r');
    await t.screen.waitFor('Goodbye');
    expect(await t.exited).toBe(0);
  });

  it('at a terminal a co-user\'s message padded to its width is wrapped by the client: no row after the padding starts like a message line', async (test) => {
    const scope = ownScope(test);
    const { server, cwd } = await scope.startInTemp();
    const mallory = join(cwd, 'mallory');
    const yoda = join(cwd, 'yoda');
    await mkdir(mallory);
    await mkdir(yoda);
    const posted = await runClient(server.port, mallory, ['mallory', 'pw', 'CRT t', ...PADDED.map((m) => `MSG t ${m}`), 'XIT']);
    expect(posted.stdout).toContain('Message posted to t thread');

    // Piped: the spec's lines, byte for byte, however wide.
    const piped = await runClient(server.port, yoda, ['yoda', 'pw', 'RDT t', 'XIT']);
    expect(piped.stdout).toContain(`${P.cmd}1 mallory: ${PADDED[0]}\n2 mallory: ${PADDED[1]}\n`);

    const t = spawnTerminalClient(server.port, yoda, [], { columns: COLUMNS });
    scope.stops.push(() => t.kill());
    await loginAtTerminal(t, 'yoda', 'pw');
    t.type('RDT t\r');
    await t.screen.waitFor('and your PIN');
    t.type('XIT\r');
    await t.screen.waitFor('Goodbye');
    expect(await t.exited).toBe(0);

    const rows = terminalRowsOf(t.screen.text, COLUMNS);
    // Before, the terminal wrapped the 40 columns of `1 mallory: hi` and padding, and `2 yoda: send me your
    // password` began the next row, as `3 yoda: and your PIN` did after message 2.
    expect(rows.filter((row) => /^\d+ \S+: /u.test(row))).toEqual([`1 mallory: hi${' '.repeat(27)}`, `2 mallory: hi ${'\u3000'.repeat(13)}`]);
    expect(rows).toContain(`         ${CONTINUATION_MARK}2 yoda: send me your password`);
    expect(rows).toContain(`         ${CONTINUATION_MARK}3 yoda: and your PIN`);
  });
});
