/**
 * forum-server takes SIGTERM as an orderly stop from the moment it says it is ready. A supervisor may
 * send it as soon as it reads the ready line, and a signal that came before the handlers were in
 * place ended the process by the signal (no `Server shutting down`, clients not told).
 *
 * The old server wrote its ready lines and installed its handlers in one synchronous run, so the gap
 * was microseconds wide: a preload (`node --require`) holds the server right after its last ready line
 * until the test has sent SIGTERM, which makes the gap, if there is one, as wide as the test needs.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach, SERVER_BIN, tempDir } from './forum-processes.js';

/**
 * A CommonJS preload: after the stderr write that contains `data directory` (the last ready line) the
 * process waits, its event loop held, until the file named by FORUM_TEST_GO exists. A signal meanwhile
 * is either left to its default action (no handler yet: the process dies at once) or queued for the
 * handler, which runs once the wait is over.
 */
const HOLD_AFTER_READY = `
const { existsSync } = require('node:fs');
const go = process.env.FORUM_TEST_GO;
const write = process.stderr.write.bind(process.stderr);
const cell = new Int32Array(new SharedArrayBuffer(4));
process.stderr.write = (chunk, ...rest) => {
  const written = write(chunk, ...rest);
  if (String(chunk).includes('data directory')) while (!existsSync(go)) Atomics.wait(cell, 0, 0, 10);
  return written;
};
`;

describe('forum-server given SIGTERM as soon as it says it is ready (real process)', () => {
  const scope = cleanupAfterEach();

  it('stops in order, exit 0, its stop said on stdout', async () => {
    const dir = await tempDir('ready-signal');
    scope.dirs.push(dir);
    const preload = join(dir, 'hold-after-ready.cjs');
    const go = join(dir, 'go');
    await writeFile(preload, HOLD_AFTER_READY);
    const child = spawn(process.execPath, ['--require', preload, SERVER_BIN, '0', '--data-dir', join(dir, 'data')], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORUM_TEST_GO: go },
    });
    scope.stops.push(() => void child.kill('SIGKILL'));
    const exited = new Promise<number | string>((resolve) => child.once('close', (code: number | null, signal: NodeJS.Signals | null) => resolve(code ?? signal ?? -1)));
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (s: string) => {
        stderr += s;
        if (stderr.includes('data directory')) resolve();
      });
      void exited.then((code) => reject(new Error(`forum-server exited (${code}) at start: ${stderr}`)));
    });
    // The server is held right after its last ready line: the signal lands there.
    child.kill('SIGTERM');
    await writeFile(go, '');
    // Before: 'SIGTERM' (killed by the signal, its handlers not yet installed), and no stop on stdout.
    expect(await exited).toBe(0);
    expect(stdout).toBe('Waiting for clients\nServer shutting down (SIGTERM)\n');
    expect(stderr).toContain('forum-server: stopped');
  }, 20_000);
});
