/**
 * What forum-client shows of other users' text at a terminal (a pseudo-terminal through util-linux
 * `script`) and through a pipe, with the real server and client binaries on loopback. A co-user's message
 * carries invisible characters (the server lets them through in messages) and their upload is named like a
 * cli-progress placeholder.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach, P, runClient } from '../../server/test/forum-processes.js';
import { HAVE_SCRIPT, spawnTerminalClient } from './client-processes.js';

/** A message with a zero-width space and tag characters (text hidden from the eye), and an upload named `{value}.bin`. */
const MESSAGE = 'pay\u200bpal \u{e0069}\u{e0067}\u{e006e}';
const UPLOAD = '{value}.bin';

describe.skipIf(!HAVE_SCRIPT)('forum-client showing a co-user\'s text', () => {
  const scope = cleanupAfterEach();

  it('at a terminal invisible characters are shown as <U+XXXX> and a file named {value} as it is; through a pipe the message is kept as sent', async () => {
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
    await t.screen.waitFor(P.user);
    t.type('yoda\r');
    await t.screen.waitFor(P.pass);
    t.type('pw\r');
    await t.screen.waitFor(P.cmd);
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
});
