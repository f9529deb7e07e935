import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HELP, parseClientArgs } from '../src/args.js';
import { EXIT } from '../src/exit-status.js';

describe('forum-client --help', () => {
  it('names the exit statuses the client returns (it once said 4 for a changed server key, which exits 5)', () => {
    const help = HELP.replace(/\s+/g, ' ');
    expect(EXIT.hostKey).toBe(5);
    expect(help).toContain('4 when the server shut down, 5 when its identity key changed or the known-hosts file cannot be read');
    for (const code of Object.values(EXIT)) expect(help).toContain(`${code} `);
  });

  it("the package README's exit-status table lists exactly the statuses the client returns", () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const listed = [...readme.matchAll(/^\| (\d+) \|/gm)].map((m) => Number(m[1]));
    expect(listed).toEqual(Object.values(EXIT));
  });

  it('is what --help answers', () => {
    expect(parseClientArgs(['--help'])).toMatchObject({ kind: 'help' });
  });
});

describe('forum-client options', () => {
  it('an option given twice is refused (parseArgs kept the last one without a word)', () => {
    expect(parseClientArgs(['4000', '--timeout', '1', '--timeout', '2'])).toEqual({ kind: 'error', message: '--timeout given more than once' });
    expect(parseClientArgs(['4000', '--host=a', '--host', 'b'])).toEqual({ kind: 'error', message: '--host given more than once' });
    expect(parseClientArgs(['4000', '--timeout', '2'])).toMatchObject({ kind: 'run', args: { timeoutSeconds: 2 } });
  });

  it("an unknown option, or one without its value, is refused in parseArgs's words, never thrown", () => {
    expect(parseClientArgs(['4000', '--bogus'])).toMatchObject({ kind: 'error', message: expect.stringContaining("Unknown option '--bogus'") });
    expect(parseClientArgs(['4000', '--timeout'])).toMatchObject({ kind: 'error', message: expect.stringContaining("Option '--timeout <value>' argument missing") });
  });
});

describe('forum-client --stall-bytes / --stall-seconds', () => {
  it('default to 1024 bytes in 60 s; --stall-bytes 0 turns the floor off', () => {
    expect(parseClientArgs(['4000'])).toMatchObject({ kind: 'run', args: { pace: { minBytes: 1024, windowMs: 60_000 } } });
    expect(parseClientArgs(['4000', '--stall-bytes', '65536', '--stall-seconds', '0.5'])).toMatchObject({ kind: 'run', args: { pace: { minBytes: 65_536, windowMs: 500 } } });
    expect(parseClientArgs(['4000', '--stall-bytes', '0'])).toMatchObject({ kind: 'run', args: { pace: { minBytes: 0, windowMs: 60_000 } } });
  });

  it('refuse what is not a count of bytes or seconds in range, saying which', () => {
    for (const bad of ['-1', '1.5', '1e3', '', 'lots', String(2 ** 40 + 1)]) {
      expect(parseClientArgs(['4000', `--stall-bytes=${bad}`])).toEqual({ kind: 'error', message: `invalid stall-bytes (0 to ${2 ** 40} bytes; 0: no limit): ${bad}` });
    }
    for (const bad of ['0', '0.05', '3601', '-1', '1e2', '']) {
      expect(parseClientArgs(['4000', `--stall-seconds=${bad}`])).toEqual({ kind: 'error', message: `invalid stall-seconds (0.1 to 3600 seconds): ${bad}` });
    }
    expect(parseClientArgs(['4000', '--stall-seconds', '1', '--stall-seconds', '2'])).toEqual({ kind: 'error', message: '--stall-seconds given more than once' });
  });
});

describe('forum-client --host', () => {
  it('takes an IPv6 address in brackets, as URLs write it, as the bare address', () => {
    // Before: host '[::1]', sent to the resolver (`the host name [::1] does not resolve (getaddrinfo ENOTFOUND)`).
    expect(parseClientArgs(['4000', '--host', '[::1]'])).toMatchObject({ kind: 'run', args: { host: '::1' } });
    expect(parseClientArgs(['4000', '--host=[2001:db8::7]'])).toMatchObject({ kind: 'run', args: { host: '2001:db8::7' } });
    expect(parseClientArgs(['4000', '--host', '::1'])).toMatchObject({ kind: 'run', args: { host: '::1' } });
    expect(parseClientArgs(['4000', '--host', 'forum.example'])).toMatchObject({ kind: 'run', args: { host: 'forum.example' } });
  });

  it('refuses brackets that are not one pair around an IPv6 address, saying why', () => {
    const brackets = (text: string): string => `invalid host: ${text} (brackets are for an IPv6 address only, one pair around all of it: [::1])`;
    for (const bad of ['[::1', '::1]', '[[::1]]', '[]', '[127.0.0.1]', '[localhost]', '[::1]x', 'a[b]']) {
      expect(parseClientArgs(['4000', '--host', bad])).toEqual({ kind: 'error', message: brackets(bad) });
    }
    expect(parseClientArgs(['4000', '--host', '[::1]:4000'])).toEqual({
      kind: 'error',
      message: 'invalid host: [::1]:4000 (the port is the <port> argument, not part of --host: forum-client 4000 --host ::1)',
    });
    expect(parseClientArgs(['4000', '--host', ''])).toEqual({ kind: 'error', message: 'empty host' });
  });

  it('refuses a name or IPv4 address with a port, naming the <port> argument', () => {
    // Before: sent to the resolver (`the host name 127.0.0.1:4000 does not resolve (getaddrinfo ENOTFOUND)`).
    expect(parseClientArgs(['4000', '--host', '127.0.0.1:4000'])).toEqual({
      kind: 'error',
      message: 'invalid host: 127.0.0.1:4000 (the port is the <port> argument, not part of --host: forum-client 4000 --host 127.0.0.1)',
    });
    expect(parseClientArgs(['4000', '--host=forum.example:'])).toEqual({
      kind: 'error',
      message: 'invalid host: forum.example: (the port is the <port> argument, not part of --host: forum-client <port> --host forum.example)',
    });
    // Two colons or more: an IPv6 address, as before.
    expect(parseClientArgs(['4000', '--host', 'fe80::1'])).toMatchObject({ kind: 'run', args: { host: 'fe80::1' } });
  });
});
