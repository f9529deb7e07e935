import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLIENT_BIN, SERVER_BIN } from './forum-processes.js';

/**
 * Runs `bin` to its exit. Every case exits at once; the kill timeout only ends a hang, and stays
 * under the 60 s test timeout (which cannot fire while spawnSync blocks the worker).
 */
const run = (bin: string, args: readonly string[]): { code: number | null; stdout: string; stderr: string } => {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', input: '', timeout: 45_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

describe('command lines of forum-server and forum-client', () => {
  it.each([
    ['forum-server', SERVER_BIN],
    ['forum-client', CLIENT_BIN],
  ])('%s --help prints the usage and exits 0', (name, bin) => {
    const r = run(bin, ['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe(
      `Usage: ${name} <port> ${
        name === 'forum-server'
          ? '[--data-dir DIR | --store postgres://…] [--idle-timeout SECONDS] [--host HOST] [--transfer-port PORT] [--advertised-transfer-port PORT] [--transfer-header-timeout SECONDS] [--identity-file FILE] [--cid-server-id N] [--hash-passwords] [--login-attempts N] [--login-host-attempts N] [--login-checks N] [--login-host-checks N] [--login-window SECONDS] [--account-limit N] [--account-window SECONDS] [--max-upload-bytes N] [--max-data-bytes N] [--max-data-bytes-per-user N] [--max-thread-bytes N] [--max-thread-bytes-per-user N] [--min-free-bytes N] [--disk-stall-ms N] [--memory-budget-mib N] [--max-connections-per-host N] [--max-connections-before-login N] [--handshake-rate N] [--max-threads-per-user N] [--origin-shares N] [--max-accounts N] [--request-rate N] [--max-reply-bytes N] [--large-reply-rate MIB] [--request-charge KIB] [--rate-idle-below PERCENT] [--show-fingerprint]'
          : '[--host HOST] [--known-hosts FILE] [--timeout SECONDS] [--stall-bytes BYTES] [--stall-seconds SECONDS]'
      }`,
    );
  });

  it.each([
    ['forum-server', SERVER_BIN, 'server'],
    ['forum-client', CLIENT_BIN, 'client'],
  ])('%s turns source maps on: a stack trace from its code names the TypeScript source', (_name, bin, pkg) => {
    // The preload records the stack of the bundle's console.log call (the --help text) and prints it at exit.
    const preload = `let s = ''; const log = console.log; console.log = (...a) => { s ||= new Error().stack; log(...a); }; process.on('exit', () => process.stderr.write(s));`;
    const r = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(preload)}`, bin, '--help'], { encoding: 'utf8', input: '', timeout: 45_000 });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`packages/${pkg}/src/main\\.ts:\\d+:\\d+`));
    expect(r.stderr).not.toContain('dist/main.js');
  });

  it.each([
    ['forum-server', [], SERVER_BIN],
    ['forum-server', ['abc'], SERVER_BIN],
    ['forum-server', ['70000'], SERVER_BIN],
    ['forum-server', ['4000', '--idle-timeout', 'soon'], SERVER_BIN],
    ['forum-server', ['4000', '--bogus'], SERVER_BIN],
    ['forum-server', ['4000', '--store', 'mysql://db/forum'], SERVER_BIN],
    ['forum-server', ['4000', '--store', 'postgres://db/forum', '--data-dir', '.'], SERVER_BIN],
    ['forum-client', [], CLIENT_BIN],
    ['forum-client', ['0'], CLIENT_BIN],
    ['forum-client', ['4000', '5000'], CLIENT_BIN],
    ['forum-client', ['4000', '--port', '1'], CLIENT_BIN],
    ['forum-server', ['4000', '--data-dir', 'a', '--data-dir', 'b'], SERVER_BIN],
    ['forum-client', ['4000', '--timeout', '1', '--timeout', '2'], CLIENT_BIN],
  ] as const)('%s %j: a usage line on stderr and exit 2', (name, args, bin) => {
    const r = run(bin, args);
    expect(r.code).toBe(2);
    expect(r.stdout, `forum-client exited ${String(r.code)}; its stderr: ${r.stderr}`).toBe('');
    expect(r.stderr.trimEnd().split('\n').at(-1)).toMatch(new RegExp(`^Usage: ${name} <port>`));
  });

  it('forum-server names the store it could not open, without the password', () => {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    const r = run(SERVER_BIN, ['0', '--store', 'postgres://forum:s3cret@127.0.0.1:1/forum']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^forum-server: cannot open database postgres:\/\/forum@127\.0\.0\.1:1\/forum: /);
    expect(r.stderr).not.toContain('s3cret');
  });
});
