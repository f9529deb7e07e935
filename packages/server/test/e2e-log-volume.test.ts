/** How many log lines a misbehaving client can make forum-server write (the built server, a raw client). */
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach, startServer, tempDir } from './forum-processes.js';
import { rawClient, rawLogin } from './raw-client.js';

describe('forum-server log volume under a hostile client (real processes)', () => {
  const scope = cleanupAfterEach();

  it('300 malformed requests write 10 lines and one summary, and the client is still answered', async () => {
    const data = await tempDir('log-volume');
    scope.dirs.push(data);
    const server = await startServer(data);
    scope.servers.push(server);
    const c = await rawClient(server.port);
    scope.closers.push(() => c.close());
    const garbage = new TextEncoder().encode('not json');
    // One at a time: each is answered (so each ran and would have been logged), paced at the default 100 a second.
    for (let i = 0; i < 300; i++) expect(await c.sendRaw(garbage)).toMatchObject({ status: 'error', lines: ['Malformed request'] });
    expect((await rawLogin(c, 'yoda', 'pw')).lines).toEqual(['Welcome to the forum']);
    await server.stop();
    const lines = server.lines();
    // Before: 300 lines "Malformed request: …", one per request, for as long as the client kept on.
    expect(lines.filter((l) => l.startsWith('Malformed request: '))).toHaveLength(10);
    expect(lines.filter((l) => l.startsWith('Client host '))).toEqual([expect.stringMatching(/^Client host 127\.0\.0\.1: 290 more "Malformed request" lines suppressed in the last [0-9]+ s$/)]);
    // The spec's own lines are not limited.
    expect(lines).toContain('yoda successfully logged in');
  });
});
