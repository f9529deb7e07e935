/**
 * One account's share of another user's thread (forum-protocol's
 * thread-share.ts) against the built binaries: before, one account posted to
 * a victim's thread until it was full for its creator too (attack round 27,
 * item 3); now its MSG and UPD past its share are refused with a line saying
 * so, while the creator and other users post on.
 */
import { MAX_THREAD_ENTRIES } from 'forum-protocol';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach, runClient, seededBytes, snapshotDir, startServer, tempDir } from './forum-processes.js';

/** One part in 8 of a thread's lines (forum-protocol's MAX_USER_THREAD_ENTRIES): the rule itself, stated here. */
const MAX_USER_THREAD_ENTRIES = MAX_THREAD_ENTRIES / 8;

describe("an account's share of another user's thread (real server)", () => {
  const scope = cleanupAfterEach();

  it(`a user other than the creator posts at most ${MAX_USER_THREAD_ENTRIES} lines to a thread: the client prints the refusal, the creator and others still post`, async () => {
    const data = await tempDir('data');
    const cwd = await tempDir('cwd');
    scope.dirs.push(data, cwd);
    // Alice's thread, with 100 lines of hers and room for one more line of mallory's.
    const alices = Array.from({ length: 100 }, (_, i) => `${i + 1} alice: a\n`);
    const mallorys = Array.from({ length: MAX_USER_THREAD_ENTRIES - 1 }, (_, i) => `${i + 101} mallory: m\n`);
    await writeFile(join(data, 'v'), `alice\n${alices.join('')}${mallorys.join('')}`);
    const server = await startServer(data);
    scope.servers.push(server);
    await writeFile(join(cwd, 'f.bin'), seededBytes(100, 6));
    const share = `Your messages hold as much of Thread v as one user may: at most ${MAX_USER_THREAD_ENTRIES} lines of it (delete some of your messages in it to make room)`;
    const attacker = await runClient(server.port, cwd, ['mallory', 'pw', 'MSG v one', 'MSG v two', 'UPD v f.bin', 'XIT']);
    expect(attacker.stdout).toContain('Message posted to v thread\n');
    // The MSG past the share and the UPD, refused by the command itself: no transfer was started.
    expect(attacker.stdout.split('\n').filter((l) => l.endsWith(share))).toHaveLength(2);
    expect(attacker.stdout).not.toContain('f.bin uploaded');
    const others = await runClient(server.port, cwd, ['alice', 'pw', 'MSG v mine', 'XIT']);
    expect(others.stdout).toContain('Message posted to v thread\n');
    const bob = await runClient(server.port, cwd, ['bob', 'pw', 'MSG v hello', 'UPD v f.bin', 'XIT']);
    expect(bob.stdout).toContain('Message posted to v thread\n');
    expect(bob.stdout).toContain('f.bin uploaded to v thread\n');
    expect([...(await snapshotDir(data)).keys()].sort()).toEqual(['credentials.txt', 'v', 'v-f.bin']);
  }, 60_000);
});
