/**
 * The real forum-client (piped, as a script runs it) against a fake server that is hostile or
 * broken (attack round 11, attack/README-11.md): what it prints, how it exits, what it leaves.
 * The tests run side by side, each with its own fake, client and clean-up, but for the two long answers.
 * They keep the configuration's 60 s: their time is CPU (alone at load 18 on 2 cores, a client took 11 s from
 * its start to its first request, and the Ctrl-C case 20 s in all), so a bound of 15-20 s timed out runs that
 * were not stuck. A client that never exits is caught by the bound counted from the signal (8 s; 1.1 s there).
 */
import { shutdownNotice, simpleReply, type Request } from 'forum-protocol';
import { describe, expect, it } from 'vitest';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { answered, P, runClient, spawnClient, tempDir, type TestScope } from '../../server/test/forum-processes.js';
import { ownScopeWithCwd } from './client-processes.js';
import { grantReply, loginReply, startFakeServer, type FakeAnswer, type FakeServerOptions } from './fake-forum-server.js';

// The two 2.9 MB answers, one at a time and before the tests side by side. The fakes of a file's tests all run in
// this one process: beside four others, one of these took 60 s at load 16 on 2 cores (alone, 3 s), and the
// tests beside it their 15-20 s. Side by side they save nothing once the CPU is the limit.
describe('forum-client reading a long answer from a hostile server through a pipe (real client process, fake server)', () => {
  // The fake builds and encodes each 2.9 MB answer in this process before its first byte leaves: at load 27 on 2 cores
  // the client's reply wait at the default --timeout 5 (8 s) ran out first ('Server unreachable: no reply within 8
  // seconds'). What the client prints of an answer does not depend on its wait.
  const LONG_WAIT = ['--timeout', '30'];
  it('a long answer read through a pipe arrives whole, and the Goodbye after it', async (test) => {
    const { closers, cwd } = ownScopeWithCwd(test, 'hostile-server');
    // 200,000 lines (2.9 MB): far more than a pipe holds. process.exit dropped what was still queued:
    // 4,412 lines reached the reader, and no Goodbye. (With 20,000 the reader kept up: the old client passed.)
    const LINES = 200_000;
    const server = await startFakeServer((req) => [simpleReply(req.id, 'ok', Array.from({ length: LINES }, (_, i) => `${i + 1} mallory: m`), { kind: 'threadLines', title: 't', count: LINES })]);
    closers.push(() => server.close());
    const run = await runClient(server.port, await cwd(), ['yoda', 'pw', 'RDT t'], LONG_WAIT);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.split('\n').filter((l) => / mallory: m$/.test(l))).toHaveLength(LINES);
    expect(run.stdout).toMatch(/Goodbye\n$/);
  });

  it('so does one followed by the shutdown notice (the exit of a fatal event)', async (test) => {
    const { closers, cwd } = ownScopeWithCwd(test, 'hostile-server');
    const LINES = 200_000;
    // The notice answers the next command: sent with the long answer, it would overtake it (rudp delivers whole messages as they complete).
    const server = await startFakeServer((req) =>
      req.cmd === 'RDT' ? [simpleReply(req.id, 'ok', Array.from({ length: LINES }, (_, i) => `${i + 1} mallory: m`), { kind: 'threadLines', title: 't', count: LINES })] : [shutdownNotice()],
    );
    closers.push(() => server.close());
    const run = await runClient(server.port, await cwd(), ['yoda', 'pw', 'RDT t', 'LST'], LONG_WAIT);
    expect(run.code, run.stderr).toBe(4);
    expect(run.stdout.split('\n').filter((l) => / mallory: m$/.test(l))).toHaveLength(LINES);
    expect(run.stdout).toMatch(/The server is shutting down\n$/);
  });
});

