/**
 * The real forum-client, its answers piped (a script), against a fake server whose login fails for a
 * fault of its own (its database out of reach or too slow: `fault` in the reply), attack round 18: the
 * client went back to the username prompt and read the script's next line, the password, as a username.
 */
import { simpleReply, type NextStep, type Reply, type Request } from 'forum-protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answered, P, runClient, type TestScope } from '../../server/test/forum-processes.js';
import { busyGiveUpNotice, LOGIN_PAUSE_SCALE_ENV, loginPauses, retryNotice } from '../src/login-pauses.js';
import { ownScopeWithCwd } from './client-processes.js';
import { startFakeServer } from './fake-forum-server.js';

/**
 * The clients spawned here wait their login pauses a hundredth as long (10 ms, not 1 s; 0.15 s, not 15 s, for
 * a server busy for good): what is tested is what is sent again, and when the client gives up, not the clock.
 * login-pauses.test.ts checks the schedule and its notices at their real values.
 */
const PAUSE_SCALE = 0.01;
const FAULT_PAUSES = loginPauses('fault', PAUSE_SCALE);
const BUSY_PAUSES = loginPauses('busy', PAUSE_SCALE);
const scaleBefore = process.env[LOGIN_PAUSE_SCALE_ENV];
beforeAll(() => {
  process.env[LOGIN_PAUSE_SCALE_ENV] = String(PAUSE_SCALE);
});
afterAll(() => {
  if (scaleBefore === undefined) delete process.env[LOGIN_PAUSE_SCALE_ENV];
  else process.env[LOGIN_PAUSE_SCALE_ENV] = scaleBefore;
});

/** The server's refusal when it has no room (client-connection.ts refuseConnection, memory budget reached). */
const BUSY_LINE = 'Server busy: memory budget reached (200 MiB of 100 MiB in use), try again later';

const FAULT_LINE = "The server's database did not answer in time, so the login was cancelled: please try again";

/** A login step refused for a fault of the server, as forum-protocol's login answers it. */
const fault = (req: Request, next: NextStep = 'username'): Reply => simpleReply(req.id, 'error', [FAULT_LINE], { kind: 'auth', next, fault: true });

/** What the fakes answer by default: a login that works for yoda with the password pw, XIT, and any command. */
const yodaAnswer = (req: Request): Reply => {
  if (req.cmd === 'username') return simpleReply(req.id, 'ok', [], { kind: 'auth', next: 'password' });
  if (req.cmd === 'password') {
    return req.args[0] === 'pw'
      ? simpleReply(req.id, 'ok', ['Welcome to the forum'], { kind: 'auth', next: 'command' })
      : simpleReply(req.id, 'error', ['Invalid password'], { kind: 'auth', next: 'username' });
  }
  if (req.cmd === 'XIT') return simpleReply(req.id, 'ok', ['Goodbye'], { kind: 'goodbye' });
  return simpleReply(req.id, 'ok', ['No threads to list'], { kind: 'none' });
};

/** A fake whose login steps fail while `failing(req, n)` (n: the requests so far) says so; it records every request. */
const loginServer = async (failing: (req: Request, n: number) => boolean, faultNext?: NextStep): Promise<{ readonly server: Awaited<ReturnType<typeof startFakeServer>>; readonly seen: string[] }> => {
  const seen: string[] = [];
  const server = await startFakeServer(
    (req) => {
      seen.push([req.cmd, ...req.args].join(' '));
      if ((req.cmd === 'username' || req.cmd === 'password') && failing(req, seen.length)) return [fault(req, faultNext)];
      return [yodaAnswer(req)];
    },
    undefined,
    { answersLogin: true },
  );
  return { server, seen };
};

