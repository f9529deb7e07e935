import { describe, expect, it } from 'vitest';
import { answered, P, runClient, spawnClient, cleanupAfterEach } from './forum-processes.js';
import { rawClient, rawLogin } from './raw-client.js';

describe('sessions: many clients, idle timeout, Ctrl-C (real processes)', () => {
  const { stops, startInTemp: start } = cleanupAfterEach();

  it('two clients at once: one posts while the other reads, one account at a time, creator-only RMV', async () => {
    const { server, cwd } = await start();
    const a = spawnClient(server.port, cwd);
    const b = spawnClient(server.port, cwd);
    stops.push(() => a.child.kill('SIGKILL'), () => b.child.kill('SIGKILL'));
    a.send('yoda');
    a.send('pw1');
    await a.stdout.waitFor('Welcome to the forum\n');
    // Same account while the first session is live.
    b.send('yoda');
    await b.stdout.waitFor('yoda has already logged in\n');
    b.send('obi');
    b.send('pw2');
    await b.stdout.waitFor('Welcome to the forum\n');
    a.send('CRT talk');
    await a.stdout.waitFor('Thread talk created\n');
    a.send('MSG talk first');
    await a.stdout.waitFor('Message posted to talk thread\n');
    b.send('RDT talk');
    await b.stdout.waitFor('1 yoda: first\n');
    b.send('MSG talk reply');
    await b.stdout.waitFor('Message posted to talk thread\n');
    b.send('RMV talk');
    await b.stdout.waitFor('The thread was created by another user and cannot be removed\n');
    a.send('RDT talk');
    await a.stdout.waitFor('2 obi: reply\n');
    a.send('RMV talk');
    await a.stdout.waitFor('Thread talk removed\n');
    b.send('RDT talk');
    await b.stdout.waitFor('Thread talk does not exist\n');
    a.send('XIT');
    expect(await a.exited).toBe(0);
    b.end();
    expect(await b.exited).toBe(0);
    expect(b.stdout.text).toBe(
      P.user + 'yoda has already logged in\n' + P.user + P.newPass + 'Welcome to the forum\n' +
        answered(['1 yoda: first'], ['Message posted to talk thread'], ['The thread was created by another user and cannot be removed'], ['Thread talk does not exist']) +
        P.cmd + '\nGoodbye\n',
    );
    // The account is free again after XIT.
    const again = await runClient(server.port, cwd, ['yoda', 'pw1', 'XIT']);
    expect(again.stdout).toBe(P.user + P.pass + 'Welcome to the forum\n' + answered(['Goodbye']));
  });

  it('idle timeout: the client is told at once, exits non-zero, and the login is free again', async () => {
    const { server, cwd } = await start(['--idle-timeout', '1']);
    const c = spawnClient(server.port, cwd);
    stops.push(() => c.child.kill('SIGKILL'));
    c.send('yoda');
    c.send('pw1');
    const started = Date.now();
    expect(await c.exited).toBe(3);
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(c.stdout.text).toBe(P.user + P.newPass + 'Welcome to the forum\n' + P.cmd + '\nSession timed out after 1 second of inactivity\n');
    // Waited for, not read once: the log line and the notice reach this process by separate ways (e2e-transfer-port's race).
    await server.stdout.waitFor('\nyoda timed out\n');
    const again = await runClient(server.port, cwd, ['yoda', 'pw1', 'LST', 'XIT']);
    expect(again.stdout).toBe(P.user + P.pass + 'Welcome to the forum\n' + answered(['No threads to list'], ['Goodbye']));
  });

  it('Ctrl-C (SIGINT) with commands from a pipe logs out (Goodbye, the server told) and ends the script: status 130', async () => {
    const { server, cwd } = await start();
    const c = spawnClient(server.port, cwd);
    stops.push(() => c.child.kill('SIGKILL'));
    c.send('yoda');
    c.send('pw1');
    await c.stdout.waitFor(P.cmd);
    c.child.kill('SIGINT');
    // A script cut short is told from one that ran to its end (130, as a shell's); a terminal's Ctrl-C at a prompt exits 0 (e2e-client-ux).
    expect(await c.exited).toBe(130);
    expect(c.stdout.text).toBe(P.user + P.newPass + 'Welcome to the forum\n' + P.cmd + '\nGoodbye\n');
    expect(c.stderr.text).toContain('Interrupted (SIGINT): the commands after this point were not run');
    expect(server.lines().slice(-2)).toEqual(['yoda issued XIT command', 'yoda exited']);
  });

  it('a second live session of one account is refused at the username step (raw rudp)', async () => {
    const { server } = await start();
    const one = await rawClient(server.port);
    const two = await rawClient(server.port);
    stops.push(() => void one.close(), () => void two.close());
    expect((await rawLogin(one, 'yoda', 'pw')).lines).toEqual(['Welcome to the forum']);
    expect((await rawLogin(two, 'yoda', 'pw')).lines).toEqual(['yoda has already logged in']);
  });
});
