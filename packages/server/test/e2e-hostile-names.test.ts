/**
 * Hostile thread titles and file names against the built binaries: the
 * client refuses what a user types, the server refuses what a raw peer
 * sends, and afterwards nothing exists outside the data directory and the
 * data directory holds exactly the expected files.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { answered, cleanup, P, runClient, startServer, tempDir, walkTree, type ServerProc } from './forum-processes.js';
import { rawClient, rawLogin } from './raw-client.js';

/** Names a user can type (no whitespace inside) and the reason the refusal gives. */
const TYPABLE: readonly (readonly [string, string])[] = [
  ['a/b', "must not contain '/'"],
  ['/etc/passwd', "must not contain '/'"],
  ['../outside.txt', "must not contain '/'"],
  ['..', "must not contain '..'"],
  ['a..b', "must not contain '..'"],
  ['.', "must not start with '.'"],
  ['a\\b', "must not contain '\\'"],
  ['..\\..\\x', "must not contain '\\'"],
  ['x\u0000y', 'must not contain a NUL byte'],
  ['a\u0001b', 'must not contain control characters'],
  ['a\u001b[2Jb', 'must not contain control characters'],
  ['a\u007fb', 'must not contain control characters'],
  ['a\u0085b', 'must not contain control characters'],
  ['x'.repeat(101), 'must be at most 100 bytes'],
  ['é'.repeat(51), 'must be at most 100 bytes'],
  ['credentials.txt', "must not be 'credentials.txt'"],
  // A case-insensitive file system (macOS, Windows) would open the accounts file for these.
  ['Credentials.TXT', "must not be 'credentials.txt'"],
  ['CON', 'must not be a reserved device name'],
  ['nul', 'must not be a reserved device name'],
  ['COM1', 'must not be a reserved device name'],
  ['LPT9', 'must not be a reserved device name'],
  ['aux.log', 'must not be a reserved device name'],
  ['Con.txt', 'must not be a reserved device name'],
  ['.hidden', "must not start with '.'"],
  // The store's own temporary-file prefix.
  ['.forum-tmp-0123456789abcdef', "must not start with '.'"],
  ['trailing.', "must not end with '.'"],
];

/** Names only a raw peer can send (a typed line splits them into words). */
const RAW_ONLY: readonly (readonly [string, string])[] = [
  ['', 'must not be empty'],
  ['a b', 'must not contain spaces'],
  [' lead', 'must not contain spaces'],
  ['a\tb', 'must not contain control characters'],
  ['a\nb', 'must not contain control characters'],
  ['a\rb', 'must not contain control characters'],
  ['a\u00a0b', 'must not contain spaces'],
  ['a\u2028b', 'must not contain line or paragraph separators (U+2028)'],
];

/** Every command that takes a title or a file name, with `n` in that place. */
const usesOf = (n: string): readonly { readonly line: string; readonly cmd: 'CRT' | 'MSG' | 'RDT' | 'DLT' | 'EDT' | 'RMV' | 'UPD' | 'DWN'; readonly args: readonly string[]; readonly kind: 'thread title' | 'file name' }[] => [
  { line: `CRT ${n}`, cmd: 'CRT', args: [n], kind: 'thread title' },
  { line: `MSG ${n} hi`, cmd: 'MSG', args: [n, 'hi'], kind: 'thread title' },
  { line: `RDT ${n}`, cmd: 'RDT', args: [n], kind: 'thread title' },
  { line: `DLT ${n} 1`, cmd: 'DLT', args: [n, '1'], kind: 'thread title' },
  { line: `EDT ${n} 1 x`, cmd: 'EDT', args: [n, '1', 'x'], kind: 'thread title' },
  { line: `RMV ${n}`, cmd: 'RMV', args: [n], kind: 'thread title' },
  { line: `UPD ${n} ok.txt`, cmd: 'UPD', args: [n, 'ok.txt'], kind: 'thread title' },
  { line: `DWN ${n} ok.txt`, cmd: 'DWN', args: [n, 'ok.txt'], kind: 'thread title' },
  { line: `UPD t ${n}`, cmd: 'UPD', args: ['t', n], kind: 'file name' },
  { line: `DWN t ${n}`, cmd: 'DWN', args: ['t', n], kind: 'file name' },
];

const OUTSIDE = 'not the forum\'s\n';

