/**
 * A command that changes the forum and gets no reply: forum-client says its outcome is unknown, not just that the
 * server is unreachable (attack round 21: an MSG whose reply was lost on the way back was stored, while the client
 * said only `Server unreachable: no reply within 8 seconds`; a user who sends it again posts it twice). The real
 * client binary, a fake server behind a gate.
 */
import type { Request } from 'forum-protocol';
import { describe, expect, it } from 'vitest';
import { spawnClient, tempDir, withoutFirstContact } from '../../server/test/forum-processes.js';
import { ownScope } from './client-processes.js';
import { startFakeServer } from './fake-forum-server.js';
import { startUdpGate } from './udp-gate.js';

// Side by side, each its own fake, gate, client and clean-up: each waits out a request timeout.
describe.concurrent('a change asked for and not answered', () => {
  /** Logs in through a gate, then runs `command` with `cut` applied to the gate; the client's stderr and status. */
  const unanswered = async (test: Parameters<typeof ownScope>[0], command: string, cut: 'replies' | 'everything back'): Promise<{ stderr: string; status: number | string; got: string[] }> => {
    const scope = ownScope(test);
    const got: string[] = [];
    // The fake answers the login only: a command's reply is as good as lost on the way back.
    const server = await startFakeServer((req: Request) => {
      got.push(req.cmd);
      return [];
    });
    scope.closers.push(() => server.close());
    const gate = await startUdpGate(server.port);
    scope.closers.push(() => gate.close());
    const cwd = await tempDir('unanswered-write');
    scope.dirs.push(cwd);
    // --timeout 1: a request gives up after 1.6 s (the connection after 2 s of silence).
    const client = spawnClient(gate.port, cwd, ['--timeout', '1']);
    scope.stops.push(() => client.child.kill('SIGKILL'));
    client.send('yoda');
    client.send('pw');
    await client.stdout.waitFor('Welcome to the forum\n');
    if (cut === 'everything back') gate.dropToClient();
    client.send(command);
    const status = await client.exited;
    return { stderr: withoutFirstContact(client.stderr.text), status, got };
  };

  it('received by the server (acknowledged), no reply: it may have been carried out', async (test) => {
    const { stderr, status, got } = await unanswered(test, 'MSG t hello', 'replies');
    expect(got).toContain('MSG');
    expect(status).toBe(1);
    expect(stderr).toBe('Server unreachable: no reply within 2 seconds; the server had received the MSG (it acknowledged it) and may have carried it out: check before sending it again\n');
  }, 15_000);

  it('nothing heard back, not even an acknowledgement: it may or may not have reached the server', async (test) => {
    const { stderr, status } = await unanswered(test, 'CRT t', 'everything back');
    expect(status).toBe(1);
    expect(stderr).toMatch(/^Server unreachable: (no reply within 2 seconds|connection lost \([^)]*\)); the CRT may or may not have reached the server: check before sending it again\n$/);
  }, 15_000);

  it('a read left unanswered says nothing more: nothing was to change', async (test) => {
    const { stderr, status } = await unanswered(test, 'LST', 'replies');
    expect(status).toBe(1);
    expect(stderr).toBe('Server unreachable: no reply within 2 seconds\n');
  }, 15_000);
});
