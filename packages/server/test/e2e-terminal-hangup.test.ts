import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { CLIENT_BIN, cleanup, OUTPUT_WAIT_MS, ownKnownHosts, P, runClient, SERVER_BIN, spawnClient, startServer, tempDir, type ServerProc } from './forum-processes.js';
import { until } from './silent-client.js';

/** `script` (util-linux) gives the binary a terminal of its own; killing `script` hangs that terminal up. */
const hasScript = existsSync('/usr/bin/script');

/** Polls for `file` until `timeoutMs`: the exit status the shell around the binary writes once the binary has exited. */
const statusOf = async (file: string, timeoutMs: number): Promise<string> => {
  for (const end = Date.now() + timeoutMs; Date.now() < end; await sleep(50)) {
    const text = await readFile(file, 'utf8').catch(() => '');
    if (text.endsWith('\n')) return text.trim();
  }
  throw new Error(`no exit status in ${file} after ${timeoutMs} ms`);
};

/**
 * Runs `argv` at a terminal of its own, waits for `ready` on it, then hangs the terminal up (an ssh
 * session dropped) and returns the binary's exit status and stderr. The shell around the binary is
 * the terminal's session leader (`exec`, whatever shell `script` starts) and ignores the hangup, so
 * it is there to write the status and the kernel sends the binary nothing: it sees its input fail.
 * With `sighup`, the binary's process group is then sent SIGHUP, as an interactive login shell
 * sends its jobs when its terminal hangs up.
 */
const hangUpAt = async (
  dir: string,
  argv: readonly string[],
  ready: string,
  { onReady = async () => undefined, sighup = false }: { readonly onReady?: () => Promise<void>; readonly sighup?: boolean } = {},
): Promise<{ status: string; stderr: string }> => {
  const statusFile = join(dir, 'status');
  const errFile = join(dir, 'stderr');
  const leaderFile = join(dir, 'leader');
  const quoted = argv.map((a) => `'${a}'`).join(' ');
  const inner = `trap "" HUP; echo $$ >${leaderFile}; ${quoted} 2>${errFile}; echo $? >${statusFile}`;
  const term = spawn('script', ['-qfc', `exec sh -c '${inner.replaceAll("'", `'"'"'`)}'`, '/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'],
    // Which shell runs script's command decides who leads the session; `exec` makes it the same for every one.
    env: { ...process.env, SHELL: '/bin/sh' },
  });
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    // The terminal is closed too when the test fails here: script and the binary at it would outlive the test.
    // What is waited for is a binary's start (and a client's login): CPU, as OUTPUT_WAIT_MS says.
    const timer = setTimeout(() => (term.kill('SIGKILL'), reject(new Error(`never saw ${JSON.stringify(ready)}; got ${JSON.stringify(seen)}`))), OUTPUT_WAIT_MS);
    term.stdout.on('data', (d: Buffer) => {
      seen += d.toString('utf8');
      if (seen.includes(ready)) (clearTimeout(timer), resolve());
    });
  });
  await onReady();
  const gone = new Promise<void>((resolve) => (term.exitCode !== null || term.signalCode !== null ? resolve() : term.once('exit', () => resolve())));
  term.kill('SIGKILL');
  // As sshd does: the terminal is hung up (its master closed: script gone) before the shell's SIGHUP comes. Sent
  // sooner, the client could exit while its terminal still answered and Node's exit then met it hung up (CI: SIGABRT).
  await gone;
  if (sighup) process.kill(-Number((await readFile(leaderFile, 'utf8')).trim()), 'SIGHUP');
  const status = await statusOf(statusFile, 20_000);
  return { status, stderr: await readFile(errFile, 'utf8') };
};

describe('a reader of forum-client that goes away', () => {
  it('does not stop the session: the commands after it still run, and the client exits 0', async () => {
    const dir = await tempDir('epipe');
    const data = await tempDir('epipe-server');
    const server = await startServer(data);
    try {
      const c = spawnClient(server.port, dir);
      // As `forum-client … | head -c 1` does: the reader leaves after the first bytes.
      c.child.stdout?.once('data', () => c.child.stdout?.destroy());
      c.child.stdin?.end(['ann', 'pw', 'CRT first', 'MSG first hello', 'CRT second', 'XIT', ''].join('\n'));
      expect(await c.exited).toBe(0);
      expect(c.stderr.text).not.toContain('EPIPE');
      expect(existsSync(join(data, 'second'))).toBe(true);
    } finally {
      await server.stop();
      await cleanup(dir, data);
    }
  });
});

