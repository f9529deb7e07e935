/**
 * The tests' record of a child process (forum-processes.ts `track`) ends when the child's output has all
 * been read, not at its `'exit'`: CI at load read a client's stderr without its last line (e2e-login-fault).
 */
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { track } from './forum-processes.js';

/** A child process as the parent sees it: its events and its two output pipes, driven by the test. */
const fakeChild = (): { readonly child: ChildProcess; readonly stdout: PassThrough; readonly stderr: PassThrough } => {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const child = Object.assign(new EventEmitter(), { stdout, stderr }) as unknown as ChildProcess;
  return { child, stdout, stderr };
};

describe('track (a child process in a test)', () => {
  it('resolves its end after the output the child wrote before exiting has been read, even when the exit is seen first', async () => {
    const { child, stderr } = fakeChild();
    const proc = track(child);
    // What a test reads as soon as the end is reported (runClient's stderr).
    const atEnd = proc.exited.then((code) => ({ code, stderr: proc.stderr.text }));
    stderr.write('trying again\n');
    // The order the parent may see at load: the exit, then the pipe's last bytes, then the pipes' close.
    child.emit('exit', 6, null);
    await new Promise<void>((resolve) => setImmediate(resolve));
    stderr.end('Login not completed\n');
    await new Promise<void>((resolve) => stderr.once('end', resolve));
    child.emit('close', 6, null);
    expect(await atEnd).toEqual({ code: 6, stderr: 'trying again\nLogin not completed\n' });
  });

  it('gives the signal name for a child killed by one', async () => {
    const { child, stdout, stderr } = fakeChild();
    const proc = track(child);
    child.emit('exit', null, 'SIGKILL');
    stdout.end();
    stderr.end();
    child.emit('close', null, 'SIGKILL');
    expect(await proc.exited).toBe('SIGKILL');
  });
});
