/**
 * A script's login retried after `Server busy: …, try again later` pauses up to 8 s between tries (LOGIN_BUSY_PAUSES_MS):
 * a SIGTERM (`timeout`, a service manager) or a script's Ctrl-C then is to end the client at once, not after the
 * pause. Before, the pause was waited out, then the end of input taken: the client stayed up to 8 s past the signal.
 */
import { simpleReply } from 'forum-protocol';
import { describe, expect, it } from 'vitest';
import { P, spawnClient, tempDir, withoutFirstContact, type TestScope } from '../../server/test/forum-processes.js';
import { ownScope } from './client-processes.js';
import { startFakeServer } from './fake-forum-server.js';

/** A client with its answers piped, in a directory of its own, both cleaned up after the test. */
const scriptedClient = async (scope: TestScope, port: number): Promise<ReturnType<typeof spawnClient>> => {
  const cwd = await tempDir('login-backoff');
  scope.dirs.push(cwd);
  const client = spawnClient(port, cwd);
  scope.stops.push(() => client.child.kill('SIGKILL'));
  return client;
};

/** The server's refusal when it has no room (client-connection.ts refuseConnection, memory budget reached). */
const BUSY_LINE = 'Server busy: memory budget reached (200 MiB of 100 MiB in use), try again later';

// Side by side, each its own fake, client and clean-up: the first two wait out the 1 s and 2 s pauses first.
describe.concurrent('forum-client with piped answers, a signal during the pause before a login is tried again', () => {
  it.for([
    ['SIGTERM', 143, 'Terminated (SIGTERM) at the username prompt: not logged in\n', ''],
    ['SIGINT', 130, 'Interrupted (SIGINT) at the username prompt: not logged in\n'],
  ] as const)('%s during the 4 s pause: the client ends at once (status %i), nothing more sent', { timeout: 30_000 }, async ([signal, status, said], test) => {
    const scope = ownScope(test);
    const seen: string[] = [];
    const server = await startFakeServer(
      (req) => {
        seen.push(req.cmd);
        return [simpleReply(req.id, 'error', [BUSY_LINE], { kind: 'auth', next: 'username' })];
      },
      undefined,
      { answersLogin: true },
    );
    scope.closers.push(() => server.close());
    const client = await scriptedClient(scope, server.port);
    client.send('yoda');
    client.send('pw');
    await client.stderr.waitFor('trying again in 4 s with the same answers\n', 20_000);
    const sent = performance.now();
    client.child.kill(signal);
    const code = await client.exited;
    // The pause had 4 s to run: the old client exited once it was over (4072-4082 ms after the signal); now at once
    // (tens of ms idle), so 3 s leaves a loaded machine's process exit room and still fails the old one.
    expect(performance.now() - sent).toBeLessThan(3_000);
    expect(code).toBe(status);
    expect(seen).toEqual(['username', 'username', 'username']);
    // The answers sent again are not prompted for (the script's lines are not read for them).
    // No Goodbye after a Ctrl-C either: no one logged in, so no one logged out.
    expect(client.stdout.text).toBe(`${P.user}${`${BUSY_LINE}\n`.repeat(3)}`);
    expect(withoutFirstContact(client.stderr.text).endsWith(`trying again in 4 s with the same answers\n${said}`)).toBe(true);
  });

  // With the two above, side by side: a login refused as the server closes the connection.
  it('"Server busy" and the connection closed (a server over its memory budget): the login not completed, status 7, not an unreachable server (1)', async (test) => {
    const scope = ownScope(test);
    const busy = 'Server busy: over its memory budget, try again later';
    const seen: string[] = [];
    const server = await startFakeServer(
      (req) => {
        seen.push(req.cmd);
        return [simpleReply(req.id, 'error', [busy], { kind: 'auth', next: 'username' })];
      },
      undefined,
      { answersLogin: true, closesAfter: () => true },
    );
    scope.closers.push(() => server.close());
    const client = await scriptedClient(scope, server.port);
    client.send('yoda');
    client.send('pw');
    const code = await client.exited;
    expect(seen).toEqual(['username']);
    expect(client.stdout.text).toBe(`${P.user}${busy}\n`);
    // Before: `Server unreachable: connection lost (closed)`, status 1, after a retry announced on that connection.
    expect(withoutFirstContact(client.stderr.text)).toMatch(
      new RegExp(`^(Login not completed \\(${busy}\\): trying again in 1 s with the same answers\n)?Login not completed: ${busy} \\(the server closed the connection: connection lost \\(closed\\)\\); the commands were not run\n$`),
    );
    expect(code).toBe(7);
  }, 30_000);
});