describe.concurrent('forum-client against a hostile or broken server (real client process, fake server)', () => {
  it('a reader that stops reading holds the client back: the next command waits for its output to be taken', async (test) => {
    const { closers, cwd } = ownScopeWithCwd(test, 'hostile-server');
    // Writes to a pipe do not block in Node: the client sent command after command and queued every answer
    // (attack/slow-reader.ts: 1,418 MiB resident after 20 answers of 650,000 lines, and on without end).
    // Each answer is 0.42 MB, far more than the pipe and the test's paused reader hold (64 KiB each).
    const LINES = 60_000;
    // Two: the second is what the old client asked while the first answer's output waited.
    const ASKED = 2;
    let asked = 0;
    // The commands asked once the client had every chance to ask the next and did not: an answer acknowledged,
    // then a message after it acknowledged, and no command in between (no wait for something not to happen).
    let settle: (asked: number) => void = () => undefined;
    const settled = new Promise<number>((resolve) => (settle = resolve));
    const server = await startFakeServer(
      (req) => {
        asked++;
        return [simpleReply(req.id, 'ok', Array.from({ length: LINES }, (_, i) => String(i).padStart(6, '0')), { kind: 'none' })];
      },
      undefined,
      {
        onAnswered: (req, acknowledged) => {
          if (req.cmd !== 'LST') return;
          void acknowledged.then(async () => {
            const before = asked;
            // A reply to no request of the client's, which it drops unread. The client reads it on an event-loop turn
            // after the one that took the answer, and the old client had sent its next command by the end of that
            // turn (its reply handling, the next line and the send are promise callbacks; rudpx sends at the end of
            // the tick): that command's datagram reached the fake before the acknowledgement of this one.
            await server.send(simpleReply('probe', 'ok', [], { kind: 'none' })).catch(() => undefined);
            if (asked === before) settle(asked);
          });
        },
      },
    );
    closers.push(() => server.close());
    const client = spawnClient(server.port, await cwd());
    client.child.stdout?.pause();
    client.child.stdin?.end(['yoda', 'pw', ...Array.from({ length: ASKED }, () => 'LST')].map((l) => `${l}\n`).join(''));
    // The old client asked every command with nothing read (settled at ASKED, each run).
    expect(await settled).toBe(1);
    client.child.stdout?.resume();
    expect(await client.exited).toBe(0);
    expect(asked).toBe(ASKED);
    // Each answer's first line follows the prompt on its line.
    expect(client.stdout.text.split('\n').filter((l) => /(^|: )[0-9]{6}$/.test(l))).toHaveLength(ASKED * LINES);
  });

  it('a download body trickled below --stall-bytes in --stall-seconds fails, nothing kept, and the next command runs', async (test) => {
    const { closers, cwd } = ownScopeWithCwd(test, 'hostile-server');
    // Attack round 8 (attack/hostile-trickle.ts dwn-body): a byte every 10 s held a piped client for good.
    // Scaled down: a byte every 100 ms against 64 bytes in 0.5 s.
    const server = await startFakeServer(
      (req, tcpPort) => [req.cmd === 'DWN' ? grantReply(req, tcpPort) : simpleReply(req.id, 'ok', ['The list of active threads:', 't'], { kind: 'none' })],
      (channel) => {
        channel.write('OK 100\n');
        const timer = setInterval(() => (channel.destroyed ? clearInterval(timer) : channel.write('x')), 100);
      },
    );
    closers.push(() => server.close());
    const dir = await cwd();
    const client = spawnClient(server.port, dir, ['--stall-bytes', '64', '--stall-seconds', '0.5']);
    client.child.stdin?.end(['yoda', 'pw', 'DWN t f.bin', 'LST', ''].join('\n'));
    expect(await client.exited).toBe(0);
    expect(client.stdout.text).toBe(P.user + P.pass + 'Welcome to the forum\n' + answered(['Download of f.bin failed: under 64 bytes in the last 0.5 s'], ['The list of active threads:', 't']) + P.cmd + '\nGoodbye\n');
    expect(await readdir(dir)).toEqual([]);
  });

  it('an upload the server stops reading fails at --stall-bytes in --stall-seconds, and the next command runs', async (test) => {
    const { closers, cwd } = ownScopeWithCwd(test, 'hostile-server');
    // 64 MiB do not fit in the socket buffers: the client's sends wait on TCP's flow control. With the default
    // floor (1024 bytes in 60 s) this run would take a minute; the options given make it half a second.
    const server = await startFakeServer(
      (req, tcpPort) => [req.cmd === 'UPD' ? grantReply(req, tcpPort) : simpleReply(req.id, 'ok', ['The list of active threads:', 't'], { kind: 'none' })],
      // Takes the token line, then reads nothing more.
      (channel) => void channel.pause(),
    );
    closers.push(() => server.close());
    const dir = await cwd();
    const file = await open(join(dir, 'big.bin'), 'w');
    await file.truncate(64 * 1024 * 1024);
    await file.close();
    const client = spawnClient(server.port, dir, ['--stall-bytes', '64', '--stall-seconds', '0.5']);
    client.child.stdin?.end(['yoda', 'pw', 'UPD t big.bin', 'LST', ''].join('\n'));
    expect(await client.exited).toBe(0);
    expect(client.stdout.text).toBe(P.user + P.pass + 'Welcome to the forum\n' + answered(['Upload of big.bin failed: under 64 bytes in the last 0.5 s'], ['The list of active threads:', 't']) + P.cmd + '\nGoodbye\n');
  });

  it('SIGTERM while a DWN waits for its grant: the transfer granted after it is not started (143, nothing fetched)', async (test) => {
    const { closers, cwd } = ownScopeWithCwd(test, 'hostile-server');
    let asked!: () => void;
    const dwnAsked = new Promise<void>((resolve) => (asked = resolve));
    let signalled!: () => void;
    const terminated = new Promise<void>((resolve) => (signalled = resolve));
    let transfers = 0;
    const server = await startFakeServer(
      async (req, tcpPort) => {
        if (req.cmd !== 'DWN') return [simpleReply(req.id, 'ok', ['The list of active threads:', 't'], { kind: 'none' })];
        asked();
        // The grant goes once the client has been sent SIGTERM.
        await terminated;
        return [grantReply(req, tcpPort)];
      },
      (channel) => {
        transfers++;
        channel.end('OK 5\nhello');
      },
    );
    closers.push(() => server.close());
    const dir = await cwd();
    const client = spawnClient(server.port, dir);
    client.child.stdin?.write(['yoda', 'pw', 'DWN t f.bin', 'LST', ''].join('\n'));
    await dwnAsked;
    client.child.kill('SIGTERM');
    signalled();
    // Before: 'done' (the whole file fetched after the signal), f.bin kept.
    expect(await client.exited).toBe(143);
    expect(client.stdout.text).toContain('Download of f.bin cancelled');
    expect(transfers).toBe(0);
    expect(await readdir(dir)).toEqual([]);
  });

  it("Ctrl-C while the server commits an upload it has whole says it may or may not be stored, not 'cancelled' (which keeps nothing)", async (test) => {
    const { closers, cwd } = ownScopeWithCwd(test, 'hostile-server');
    // The server commits what it read whole whatever the client does next (server's transfer-upload-stall.test.ts):
    // `Upload of f.bin cancelled` (nothing kept on either side) was printed for an upload that could land.
    let haveAll!: () => void;
    const whole = new Promise<void>((resolve) => (haveAll = resolve));
    const server = await startFakeServer(
      (req, tcpPort) => [grantReply(req, tcpPort)],
      // Reads the upload to its final record, then holds its answer (a commit under way).
      (channel) => {
        channel.resume();
        channel.once('end', () => haveAll());
      },
    );
    closers.push(() => server.close());
    const dir = await cwd();
    const file = await open(join(dir, 'f.bin'), 'w');
    await file.write('hello');
    await file.close();
    const client = spawnClient(server.port, dir);
    client.child.stdin?.write(['yoda', 'pw', 'UPD t f.bin', ''].join('\n'));
    await whole;
    client.child.kill('SIGINT');
    expect(await client.exited).toBe(130);
    expect(client.stdout.text).toBe(
      P.user + P.pass + 'Welcome to the forum\n' + answered(['Upload of f.bin: cancelled after its last byte was sent; it may or may not have been stored (RDT t shows it if it was)']) + P.cmd + '\nGoodbye\n',
    );
  });

  it('a second Ctrl-C still ends the client at once while its reader reads nothing', async (test) => {
    const { closers, cwd } = ownScopeWithCwd(test, 'hostile-server');
    // The exit waits for output to be taken (above), but not on the interrupt meant to end the client now.
    let asked = 0;
    const server = await startFakeServer((req) => {
      asked++;
      return [simpleReply(req.id, 'ok', Array.from({ length: 60_000 }, (_, i) => String(i).padStart(6, '0')), { kind: 'none' })];
    });
    closers.push(() => server.close());
    const client = spawnClient(server.port, await cwd());
    client.child.stdout?.pause();
    client.send('yoda');
    client.send('pw');
    client.send('LST');
    while (asked === 0) await new Promise((r) => setTimeout(r, 20));
    // Pressed again and again (two signals sent at once are one: a signal does not queue).
    const presses = setInterval(() => client.child.kill('SIGINT'), 100);
    const code = await client.exited;
    clearInterval(presses);
    expect(code).toBe(130);
  });
});

