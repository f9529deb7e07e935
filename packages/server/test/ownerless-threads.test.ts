/**
 * The start's warnings of thread files whose creator has no account: a creator the login refuses as a user name
 * (`bob:`, a name of look-alike letters of two scripts) is one no one can register, so no one can remove its
 * threads with RMV either; the warning that says whoever registers it may was false for it.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openFileStore } from 'forum-protocol';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach, tempDir } from './forum-processes.js';
import { ownerlessThreadsWarnings } from '../src/ownerless-threads.js';

describe('ownerless thread warnings', () => {
  const { dirs } = cleanupAfterEach();

  it('a creator the login refuses as a user name is said to be one no one can register', async () => {
    const dir = await tempDir('ownerless');
    dirs.push(dir);
    await writeFile(join(dir, 'credentials.txt'), 'alice secret\n');
    await writeFile(join(dir, 'README'), 'bob\n');
    await writeFile(join(dir, 'todo'), 'TODO:\n- buy milk\n');
    // Latin `p` and Cyrillic `а`: refused as mixing scripts.
    await writeFile(join(dir, 'pay'), 'p\u0430y\n');
    const opened = await openFileStore(dir)();
    if (opened._tag === 'Left') throw new Error(opened.left.message);
    // Before: todo (TODO:) and pay in the first warning, as names whoever registers them may remove.
    expect(await ownerlessThreadsWarnings(opened.right)).toEqual([
      'thread files whose creator has no account (files of another program? whoever registers that name may remove them with RMV): README (bob)',
      "thread files whose creator has no account, under a name no one can register (files of another program? no one can remove them with RMV, which takes the creator's exact name; a malformed line's account can once it is mended): " +
        "pay (p\u0430y, a name the login refuses: must not mix scripts (Latin and Cyrillic); look-alike letters are refused), todo (TODO:, a name the login refuses: must not contain ':')",
    ]);
  });
});