// Side by side: each test its own fake, client and clean-up scope.
describe.concurrent('forum-client with piped answers, a login the server could not complete (fault)', () => {
  it('a fault at the username step: the same username is sent again after a pause, and the password answers the password prompt', async (test) => {
    const { closers, cwd } = ownScopeWithCwd(test, 'login-fault');
    const { server, seen } = await loginServer((req, n) => req.cmd === 'username' && n === 1);
    closers.push(() => server.close());
    const run = await runClient(server.port, await cwd(), ['yoda', 'pw', 'LST']);
    // Before: ['username yoda', 'username pw', 'password LST'] — the password sent (and logged) as a username.
    expect(seen).toEqual(['username yoda', 'username yoda', 'password pw', 'LST', 'XIT']);
    expect(run.stdout).toContain(FAULT_LINE);
    expect(run.stdout).toContain('Welcome to the forum');
    expect(run.stderr).toContain(retryNotice('a fault of the server', FAULT_PAUSES[0] ?? 0));
    expect(run.code).toBe(0);
  });

  it('a fault at the password step: the login is made again from the username, with the same password', async (test) => {
    const { closers, cwd } = ownScopeWithCwd(test, 'login-fault');
    const { server, seen } = await loginServer((req, n) => req.cmd === 'password' && n === 2);
    closers.push(() => server.close());
    const run = await runClient(server.port, await cwd(), ['yoda', 'pw', 'LST']);
    // Before: ['username yoda', 'password pw', 'username LST'] — the first command read as a username.
    expect(seen).toEqual(['username yoda', 'password pw', 'username yoda', 'password pw', 'LST', 'XIT']);
    expect(run.code).toBe(0);
  });

  it('a fault that lasts: after the retries the client exits with status 6, no line of the script read as another answer', async (test) => {
    const { closers, cwd } = ownScopeWithCwd(test, 'login-fault');
    const { server, seen } = await loginServer(() => true);
    closers.push(() => server.close());
    const run = await runClient(server.port, await cwd(), ['yoda', 'pw', 'LST']);
    // Before: ['username yoda', 'username pw', 'username LST'] and exit 0 at the end of input.
    expect(seen).toEqual(['username yoda', 'username yoda', 'username yoda']);
    expect(run.stderr).toContain('Login not completed: the server could not complete it 3 times; the commands were not run');
    expect(run.code).toBe(6);
  });

  it('a refusal that is no fault (Invalid password) is answered by the next line, as before: the script plans for it', async (test) => {
    const { closers, cwd } = ownScopeWithCwd(test, 'login-fault');
    const { server, seen } = await loginServer(() => false);
    closers.push(() => server.close());
    const run = await runClient(server.port, await cwd(), ['yoda', 'wrong', 'yoda', 'pw']);
    expect(seen).toEqual(['username yoda', 'password wrong', 'username yoda', 'password pw', 'XIT']);
    expect(run.code).toBe(0);
  });

  it('a fault whose next step is not the username (a hostile or faulty server): no answer is sent again at another prompt', async (test) => {
    const { closers, cwd } = ownScopeWithCwd(test, 'login-fault');
    // The password step "fails" and says the next line is a command: the script's answers replayed there
    // sent its username and password as commands (the password as a command line, to be logged as one).
    const { server, seen } = await loginServer((req) => req.cmd === 'password', 'command');
    closers.push(() => server.close());
    const run = await runClient(server.port, await cwd(), ['yoda', 'RDT pw', 'LST']);
    expect(seen).toEqual(['username yoda', 'password RDT pw', 'LST', 'XIT']);
    expect(run.stderr).not.toContain('trying again');
    expect(run.code).toBe(0);
  });

  it('a fault at the username step that asks for the password next: the password prompt gets the password, not the username again', async (test) => {
    const { closers, cwd } = ownScopeWithCwd(test, 'login-fault');
    const { server, seen } = await loginServer((req, n) => req.cmd === 'username' && n === 1, 'password');
    closers.push(() => server.close());
    const run = await runClient(server.port, await cwd(), ['yoda', 'pw', 'LST']);
    expect(seen).toEqual(['username yoda', 'password pw', 'LST', 'XIT']);
    expect(run.code).toBe(0);
  });

  it('a fault at the password step, then a refusal that is no fault as the username is sent again: the password is not sent as a username', async (test) => {
    const { closers, cwd } = ownScopeWithCwd(test, 'login-fault');
    const seen: string[] = [];
    const server = await startFakeServer(
      (req) => {
        seen.push([req.cmd, ...req.args].join(' '));
        if (seen.length === 2) return [fault(req)];
        // The username sent again is refused for a reason of its own (throttled, logged in elsewhere): next, the username.
        if (seen.length === 3) return [simpleReply(req.id, 'error', ['Too many logins, try later'], { kind: 'auth', next: 'username' })];
        if (req.cmd === 'username') return [simpleReply(req.id, 'ok', [], { kind: 'auth', next: 'password' })];
        if (req.cmd === 'XIT') return [simpleReply(req.id, 'ok', ['Goodbye'], { kind: 'goodbye' })];
        return [simpleReply(req.id, 'error', ['Invalid password'], { kind: 'auth', next: 'username' })];
      },
      undefined,
      { answersLogin: true },
    );
    closers.push(() => server.close());
    const run = await runClient(server.port, await cwd(), ['yoda', 'pw', 'LST']);
    // Before: 'username pw' — the replay's password, left over, answered the username prompt (sent, and logged, as a
    // username); then 'username LST', the script's next line, as the username refused asks for the username again.
    expect(seen).toEqual(['username yoda', 'password pw', 'username yoda']);
    expect(run.stdout).toContain('Too many logins, try later');
    expect(run.code).toBe(7);
  });
});

