/**
 * forum-server as a job of an interactive shell: `forum-server 0 --data-dir D &`, as an operator starts it
 * before running the client in the same terminal. The terminal stays the job's standard input, and a
 * background job that reads its terminal is stopped by SIGTTIN: the first line typed in the shell stopped
 * the server (`Stopped (tty input)`), and every client was then told `Unable to reach the server`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, LOCK_FILE, runClient, SERVER_BIN, tempDir } from './forum-processes.js';
import { until } from './silent-client.js';

/** util-linux `script` gives the shell a terminal, and bash its job control there. */
const canRun = spawnSync('script', ['--version'], { encoding: 'utf8' }).stdout?.includes('util-linux') === true && existsSync('/bin/bash');

/** An interactive bash at a terminal of its own: what is typed, and everything the terminal shows. */
const shellAtTerminal = (cwd: string) => {
  const term = spawn('script', ['-qfc', '/bin/bash --norc --noprofile -i', '/dev/null'], {
    cwd,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, TERM: 'dumb', SHELL: '/bin/bash' },
  });
  let screen = '';
  term.stdout.on('data', (d: Buffer) => (screen += d.toString('utf8')));
  return {
    term,
    screen: (): string => screen,
    type: (text: string): void => void term.stdin.write(text),
  };
};

describe.skipIf(!canRun)('forum-server started in the background of an interactive shell (`&`)', () => {
  const dirs: string[] = [];
  const ends: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const end of ends.splice(0)) await end();
    await cleanup(...dirs.splice(0));
  });

  it('keeps serving while lines are typed in the shell, also after Ctrl-Z and bg; brought to the foreground, Ctrl-D stops it', async () => {
    const dir = await tempDir('background-job');
    dirs.push(dir);
    const data = join(dir, 'data');
    const sh = shellAtTerminal(dir);
    let serverPid: number | undefined;
    ends.push(async () => {
      // Only if that process id is still this test's server (an exited one's may be another process's by now).
      const argv = serverPid === undefined ? [] : (await readFile(`/proc/${serverPid}/cmdline`, 'utf8').catch(() => '')).split('\0');
      if (serverPid !== undefined && argv.includes(SERVER_BIN) && argv.includes(data)) process.kill(serverPid, 'SIGKILL');
      sh.term.kill('SIGKILL');
    });
    const shown = (what: RegExp, label: string): Promise<void> =>
      until(() => what.test(sh.screen()), 20_000, label).catch((e: unknown) => {
        throw new Error(`${String(e)}; the terminal shows ${JSON.stringify(sh.screen())}`);
      });
    await shown(/[#$] $/, 'the prompt');
    // bash sets its own PS1 for an interactive shell, whatever the environment says: one that cannot be taken for output.
    sh.type("PS1='PROMPT''> '\n");
    await shown(/PROMPT> $/, 'the prompt set');
    sh.type(`'${process.execPath}' '${SERVER_BIN}' 0 --data-dir '${data}' &\n`);
    await shown(/forum-server: UDP 127\.0\.0\.1:\d+/, 'the server started');
    const port = Number(/forum-server: UDP 127\.0\.0\.1:(\d+)/.exec(sh.screen())?.[1]);
    serverPid = (JSON.parse(await readFile(join(data, LOCK_FILE), 'utf8')) as { pid: number }).pid;

    /** Types a line while the shell is busy (`sleep`), so it waits in the terminal, readable, then checks the server serves. */
    const typeThenServe = async (mark: string): Promise<void> => {
      sh.type('sleep 1\n');
      sh.type(`echo ${mark}-$((6*7))\n`);
      await shown(new RegExp(`${mark}-42`), `the shell ran the typed line (${mark})`);
      const r = await runClient(port, dir, ['ann', 'pw', `CRT ${mark}`, 'XIT'], ['--timeout', '5']);
      expect(r.stdout).toContain(`Thread ${mark} created`);
      expect(r.code).toBe(0);
    };
    // Before, the server read the line too and was stopped by SIGTTIN: `Unable to reach the server`, exit 1.
    await typeThenServe('typed');

    // Ctrl-Z stops it as any job; `bg` runs it again in the background, where it must not read the terminal either.
    sh.type('fg\n');
    await shown(/fg\r?\n[^\n]*forum-server\.js[^\n]*\r?\n$/, 'the server in the foreground');
    sh.type('\x1a');
    await shown(/Stopped/, 'the server stopped by Ctrl-Z');
    sh.type('bg\n');
    await shown(/\[1\]\+ [^\n]*&\r?\n/, 'the server in the background again');
    await typeThenServe('again');

    // In the foreground again it reads the terminal: Ctrl-D stops it, as the README says.
    sh.type('fg\n');
    await shown(/fg\r?\n[^\n]*forum-server\.js[^\n]*\r?\n$/, 'the server in the foreground again');
    sh.type('\x04');
    await shown(/Server shutting down \(end of input\)/, 'the stop at Ctrl-D');
    await shown(/forum-server: stopped\r?\n/, 'the server stopped');
    await until(() => !existsSync(join(data, LOCK_FILE)), 10_000, 'the lock released');
    expect(existsSync(join(data, 'typed')) && existsSync(join(data, 'again'))).toBe(true);
  }, 90_000);
});
