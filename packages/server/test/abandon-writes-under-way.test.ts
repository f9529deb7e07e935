/**
 * `ForumServer.abandon` (a second stop signal) with a write to the data directory under way. The exit
 * right after it does not cut that write short: process.exit runs every file operation already queued
 * (libuv joins its threads; 400 MiB queued landed in 2.5 s after the lock was deleted, measured), and one
 * on a slow disk holds it until it returns. The lock must stay then, so that no server waiting for it
 * recovers the directory while the write lands. The server runs in this process, on real sockets; the
 * lock's reads (node:fs/promises' `readFile` of the lock file) are held at a gate, so that a write is
 * under way, waiting for its lock check, when `abandon` is called.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { LOCK_FILE } from '../src/data-dir-lock.js';
import { startForumServer } from '../src/forum-server.js';
import { cleanupAfterEach } from './forum-processes.js';
import { rawClient, rawLogin } from './raw-client.js';

const gate = vi.hoisted(() => {
  let open: (() => void) | undefined;
  let hit: (() => void) | undefined;
  const g = {
    closed: false,
    /** Resolves once a read of the lock is held at the closed gate. */
    reached: new Promise<void>((resolve) => (hit = resolve)),
    /** A read of the lock file while the gate is closed: it goes on once the gate opens. */
    hold: (): Promise<void> => {
      hit?.();
      return new Promise<void>((resolve) => (open = resolve));
    },
    open: (): void => {
      g.closed = false;
      open?.();
    },
  };
  return g;
});
vi.mock('node:fs/promises', async (original) => {
  const real = await original<typeof import('node:fs/promises')>();
  const readFile = (async (path: string, ...rest: unknown[]) => {
    if (gate.closed && typeof path === 'string' && path.endsWith('.forum-server.lock')) await gate.hold();
    return (real.readFile as (...a: unknown[]) => Promise<unknown>)(path, ...rest);
  }) as typeof real.readFile;
  return { ...real, readFile, default: { ...real, readFile } };
});

describe('abandon with a write under way', () => {
  const scope = cleanupAfterEach();

  it('keeps the lock while a write is under way (before: deleted, the write still to land); with none, deletes it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'forum-abandon-'));
    scope.stops.push(() => void rm(dir, { recursive: true, force: true }));
    const server = await startForumServer({ port: 0, host: '127.0.0.1', dataDir: dir, idleTimeoutMs: 60_000, transferPort: 0, hashPasswords: false, log: () => undefined, warn: () => undefined });
    scope.stops.push(() => void server.close());
    const lock = join(dir, LOCK_FILE);
    const record = await readFile(lock, 'utf8');
    const client = await rawClient(server.udpPort, { localAddress: '127.0.0.1' });
    scope.stops.push(() => void client.close());
    // Well inside the first renewal (5 s after the lock was taken): the read held is the new account's check.
    gate.closed = true;
    const login = rawLogin(client, 'alice', 'correct-horse-7');
    // A login that ended without its lock check fails here rather than waiting for a gate never reached.
    await Promise.race([gate.reached, login.then((r) => Promise.reject(new Error(`the login ended without a lock check: ${JSON.stringify(r)}`)))]);
    server.abandon();
    // Read past the gate (this file's node:fs/promises is the gated one too).
    expect(readFileSync(lock, 'utf8')).toBe(record);
    gate.open();
    // The write goes on and lands, under the lock still held.
    expect(await login).toMatchObject({ status: 'ok', data: { kind: 'auth' } });
    server.abandon();
    await expect(stat(lock)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
