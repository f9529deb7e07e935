/**
 * The root README's "Running the forum" paragraphs against the command
 * lines: every option forum-server and forum-client take is named there,
 * none that they do not take, and each default the README quotes is the
 * one the parser applies (the --help texts are built from the same
 * constants, so they cannot drift; the README can).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TIMEOUT_SECONDS, parseClientArgs, USAGE as CLIENT_USAGE } from '../../client/src/args.js';
import { LOGIN_DEFAULTS, parseServerArgs, USAGE as SERVER_USAGE } from '../src/args.js';

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

/** The README's text from the line starting with `from` to the next blank line. */
function paragraph(from: string): string {
  const start = readme.indexOf(`\n${from}`);
  if (start < 0) throw new Error(`README has no paragraph starting with ${JSON.stringify(from)}`);
  const end = readme.indexOf('\n\n', start + 1);
  return readme.slice(start, end);
}

/** The options quoted (in backticks) in a README text. */
const optionsOf = (text: string): string[] => [...new Set([...text.matchAll(/`(--[a-z-]+)/g)].map((m) => m[1] as string))].sort();
/** The options of a usage line. */
const optionsOfUsage = (usage: string): string[] => [...new Set(usage.match(/--[a-z-]+/g))].sort();

/** The number quoted as `(default N` right after `option`'s first mention in `text`. */
function quotedDefault(text: string, option: string): number | undefined {
  const m = new RegExp(`\`${option}[^\`]*\`[^()]*\\(default ([0-9][0-9,]*)`).exec(text.replace(/\n/g, ' '));
  return m === null ? undefined : Number((m[1] as string).replace(/,/g, ''));
}

describe('root README: Running the forum', () => {
  const server = paragraph('Server options:');
  const client = server.slice(server.indexOf('Client options:'));

  // `--help` is said of both at once ("Both take `--help`").
  it("names every option of forum-server's usage, and no other", () => {
    expect(optionsOf(server.slice(0, server.indexOf('Client options:')))).toEqual(optionsOfUsage(SERVER_USAGE));
  });

  it("names every option of forum-client's usage, and no other", () => {
    expect(optionsOf(client).filter((o) => o !== '--help')).toEqual(optionsOfUsage(CLIENT_USAGE));
  });

  it('quotes the defaults the parsers apply', () => {
    const s = parseServerArgs(['4000']);
    if (s.kind !== 'run') throw new Error('server args did not parse');
    expect(quotedDefault(server, '--idle-timeout')).toBe(s.args.idleTimeoutSeconds);
    const c = parseClientArgs(['4000']);
    if (c.kind !== 'run') throw new Error('client args did not parse');
    expect(quotedDefault(client, '--timeout')).toBe(c.args.timeoutSeconds);
    expect(c.args.timeoutSeconds).toBe(DEFAULT_TIMEOUT_SECONDS);
    expect(client).toContain(`\`--host HOST\` (default ${c.args.host})`);
  });

  it("quotes, for every server option it gives a number as the default of, the parser's default", () => {
    const s = parseServerArgs(['4000']);
    if (s.kind !== 'run') throw new Error('server args did not parse');
    const args = s.args as unknown as Readonly<Record<string, unknown>>;
    // `--disk-stall-ms N` (default 30,000: …): a whole number, not a share (`1/16 of …`).
    const quoted = [...server.slice(0, server.indexOf('Client options:')).replace(/\n/g, ' ').matchAll(/`(--[a-z-]+)[^`]*` \(default ([0-9][0-9,]*)(?![0-9,]*\/)/g)];
    expect(quoted.length).toBeGreaterThanOrEqual(8);
    for (const [, option, text] of quoted) {
      const camel = (option as string).slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
      // The parsed field is named for the option, with its unit where the option's value has one.
      const field = [camel, `${camel}Seconds`, `${camel}Mib`, `${camel}Kib`, `${camel}Percent`].find((f) => f in args);
      expect(field, `${option as string}: no parsed field`).toBeDefined();
      expect(Number((text as string).replace(/,/g, '')), option).toBe(args[field as string]);
    }
  });

  it('Passwords: the login throttle figures are the defaults', () => {
    const text = readme.slice(readme.indexOf('Login throttling is on in both modes'), readme.indexOf('## Deployment')).replace(/\s+/g, ' ');
    expect(text).toContain(`after ${LOGIN_DEFAULTS.attempts} wrong passwords for one account, or ${LOGIN_DEFAULTS.hostAttempts} from one client host`);
    expect(text).toContain(`within ${LOGIN_DEFAULTS.windowSeconds} s`);
    expect(text).toContain(`past ${LOGIN_DEFAULTS.checks} per account or ${LOGIN_DEFAULTS.hostChecks} per host`);
  });
});