describe('forum-client sent SIGHUP with its commands from a pipe', () => {
  // Before, Node's default action killed it (signal SIGHUP): the session stayed the server's until its idle timeout.
  it('logs out, runs none of the rest, says so and exits 129; the account can log in again at once', async () => {
    const dir = await tempDir('sighup-pipe');
    const data = await tempDir('sighup-pipe-server');
    const server = await startServer(data);
    try {
      const c = spawnClient(server.port, dir);
      c.send('ann');
      c.send('pw');
      // A client's start and login: CPU (OUTPUT_WAIT_MS), as the logout after it.
      await until(() => c.stdout.text.includes('Welcome to the forum'), OUTPUT_WAIT_MS, 'the login');
      c.child.kill('SIGHUP');
      // Logged out (the server prints `ann exited`): a script's next command, arriving now, must not run.
      await until(() => server.lines().includes('ann exited'), OUTPUT_WAIT_MS, 'the logout');
      c.send('CRT after');
      expect(await c.exited).toBe(129);
      expect(c.stderr.text).toContain('Hung up (SIGHUP): the commands after this point were not run');
      expect(existsSync(join(data, 'after'))).toBe(false);
      // The session ended at once, not left to time out: one session per account, so this login would be refused.
      const again = await runClient(server.port, dir, ['ann', 'pw', 'XIT']);
      expect(again.stdout).toContain('Welcome to the forum');
      expect(again.code).toBe(0);
    } finally {
      await server.stop();
      await cleanup(dir, data);
    }
  });
});

describe.skipIf(!hasScript)('a terminal that hangs up', () => {
  const dirs: string[] = [];
  let server: ServerProc | undefined;
  /** Servers at a terminal that hung up (process id, data directory), ended here if the test failed with them still running. */
  const running: { readonly pid: number; readonly data: string }[] = [];
  afterEach(async () => {
    for (const { pid, data } of running.splice(0)) {
      // Only if that process id is still this test's server: an exited one's id may be another process's by now,
      // another test's forum-server even (SERVER_BIN alone matched those); no other process is given this data directory.
      const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
      if (argv.includes(SERVER_BIN) && argv.includes(data)) process.kill(pid, 'SIGKILL');
    }
    await server?.stop();
    server = undefined;
    await cleanup(...dirs.splice(0));
  });

  // Before, both stopped cleanly and then Node aborted in its exit (restoring the dead terminal's settings): status 134, SIGABRT, a core dump.
  it('forum-server stops and exits 0, its lock released', async () => {
    const dir = await tempDir('hangup');
    dirs.push(dir);
    const data = join(dir, 'data');
    const r = await hangUpAt(dir, [process.execPath, SERVER_BIN, '0', '--data-dir', data], 'Waiting for clients', {
      onReady: async () => {
        running.push({ pid: (JSON.parse(await readFile(join(data, '.forum-server.lock'), 'utf8')) as { pid: number }).pid, data });
      },
    });
    expect(r.stderr).not.toContain('Assertion failed');
    expect(r.stderr).toMatch(/forum-server: stopped\n$/);
    expect(r.status).toBe('0');
    expect(existsSync(join(data, '.forum-server.lock'))).toBe(false);
  });

  // Before, the client killed by SIGHUP (status 129) where the terminal's shell sent it one, as dash's `-c` does.
  it.each([
    ['its input fails', false],
    ['it is sent SIGHUP', true],
  ])('forum-client at its prompt exits 0 when the terminal hangs up and %s', async (_, sighup) => {
    const dir = await tempDir('hangup-client');
    dirs.push(dir);
    server = await startServer(await tempDir('hangup-server').then((d) => (dirs.push(d), d)));
    const r = await hangUpAt(dir, [process.execPath, CLIENT_BIN, String(server.port), ...ownKnownHosts([])], P.user, { sighup });
    expect(r.stderr).not.toContain('Assertion failed');
    expect(r.status).toBe('0');
  });
});
