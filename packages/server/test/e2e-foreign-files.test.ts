/**
 * A data directory holding another program's files (attack round 19): a file whose first line is one word
 * reads as a thread of that word's user, and whoever registered the name could remove it with RMV. The
 * start names such threads (their creator has no account); threads of existing accounts are not named.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach, startServer, tempDir } from './forum-processes.js';

describe('files of another program in the data directory', () => {
  const { dirs, servers } = cleanupAfterEach();

  it('threads whose creator has no account are warned of at start', async () => {
    const data = await tempDir('data');
    dirs.push(data);
    await writeFile(join(data, 'credentials.txt'), 'alice secret\n');
    await writeFile(join(data, 'news'), 'alice\n1 alice: hi\n');
    await writeFile(join(data, 'README'), 'bob\n');
    await writeFile(join(data, 'todo'), 'TODO\n- buy milk\n');
    const server = await startServer(data);
    servers.push(server);
    // Before: nothing said; `bob` registering could `RMV README`, deleting the file.
    expect(server.stderr.text).toContain(
      'Warning: thread files whose creator has no account (files of another program? whoever registers that name may remove them with RMV): README (bob), todo (TODO)\n',
    );
    expect(server.stderr.text).not.toContain('news (');
  });

  it('threads whose creator is a name no one can register (held by an account, or by a malformed line) are not said to be removable by whoever registers it', async () => {
    const data = await tempDir('data');
    dirs.push(data);
    await writeFile(join(data, 'credentials.txt'), 'alice secret\ncarol\n');
    await writeFile(join(data, 'plan'), 'Alice\n- step one\n');
    await writeFile(join(data, 'notes'), 'carol\n');
    await writeFile(join(data, 'README'), 'bob\n');
    const server = await startServer(data);
    servers.push(server);
    // Before: all three in the first warning, which said whoever registers Alice or carol may remove them (no one can:
    // the login refuses both names, and RMV asks for the creator's exact name).
    expect(server.stderr.text).toContain(
      'Warning: thread files whose creator has no account (files of another program? whoever registers that name may remove them with RMV): README (bob)\n',
    );
    expect(server.stderr.text).toContain(
      "Warning: thread files whose creator has no account, under a name no one can register (files of another program? no one can remove them with RMV, which takes the creator's exact name; a malformed line's account can once it is mended): notes (carol: held by credentials.txt line 2, malformed), plan (Alice: the name of account alice)\n",
    );
  });
});