describe('hostile names (real processes): refused with a clear line, nothing written outside the data directory', () => {
  const dirs: string[] = [];
  const servers: ServerProc[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop()));
    await cleanup(...dirs.splice(0));
  });

  /**
   * root/{data,cwd,srv} plus root/outside.txt, a file `../outside.txt` from the client's directory names. The server
   * paces requests at the most `--request-rate` takes: the raw test's 340 requests, most of them writes of four turns
   * each, spent 9 s waiting on the default pacing of 100 turns a second (pacing is e2e-protocol.test.ts's subject).
   */
  const layout = async (): Promise<{ root: string; data: string; cwd: string; server: ServerProc }> => {
    const root = await tempDir('hostile');
    dirs.push(root);
    const [data, cwd, srv] = [join(root, 'data'), join(root, 'cwd'), join(root, 'srv')];
    await Promise.all([mkdir(data), mkdir(cwd), mkdir(srv)]);
    await writeFile(join(root, 'outside.txt'), OUTSIDE);
    const server = await startServer(data, ['--request-rate', '1000000'], srv);
    servers.push(server);
    return { root, data, cwd, server };
  };

  it('typed through forum-client: every command refuses each name before sending it; the namespace stays consistent', async () => {
    const { root, data, cwd, server } = await layout();
    // Local files the hostile UPDs would read if the names were used as paths.
    for (const name of ['ok.txt', '.hidden', 'credentials.txt', 'trailing.', 'b-c', 'c']) await writeFile(join(cwd, name), `local ${name}\n`);

    const script = ['yoda', 'pw1', 'CRT t', 'UPD t ok.txt'];
    const replies: string[][] = [['Thread t created'], ['ok.txt uploaded to t thread']];
    for (const [n, why] of TYPABLE) {
      for (const use of usesOf(n)) {
        script.push(use.line);
        replies.push([`Invalid ${use.kind}: ${why}`]);
      }
    }
    // Unusual but valid names are plain files inside the data directory.
    for (const n of ['x'.repeat(100), 'café', 'CONSOLE', '日本']) {
      script.push(`CRT ${n}`);
      replies.push([`Thread ${n} created`]);
    }
    // `TITLE-FILENAME` cannot collide with a thread, whichever comes first.
    script.push('CRT a', 'UPD a b-c', 'CRT a-b-c', 'CRT a-b', 'UPD a-b c', 'XIT');
    // The last UPD is refused by the command itself: no token, so no byte of `c` is sent.
    replies.push(['Thread a created'], ['b-c uploaded to a thread'], ['Thread a-b-c exists'], ['Thread a-b created'], ['File already exists in Thread a-b'], ['Goodbye']);

    const r = await runClient(server.port, cwd, script);
    expect(r.stdout, `forum-client exited ${String(r.code)}; its stderr: ${r.stderr}`).toBe(P.user + P.newPass + 'Welcome to the forum\n' + answered(...replies));
    expect(r.code).toBe(0);
    await server.stdout.waitFor('yoda exited\n');
    // Refused names never reach the server: one issued line per command sent.
    const sent = ['CRT', 'UPD', 'CRT', 'CRT', 'CRT', 'CRT', 'CRT', 'UPD', 'CRT', 'CRT', 'UPD', 'XIT'];
    expect(server.lines().filter((l) => l.startsWith('yoda issued '))).toEqual(sent.map((cmd) => `yoda issued ${cmd} command`));
    // No upload of `c` was begun over TCP, to be refused there.
    expect(server.lines().filter((l) => l.startsWith('Upload of '))).toEqual([]);

    expect(await walkTree(root)).toEqual(
      [
        'cwd/', 'cwd/.hidden', 'cwd/b-c', 'cwd/c', 'cwd/credentials.txt', 'cwd/ok.txt', 'cwd/trailing.',
        'data/', 'data/CONSOLE', 'data/a', 'data/a-b', 'data/a-b-c', 'data/café', 'data/credentials.txt', 'data/t', 'data/t-ok.txt', `data/${'x'.repeat(100)}`, 'data/日本',
        'outside.txt', 'srv/',
      ].sort(),
    );
    expect(await readFile(join(root, 'outside.txt'), 'utf8')).toBe(OUTSIDE);
    expect(await readFile(join(data, 'credentials.txt'), 'utf8')).toBe('yoda pw1\n');
    expect(await readFile(join(data, 't'), 'utf8')).toBe('yoda\nyoda uploaded ok.txt\n');
    expect(await readFile(join(data, 'a'), 'utf8')).toBe('yoda\nyoda uploaded b-c\n');
    expect(await readFile(join(data, 'a-b'), 'utf8')).toBe('yoda\n');
    expect(await readFile(join(data, 'a-b-c'), 'utf8')).toBe('local b-c\n');
  });

  it('sent raw over rudp: the server refuses each name for every command with the same line; over-long arguments are malformed', async () => {
    const { root, data, server } = await layout();
    const c = await rawClient(server.port);
    try {
      expect((await rawLogin(c, 'yoda', 'pw1')).lines).toEqual(['Welcome to the forum']);
      expect((await c.request('t', 'CRT', ['t'])).lines).toEqual(['Thread t created']);
      let id = 0;
      const refused: string[] = [];
      for (const [n, why] of [...TYPABLE, ...RAW_ONLY]) {
        for (const use of usesOf(n)) {
          // The username field names a user that does not exist: it changes nothing.
          const reply = await c.request(`r${id++}`, use.cmd, use.args, 'root');
          expect({ name: n, line: use.line, status: reply.status, lines: reply.lines }).toEqual({
            name: n,
            line: use.line,
            status: 'error',
            lines: [`Invalid ${use.kind}: ${why}`],
          });
          refused.push(use.cmd);
        }
      }
      // Beyond the codec's 4096-byte argument limit the request is not even decoded.
      const huge = await c.request('huge', 'CRT', ['y'.repeat(5000)]);
      expect(huge.lines).toEqual(['Malformed request']);
      expect((await c.request('x', 'XIT', [])).lines).toEqual(['Goodbye']);
      await server.stdout.waitFor('yoda exited\n');
      // Each refused request was logged as issued, by the session's user, and nothing else happened.
      const log = server.lines();
      expect(log.filter((l) => l.startsWith('yoda issued '))).toEqual(['CRT', ...refused, 'XIT'].map((cmd) => `yoda issued ${cmd} command`));
      expect(log.filter((l) => l.startsWith('Malformed request: '))).toHaveLength(1);
      expect(log.some((l) => l.startsWith('root '))).toBe(false);
    } finally {
      await c.close();
    }
    expect(await walkTree(root)).toEqual(['cwd/', 'data/', 'data/credentials.txt', 'data/t', 'outside.txt', 'srv/']);
    expect(await readFile(join(root, 'outside.txt'), 'utf8')).toBe(OUTSIDE);
    expect(await readFile(join(data, 't'), 'utf8')).toBe('yoda\n');
  });
});