describe.concurrent('forum-client exiting while its reader reads nothing', () => {
  // 0.42 MB: far more than the pipe and the test's paused reader hold (64 KiB each).
  const LINES = Array.from({ length: 60_000 }, (_, i) => String(i).padStart(6, '0'));

  /**
   * A client whose reader reads nothing, fed `input` then end of input, against a fake answering as `answer`
   * does; once it has closed its connection, which it does on its way out, before it waits for its reader.
   */
  const exitingClient = async ({ closers, dirs }: { closers: TestScope['closers']; dirs: TestScope['dirs'] }, input: readonly string[], answer: (req: Request) => FakeAnswer, options: FakeServerOptions = {}) => {
    const server = await startFakeServer(answer, undefined, options);
    closers.push(() => server.close());
    const dir = await tempDir('stuck-reader');
    dirs.push(dir);
    const client = spawnClient(server.port, dir);
    client.child.stdout?.pause();
    client.child.stdin?.end(input.map((l) => `${l}\n`).join(''));
    await server.sessionClosed;
    return client;
  };
  /**
   * `signal` sent again and again until the client exits (a signal does not queue); its exit status, or
   * `'still running'` 8 s on (the old client ignored every Ctrl-C and SIGHUP there, for ever: it is then killed here).
   */
  const signalUntilExit = async (client: ReturnType<typeof spawnClient>, signal: 'SIGINT' | 'SIGHUP'): Promise<number | string> => {
    const sends = setInterval(() => client.child.kill(signal), 100);
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([client.exited, new Promise<string>((resolve) => (timer = setTimeout(resolve, 8_000, 'still running')))]);
    clearInterval(sends);
    clearTimeout(timer);
    if (code === 'still running') client.child.kill('SIGKILL');
    return code;
  };

  // An XIT answer larger than the pipe: the old client, exiting, took no interrupt and no hangup and waited for ever.
  it.for([
    ['Ctrl-C', 'SIGINT', 130],
    ['SIGHUP', 'SIGHUP', 129],
  ] as const)('%s ends a client whose exit at the end of input waits for its reader', async ([, signal, status], test) => {
    const client = await exitingClient(
      ownScopeWithCwd(test, 'hostile-server'),
      ['yoda', 'pw'],
      (req) => [req.cmd === 'XIT' ? simpleReply(req.id, 'ok', [...LINES, 'Goodbye'], { kind: 'goodbye' }) : (loginReply(req) ?? simpleReply(req.id, 'ok', [], { kind: 'none' }))],
      { answersLogin: true },
    );
    expect(await signalUntilExit(client, signal)).toBe(status);
  });

  it('and one whose exit at a fatal event (the server shutting down) waits for its reader', async (test) => {
    const client = await exitingClient(ownScopeWithCwd(test, 'hostile-server'), ['yoda', 'pw', 'LST'], (req) => [simpleReply(req.id, 'ok', LINES, { kind: 'none' }), shutdownNotice()]);
    expect(await signalUntilExit(client, 'SIGINT')).toBe(130);
  });

  it('SIGHUP while the next command waits for the reader: the connection closed, the rest not run, 129', async (test) => {
    const { closers, dirs } = ownScopeWithCwd(test, 'hostile-server');
    // A script still being written (its input not ended); the first answer fills the pipe nobody reads.
    let asked = 0;
    const server = await startFakeServer((req) => {
      asked++;
      return [simpleReply(req.id, 'ok', LINES, { kind: 'none' })];
    });
    closers.push(() => server.close());
    const dir = await tempDir('stuck-reader-hup');
    dirs.push(dir);
    const client = spawnClient(server.port, dir);
    client.child.stdout?.pause();
    client.child.stdin?.write(['yoda', 'pw', 'LST', 'LST'].map((l) => `${l}\n`).join(''));
    while (asked === 0) await new Promise((r) => setTimeout(r, 20));
    expect(await signalUntilExit(client, 'SIGHUP')).toBe(129);
    await server.sessionClosed;
    expect(asked).toBe(1);
    expect(client.stderr.text).toContain('the commands after this point were not run');
  });

  it('one SIGTERM while the next command waits for the reader: the connection closed, the client gone, 143', async (test) => {
    const { closers, dirs } = ownScopeWithCwd(test, 'hostile-server');
    let asked = 0;
    const server = await startFakeServer((req) => {
      asked++;
      return [simpleReply(req.id, 'ok', LINES, { kind: 'none' })];
    });
    closers.push(() => server.close());
    const dir = await tempDir('stuck-reader-term');
    dirs.push(dir);
    const client = spawnClient(server.port, dir);
    client.child.stdout?.pause();
    client.child.stdin?.write(['yoda', 'pw', 'LST', 'LST'].map((l) => `${l}\n`).join(''));
    while (asked === 0) await new Promise((r) => setTimeout(r, 20));
    // One signal, as `timeout` or a service manager sends (a second one exits at once by design). Before, the
    // exit then waited for the reader to take the output, for ever: 'still running'.
    client.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([client.exited, new Promise<string>((resolve) => (timer = setTimeout(resolve, 8_000, 'still running')))]);
    clearTimeout(timer);
    if (code === 'still running') client.child.kill('SIGKILL');
    expect(code).toBe(143);
    await server.sessionClosed;
    expect(asked).toBe(1);
    expect(client.stderr.text).toContain('Terminated (SIGTERM) while the output was not being read');
  });
});