describe.concurrent('forum-client with piped answers, a login refused', () => {
  /** A fake whose answer to the n-th request (from 1) `special` may give; otherwise a login that works for yoda/pw. */
  const fake = async (closers: TestScope['closers'], special: (req: Request, n: number) => Reply | undefined): Promise<{ readonly port: number; readonly seen: string[] }> => {
    const seen: string[] = [];
    const server = await startFakeServer(
      (req) => {
        seen.push([req.cmd, ...req.args].join(' '));
        return [special(req, seen.length) ?? yodaAnswer(req)];
      },
      undefined,
      { answersLogin: true },
    );
    closers.push(() => server.close());
    return { port: server.port, seen };
  };

  it('a username refused: its next line, the password, is not sent as a username; status 7, no command run', async (test) => {
    const { closers, cwd } = ownScopeWithCwd(test, 'login-fault');
    const refusal = "Invalid username: must not contain ':'";
    const { port, seen } = await fake(closers, (req) => (req.cmd === 'username' ? simpleReply(req.id, 'error', [refusal], { kind: 'auth', next: 'username' }) : undefined));
    const run = await runClient(port, await cwd(), ['yo:da', 'secret', 'LST']);
    // Before: ['username yo:da', 'username secret', 'username LST'] — the password sent, and logged, as a username.
    expect(seen).toEqual(['username yo:da']);
    expect(run.stdout).toBe(`Enter username: ${refusal}\n`);
    expect(run.stderr).toContain(`Login refused (${refusal}): the rest of the input is not read (its next line was not written for this prompt); the commands were not run\n`);
    expect(run.code).toBe(7);
  });

  it('a refused password followed by a command: the command is not sent as a username; status 7', async (test) => {
    const { closers, cwd } = ownScopeWithCwd(test, 'login-fault');
    const { port, seen } = await fake(closers, () => undefined);
    const run = await runClient(port, await cwd(), ['yoda', 'wrong', 'LST', 'XIT']);
    // Before: ['username yoda', 'password wrong', 'username LST', 'password XIT'] — an account LST made, XIT its password.
    expect(seen).toEqual(['username yoda', 'password wrong']);
    expect(run.stderr).toContain('Login refused (Invalid password): the script went on with the command LST, not taken for a username; the commands were not run\n');
    expect(run.code).toBe(7);
  });

  it('a refused password, another line taken for a new username, then a command: the command is not made its password; status 7', async (test) => {
    const { closers, cwd } = ownScopeWithCwd(test, 'login-fault');
    // `secret` is a new account here: the server asks for its password.
    const { port, seen } = await fake(closers, (req) => (req.cmd === 'username' && req.args[0] === 'secret' ? simpleReply(req.id, 'ok', [], { kind: 'auth', next: 'newPassword' }) : undefined));
    const run = await runClient(port, await cwd(), ['yoda', 'wrong', 'secret', 'LST', 'CRT news']);
    // Before: [..., 'username secret', 'newPassword LST', 'CRT news']: an account secret made with the password LST, CRT run as it.
    expect(seen).toEqual(['username yoda', 'password wrong', 'username secret']);
    expect(run.stderr).toContain("Login refused (Invalid password): the script went on with the command LST, not taken for a new account's password; the commands were not run\n");
    expect(run.code).toBe(7);
  });

  it("a refused password, another line taken for an existing account's username, then a command: the command is not sent as its password; status 7", async (test) => {
    const { closers, cwd } = ownScopeWithCwd(test, 'login-fault');
    // `secret` is an existing account here (the fake asks every username for its password).
    const { port, seen } = await fake(closers, () => undefined);
    const run = await runClient(port, await cwd(), ['yoda', 'wrong', 'secret', 'LST', 'CRT news']);
    // Before: [..., 'username secret', 'password LST'] and a second refusal: a wrong password charged to the account secret.
    expect(seen).toEqual(['username yoda', 'password wrong', 'username secret']);
    expect(run.stderr).toContain("Login refused (Invalid password): the script went on with the command LST, not taken for secret's password; the commands were not run\n");
    expect(run.code).toBe(7);
  });

  it('a refused password, then the same account with its right password: logged in, the commands run', async (test) => {
    const { closers, cwd } = ownScopeWithCwd(test, 'login-fault');
    const { port, seen } = await fake(closers, () => undefined);
    const run = await runClient(port, await cwd(), ['yoda', 'wrong', 'yoda', 'pw', 'LST', 'XIT']);
    expect(seen).toEqual(['username yoda', 'password wrong', 'username yoda', 'password pw', 'LST', 'XIT']);
    expect(run.code).toBe(0);
  });

  it('"Server busy" at the username: the same username again after a pause, then the password at its prompt', async (test) => {
    const { closers, cwd } = ownScopeWithCwd(test, 'login-fault');
    const { port, seen } = await fake(closers, (req, n) => (n === 1 ? simpleReply(req.id, 'error', [BUSY_LINE], { kind: 'auth', next: 'username' }) : undefined));
    const run = await runClient(port, await cwd(), ['yoda', 'pw', 'LST']);
    // Before: ['username yoda', 'username pw', 'password LST'].
    expect(seen).toEqual(['username yoda', 'username yoda', 'password pw', 'LST', 'XIT']);
    expect(run.stderr).toContain(`${retryNotice(BUSY_LINE, BUSY_PAUSES[0] ?? 0)}\n`);
    expect(run.code).toBe(0);
  });

  it.for([
    ['username', 1, ['yoda', 'obi', 'pw', 'LST'], ['username yoda', 'username obi', 'password pw', 'LST', 'XIT'], ''],
    ['password', 2, ['yoda', 'pw', 'obi', 'pw', 'LST'], ['username yoda', 'password pw', 'username obi', 'password pw', 'LST', 'XIT'], P.pass],
  ] as const)('"already logged in" answering the %s: the script\'s next line answers the username prompt (the spec\'s flow), nothing tried again', async ([, at, lines, sent, passPrompt], test) => {
    const { closers, cwd } = ownScopeWithCwd(test, 'login-fault');
    const { port, seen } = await fake(closers, (req, n) => (n === at ? simpleReply(req.id, 'error', ['yoda has already logged in'], { kind: 'auth', next: 'username' }) : undefined));
    const run = await runClient(port, await cwd(), [...lines]);
    // Between 26dc58b and the spec's flow restored: yoda's answers sent again after 1 s, obi read as its password.
    expect(seen).toEqual(sent);
    expect(run.stdout).toBe(`${P.user}${passPrompt}yoda has already logged in\n${P.user}${P.pass}Welcome to the forum\n` + answered(['No threads to list']) + P.cmd + '\nGoodbye\n');
    expect(run.stderr).not.toContain('trying again');
    expect(run.code).toBe(0);
  });

  it('"already logged in" followed by a command: the command is not sent as a username; status 7', async (test) => {
    const { closers, cwd } = ownScopeWithCwd(test, 'login-fault');
    const { port, seen } = await fake(closers, (req, n) => (n === 1 ? simpleReply(req.id, 'error', ['yoda has already logged in'], { kind: 'auth', next: 'username' }) : undefined));
    const run = await runClient(port, await cwd(), ['yoda', 'LST', 'XIT']);
    expect(seen).toEqual(['username yoda']);
    expect(run.stderr).toContain('Login refused (yoda has already logged in): the script went on with the command LST, not taken for a username; the commands were not run\n');
    expect(run.code).toBe(7);
  });

  it('"Server busy" answering the password (not a login step answer): the password again at its prompt', async (test) => {
    const { closers, cwd } = ownScopeWithCwd(test, 'login-fault');
    const busy = 'Server busy: too many replies waiting to be acknowledged, try again later';
    const { port, seen } = await fake(closers, (req, n) => (n === 2 ? simpleReply(req.id, 'error', [busy]) : undefined));
    const run = await runClient(port, await cwd(), ['yoda', 'pw', 'LST']);
    // Before: ['username yoda', 'password pw', 'password LST'] — the first command sent as the password.
    expect(seen).toEqual(['username yoda', 'password pw', 'password pw', 'LST', 'XIT']);
    expect(run.stderr).toContain(`${retryNotice(busy, BUSY_PAUSES[0] ?? 0)}\n`);
    expect(run.code).toBe(0);
  });

  it('a server busy for good: tried 5 times over its 4 pauses (15 s, here scaled), then status 7, no line read as another answer', async (test) => {
    const { closers, cwd } = ownScopeWithCwd(test, 'login-fault');
    const { port, seen } = await fake(closers, (req) => (req.cmd === 'username' ? simpleReply(req.id, 'error', [BUSY_LINE], { kind: 'auth', next: 'username' }) : undefined));
    const started = performance.now();
    const run = await runClient(port, await cwd(), ['yoda', 'pw', 'LST']);
    expect(seen).toEqual(Array<string>(5).fill('username yoda'));
    expect(performance.now() - started).toBeGreaterThanOrEqual(BUSY_PAUSES.reduce((a, b) => a + b, 0));
    // Each pause said, in order: the schedule is the one login-pauses.test.ts checks at its real values.
    expect(run.stderr.match(/trying again in [0-9.]+ s/g)).toEqual(BUSY_PAUSES.map((ms) => `trying again in ${ms / 1000} s`));
    expect(run.stderr).toContain(`${busyGiveUpNotice(BUSY_LINE, BUSY_PAUSES)}\n`);
    expect(run.code).toBe(7);
  });
});
