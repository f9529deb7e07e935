/**
 * A stop signal while forum-server starts (real processes): after its data directory's lock is taken and
 * before it serves. Before, the process had no handler yet and died of the signal on the spot, leaving the
 * lock file for the next start to judge (a takeover by pid here; in a restarted container, a new pid
 * namespace, a wait of up to 30 s for renewals that never come; a pid reused by another process, a refusal
 * until an operator deleted the file).
 *
 * The start is held where it is, deterministically: the data directory's `credentials.txt` is a FIFO, which
 * the store opens and reads after the lock is taken. The test's own open of it for writing returns once the
 * server has opened it, so the signal lands while the store reads it, and closing it lets the read end.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { open, readFile, readlink, stat, unlink, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pastRelayWindow } from './relay-window.js';
import { answered, cleanupAfterEach, LOCK_FILE, P, runClient, spawnServer, startServer, tempDir, type Proc } from './forum-processes.js';

const SIGNALS = [
  ['SIGTERM', 143],
  ['SIGINT', 130],
] as const;

describe('forum-server given a stop signal during start-up (real processes)', () => {
  const scope = cleanupAfterEach();

  /** A server started on a fresh data directory and held reading its credentials (a FIFO), its lock taken; `release` lets the read end. */
  /**
   * A server started on a new data directory whose file `held` is a FIFO (by default the credentials, read
   * once the lock is taken and recovery is over), held open until `release`.
   */
  const heldStarting = async (held = 'credentials.txt'): Promise<{ server: Proc; dataDir: string; lock: string; release: () => Promise<void> }> => {
    const dataDir = await tempDir('start-signal');
    scope.dirs.push(dataDir);
    const fifo = join(dataDir, held);
    execFileSync('mkfifo', [fifo]);
    // Not a thread file: an open that reads the directory to its end warns of it; one given up before its threads does not.
    await writeFile(join(dataDir, 'notes'), 'not a thread\n');
    const server = spawnServer(['0', '--data-dir', dataDir]);
    scope.stops.push(() => void server.child.kill('SIGKILL'));
    // Returns once the server has opened the FIFO to read it: its store is opening, the lock taken.
    const writer = await open(fifo, 'w');
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      await writer.close();
    };
    scope.closers.push(release);
    const lock = join(dataDir, LOCK_FILE);
    expect(JSON.parse(await readFile(lock, 'utf8'))).toMatchObject({ pid: server.child.pid });
    return { server, dataDir, lock, release };
  };

  /** Resolves once `server` has said `line` on stdout; rejects at once if it exits first (saying whether its lock was left). */
  const said = (server: Proc, line: string, lock: string): Promise<void> =>
    Promise.race([
      server.stdout.waitFor(line),
      server.exited.then(async (code) => {
        const left = await stat(lock).then(() => 'left behind', () => 'gone');
        throw new Error(`forum-server exited (${code}) instead of saying ${JSON.stringify(line)}; its lock file ${left}`);
      }),
    ]);

  /** The next server on `dataDir` (its FIFO gone) starts without taking a lock over, holds the lock, and serves. */
  const nextStartServes = async (dataDir: string, lock: string): Promise<void> => {
    await unlink(join(dataDir, 'credentials.txt'));
    const next = await startServer(dataDir);
    scope.servers.push(next);
    expect(next.lines().join('\n')).not.toContain('Took over');
    expect(JSON.parse(await readFile(lock, 'utf8'))).toMatchObject({ pid: next.child.pid });
    const cwd = await tempDir('cwd');
    scope.dirs.push(cwd);
    const r = await runClient(next.port, cwd, ['yoda', 'pw', 'CRT t', 'XIT']);
    expect(r.stdout, `forum-client exited ${String(r.code)}; its stderr: ${r.stderr}`).toBe(P.user + P.newPass + 'Welcome to the forum\n' + answered(['Thread t created'], ['Goodbye']));
  };

  it.each(SIGNALS)('%s while the store opens gives the start up: status %i, the lock released, the next start takes nothing over', async (signal, status) => {
    const { server, dataDir, lock, release } = await heldStarting();
    server.child.kill(signal);
    // Before: no handler yet, so the process died of the signal here ('SIGTERM' / 'SIGINT'), its lock left.
    await said(server, `Stopping during start-up (${signal})\n`, lock);
    // The open under way writes under the lock (its recovery): let finish, then the start is given up.
    await release();
    expect(await server.exited).toBe(status);
    expect(server.stdout.text).toBe(`Stopping during start-up (${signal})\n`);
    // Nothing of the directory read after the signal (no warning of `notes`), nothing refused: only the stop.
    expect(server.stderr.text).toBe(`forum-server: stopped during start-up by ${signal}\n`);
    await expect(stat(lock)).rejects.toMatchObject({ code: 'ENOENT' });
    await nextStartServes(dataDir, lock);
  });

  it.each(SIGNALS)('a second %s while the start is given up exits at once (status %i), the lock given up first', async (signal, status) => {
    const { server, dataDir, lock, release } = await heldStarting();
    server.child.kill(signal);
    await said(server, `Stopping during start-up (${signal})\n`, lock);
    // The store's read still waits: the first signal's stop cannot end, as on a hung disk. Sooner, the second is the first relayed.
    await pastRelayWindow();
    const second = performance.now();
    server.child.kill(signal);
    await server.stderr.waitFor(`forum-server: exiting at once (${signal} while stopping)\n`);
    // At once, not when the held read ends (never, here): a bound over a loaded machine's stalls (2 s was within one).
    expect(performance.now() - second).toBeLessThan(10_000);
    // Gone while the read still waits (the exit waits for it: Node joins its file-system threads on exit).
    await expect(stat(lock)).rejects.toMatchObject({ code: 'ENOENT' });
    await release();
    expect(await server.exited).toBe(status);
    expect(server.stderr.text).not.toContain('stopped during start-up');
    await nextStartServes(dataDir, lock);
  });

  it('a second SIGTERM while the recovery of the directory runs (writing under the lock) exits at once and leaves the lock, which the next start takes over', async () => {
    // The undo journal is the first thing the recovery reads: a FIFO holds it there, as a hung disk would a write.
    const { server, dataDir, lock, release: close } = await heldStarting('.forum-journal');
    const journal = join(dataDir, '.forum-journal');
    const mine = await readFile(lock, 'utf8');
    server.child.kill('SIGTERM');
    await said(server, 'Stopping during start-up (SIGTERM)\n', lock);
    await pastRelayWindow();
    server.child.kill('SIGTERM');
    await server.stderr.waitFor('forum-server: exiting at once (SIGTERM while stopping)\n');
    // Before: deleted here, while the recovery's file operation was still to land (the exit waits for it).
    expect(await readFile(lock, 'utf8')).toBe(mine);
    await close();
    expect(await server.exited).toBe(143);
    // Left, it names a process gone: the next start takes it over (logged) and serves.
    await unlink(journal);
    const next = await startServer(dataDir);
    scope.servers.push(next);
    expect(next.lines().join('\n')).toContain('Took over');
    expect(JSON.parse(await readFile(lock, 'utf8'))).toMatchObject({ pid: next.child.pid });
  });

  it("SIGTERM while the start waits to see whether another container's lock is renewed exits at once (143); that lock stays", async () => {
    const dataDir = await tempDir('start-signal-wait');
    scope.dirs.push(dataDir);
    const lock = join(dataDir, LOCK_FILE);
    // PID 1 of another pid namespace of this host and boot (another container's server): judged by its renewals, up to 30 s.
    const boot = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => '')).trim() || null;
    const pidns = (await readlink('/proc/self/ns/pid').catch(() => '')) || null;
    const other = `${JSON.stringify({ pid: 1, host: hostname(), boot, pidns: pidns === 'pid:[4026532999]' ? 'pid:[4026532998]' : 'pid:[4026532999]', token: 'other' })}\n`;
    await writeFile(lock, other);
    const server = spawnServer(['0', '--data-dir', dataDir]);
    scope.stops.push(() => void server.child.kill('SIGKILL'));
    await server.stdout.waitFor(`The data directory lock ${lock} is another container's; waiting up to 30 s`);
    const signalled = performance.now();
    server.child.kill('SIGTERM');
    // Before: 'SIGTERM' (killed by it, no line).
    expect(await server.exited).toBe(143);
    // Not the lock's 30 s wait: a bound far under it, and over a loaded machine's stalls (2 s was within one).
    expect(performance.now() - signalled).toBeLessThan(10_000);
    expect(server.stdout.text).toMatch(/\nStopping during start-up \(SIGTERM\)\n$/);
    expect(server.stderr.text).toBe('forum-server: stopped during start-up by SIGTERM\n');
    expect(await readFile(lock, 'utf8')).toBe(other);
  });

  it('SIGTERM while a database that does not answer is reached exits at once (143): nothing is held to wait for', async () => {
    // A "database" that accepts connections and never answers: the server's start waits in it (up to its connect timeout).
    const sockets: Socket[] = [];
    const silent = createServer((s) => void sockets.push(s));
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const connected = once(silent, 'connection');
    scope.closers.push(async () => {
      sockets.forEach((s) => s.destroy());
      silent.close();
      await once(silent, 'close');
    });
    const address = silent.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const dir = await tempDir('start-signal-pg');
    scope.dirs.push(dir);
    const identity = join(dir, 'identity');
    const server = spawnServer(['0', '--identity-file', identity, '--store', `postgres://forum@127.0.0.1:${address.port}/forum`]);
    scope.stops.push(() => void server.child.kill('SIGKILL'));
    await Promise.race([
      connected,
      server.exited.then((code) => {
        throw new Error(`forum-server exited (${code}) before it reached the database: ${server.stderr.text}`);
      }),
    ]);
    const signalled = performance.now();
    server.child.kill('SIGTERM');
    // Before: 'SIGTERM' (killed by it, no line). The connect would have waited its timeout (30 s).
    expect(await server.exited).toBe(143);
    // Not the connect's 30 s timeout: a bound far under it, and over a loaded machine's stalls.
    expect(performance.now() - signalled).toBeLessThan(10_000);
    expect(server.stdout.text).toBe('Stopping during start-up (SIGTERM)\n');
    expect(server.stderr.text).toBe('forum-server: stopped during start-up by SIGTERM\n');
    // Given up before anything was made: not even the identity key.
    await expect(stat(identity)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
