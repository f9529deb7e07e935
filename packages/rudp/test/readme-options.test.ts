/**
 * The README's option tables against the code: every default it quotes is
 * the default the code applies, and every range it quotes is the range the
 * option checks accept (the bounds taken, a step past them refused, and a
 * fraction refused exactly where the table says "integer"). The tables are
 * what users copy from, so a default changed in the code and not in the
 * README fails here. So does a stats field, a drop reason or a refusal
 * reason the code has and the README does not name (or names and the code
 * no longer has).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONNECTION_CONFIG, validateConnectionOptions } from '../src/core/config.js';
import { Endpoint } from '../src/core/endpoint.js';
import { COOKIE_KEY_ROTATION_MS } from '../src/core/cookie.js';
import { DEFAULT_HANDSHAKES_PER_HOST_PER_SECOND, ENDPOINT_KEYS, MIN_DEFAULT_HANDSHAKE_BURST } from '../src/core/endpoint/endpoint-config.js';
import { DEFAULT_MAX_RECEIVE_BUFFER_BYTES } from '../src/core/receive/receive-pool.js';
import { checkTransportOptions } from '../src/node/check-options.js';
import { AcceptKind, BusyReason } from '../src/wire/packet.js';
import { DEFAULT_HIGH_WATER_MARK } from '../src/node/connection-options.js';
import * as rudpx from '../src/index.js';

const readme = readFileSync(join(fileURLToPath(new URL('..', import.meta.url)), 'README.md'), 'utf8');

/** The rows of the first table after the line starting with `intro`: the first cell's name (backticks and a trailing "(listen)" off) → its cells. */
function table(intro: string): ReadonlyMap<string, readonly string[]> {
  const lines = readme.split('\n');
  let i = lines.findIndex((l) => l.startsWith(intro));
  if (i < 0) throw new Error(`README has no line starting with ${JSON.stringify(intro)}`);
  while (!(lines[i] ?? '').startsWith('|')) i++;
  const rows = new Map<string, readonly string[]>();
  // Header and separator rows first.
  for (i += 2; (lines[i] ?? '').startsWith('|'); i++) {
    const cells = (lines[i] as string).split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
    const name = (cells[0] ?? '').replace(/ \((listen|connect)\)$/, '').replace(/`/g, '');
    rows.set(name, cells.slice(1));
  }
  return rows;
}

const SUPERSCRIPT: Readonly<Record<string, string>> = { '⁰': '0', '¹': '1', '²': '2', '³': '3', '⁴': '4', '⁵': '5', '⁶': '6', '⁷': '7', '⁸': '8', '⁹': '9' };

/** The number a cell starts with: `33,554,432 (32 MiB)`, `2⁵⁰ (no budget)`, `1.125`, `9/8`, `32 MiB`; `undefined` for prose. */
function leadingNumber(cell: string): number | undefined {
  const m = /^(2([⁰¹²³⁴⁵⁶⁷⁸⁹]+)|[0-9][0-9,]*(?:\.[0-9]+)?)(?:\/([0-9]+))?(?: (KiB|MiB))?/.exec(cell);
  if (m === null) return undefined;
  if (m[2] !== undefined) return 2 ** Number([...m[2]].map((c) => SUPERSCRIPT[c]).join(''));
  const n = Number((m[1] as string).replace(/,/g, '')) / (m[3] === undefined ? 1 : Number(m[3]));
  return n * (m[4] === 'KiB' ? 1024 : m[4] === 'MiB' ? 1024 * 1024 : 1);
}

/** A range cell, `integer 1,024–2⁴⁰` or `1–86,400,000 ms (24 h)`. */
function range(cell: string): { readonly min: number; readonly max: number; readonly integer: boolean } {
  const m = /^(integer )?([^–]+)–(.+)$/.exec(cell);
  const min = m === null ? undefined : leadingNumber(m[2] as string);
  const max = m === null ? undefined : leadingNumber(m[3] as string);
  if (min === undefined || max === undefined) throw new Error(`not a range: ${cell}`);
  return { min, max, integer: m?.[1] !== undefined };
}

/** Whether `check` accepts `value` for `field` (a RangeError is a refusal; anything else is a test bug). */
function accepts(check: (o: object) => void, field: string, value: number): boolean {
  try {
    check(field.startsWith('redundancy.') ? { redundancy: { ...DEFAULT_CONNECTION_CONFIG.redundancy, [field.slice('redundancy.'.length)]: value } } : { [field]: value });
    return true;
  } catch (e) {
    if (e instanceof RangeError) return false;
    throw e;
  }
}

/** Checks `check` takes exactly the range the README's cell gives `field`. */
function expectRange(check: (o: object) => void, field: string, cell: string): void {
  const { min, max, integer } = range(cell);
  const step = integer ? 1 : Math.min(1, (max - min) / 1000);
  expect(accepts(check, field, min), `${field}: README's minimum ${min}`).toBe(true);
  expect(accepts(check, field, max), `${field}: README's maximum ${max}`).toBe(true);
  expect(accepts(check, field, min - step), `${field}: below README's minimum ${min}`).toBe(false);
  expect(accepts(check, field, max + Math.max(step, max * 2 ** -40)), `${field}: above README's maximum ${max}`).toBe(false);
  // A fraction between the bounds: refused only for an integer option.
  if (max - min >= 2) expect(accepts(check, field, min + 1.5), `${field}: a fraction, README ${integer ? 'integer' : 'number'}`).toBe(!integer);
}

/** The default of `field` in `DEFAULT_CONNECTION_CONFIG` (dotted for `redundancy`). */
function codeDefault(field: string): unknown {
  return field.startsWith('redundancy.')
    ? (DEFAULT_CONNECTION_CONFIG.redundancy as unknown as Record<string, unknown>)[field.slice('redundancy.'.length)]
    : (DEFAULT_CONNECTION_CONFIG as unknown as Record<string, unknown>)[field];
}

describe('README option tables', () => {
  const transport = table('Transport options (`ConnectionConfig`');
  const configuration = table('`ConnectionConfig` (`src/core/config.ts`');

  it('list every ConnectionConfig field, in both tables', () => {
    const fields = [...Object.keys(DEFAULT_CONNECTION_CONFIG).filter((k) => k !== 'redundancy'), 'redundancy.maxCopies', 'redundancy.maxMessageBytes', 'redundancy.lossThreshold', 'redundancy.highLossThreshold', 'redundancy.previousCopyShare'];
    expect([...transport.keys()].sort()).toEqual([...fields].sort());
    expect([...configuration.keys()].sort()).toEqual([...fields].sort());
  });

  it.each([...Object.keys(DEFAULT_CONNECTION_CONFIG).filter((k) => k !== 'redundancy' && k !== 'congestion'), 'redundancy.maxCopies', 'redundancy.maxMessageBytes', 'redundancy.lossThreshold', 'redundancy.highLossThreshold'])(
    '%s: both tables quote the default the code applies',
    (field) => {
      expect(leadingNumber(transport.get(field)?.[0] ?? ''), 'Transport options table').toBe(codeDefault(field));
      expect(leadingNumber(configuration.get(field)?.[0] ?? ''), 'Configuration table').toBe(codeDefault(field));
    },
  );

  it('redundancy.previousCopyShare is not set by default, as both tables say ("by the loss rate")', () => {
    expect(codeDefault('redundancy.previousCopyShare')).toBeUndefined();
    expect(transport.get('redundancy.previousCopyShare')?.[0]).toBe('by the loss rate');
    expect(configuration.get('redundancy.previousCopyShare')?.[0]).toBe('by the loss rate');
  });

  it.each([...Object.keys(DEFAULT_CONNECTION_CONFIG).filter((k) => k !== 'redundancy' && k !== 'congestion'), 'redundancy.maxCopies', 'redundancy.maxMessageBytes', 'redundancy.lossThreshold', 'redundancy.highLossThreshold', 'redundancy.previousCopyShare'])(
    '%s: the core and listen/connect take exactly the range the Transport options table gives',
    (field) => {
      const cell = transport.get(field)?.[1] ?? '';
      expectRange((o) => validateConnectionOptions(o), field, cell);
      expectRange((o) => checkTransportOptions(o), field, cell);
    },
  );

  describe('the options of listen and connect', () => {
    const node = table('Options of `listen` and `connect`.');
    const endpoint = new Endpoint({ random: () => 7, plaintext: true });

    it('quote the defaults the code applies', () => {
      expect(leadingNumber(node.get('maxConnections')?.[0] ?? '')).toBe(endpoint.maxConnections);
      // The per-host limit is seen through the tally: one connection short of it has room, at it none.
      const perHost = leadingNumber(node.get('maxConnectionsPerHost')?.[0] ?? '') as number;
      const level = { key: '192.0.2.1', multiple: 1 };
      for (let i = 0; i < perHost - 1; i++) endpoint.hosts.add([level]);
      expect(endpoint.hosts.full([level])).toBeUndefined();
      endpoint.hosts.add([level]);
      expect(endpoint.hosts.full([level])).toBe(level);
      expect(leadingNumber(node.get('handshakesPerHostPerSecond')?.[0] ?? '')).toBe(DEFAULT_HANDSHAKES_PER_HOST_PER_SECOND);
      expect(leadingNumber(node.get('maxReceiveBufferBytes')?.[0] ?? '')).toBe(DEFAULT_MAX_RECEIVE_BUFFER_BYTES);
      expect(leadingNumber(node.get('highWaterMark')?.[0] ?? '')).toBe(DEFAULT_HIGH_WATER_MARK);
    });

    it.each(['maxConnections', 'maxConnectionsPerHost', 'handshakesPerHostPerSecond', 'handshakeBurstPerHost', 'maxReceiveBufferBytes'])('%s: listen takes exactly the range the table gives', (field) => {
      expectRange((o) => checkTransportOptions(o), field, (node.get(field)?.[1] ?? '').replace(/ \(.*$/, ''));
    });
  });
});

/** The backticked names of the README's text from the line starting with `from` to the next line starting with `to`. */
function namesBetween(from: string, to: string): ReadonlySet<string> {
  const start = readme.indexOf(`\n${from}`);
  const end = readme.indexOf(`\n${to}`, start + 1);
  if (start < 0 || end < 0) throw new Error(`README has no text from ${JSON.stringify(from)} to ${JSON.stringify(to)}`);
  return new Set([...readme.slice(start, end).matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1] as string));
}

describe('README stats and refusals', () => {
  const client = new Endpoint({ random: () => 7, plaintext: true });
  const connection = client.connect(0, '192.0.2.1:4000');

  it('## Stats names every field of ConnectionStats', () => {
    const named = namesBetween('`ConnectionStats` (`conn.stats()`)', '### ');
    expect(Object.keys(connection.stats()).filter((k) => !named.has(k))).toEqual([]);
  });

  it('the EndpointStats paragraph names every field of EndpointStats and of its receiveBuffer', () => {
    const named = namesBetween('`EndpointStats` (`server.stats()`', 'The drop reasons:');
    const stats = client.stats();
    expect([...Object.keys(stats), ...Object.keys(stats.receiveBuffer)].filter((k) => !named.has(k))).toEqual([]);
  });

  it('the drop reasons table has a row for each drop counter, and no other', () => {
    const rows = table('The drop reasons:');
    expect([...rows.keys()].sort()).toEqual(Object.keys(client.stats().dropped).sort());
  });

  it("the wire format's ACCEPT row names every kind and every Busy reason byte", () => {
    const accept = [...table('| type | name    |').entries()].find(([, cells]) => cells[0] === 'ACCEPT')?.[1][2] ?? '';
    const kinds = /kind u8 \(([^)]*)\)/.exec(accept)?.[1] ?? '';
    expect(kinds.match(/\b[0-9]+(?= )/g)).toEqual(Object.values(AcceptKind).map(String));
    const reasons = /reason byte \(([^)]*)[;)]/.exec(accept)?.[1] ?? '';
    expect(reasons.match(/\b[0-9]+(?= )/g)).toEqual(Object.values(BusyReason).map(String));
  });
});

describe('README EndpointConfig table', () => {
  const rows = table('`EndpointConfig` extends');
  const endpoint = new Endpoint({ random: () => 7, plaintext: true });

  it('has a row for every field new Endpoint takes, and no other', () => {
    expect([...rows.keys()].sort()).toEqual([...ENDPOINT_KEYS].sort());
  });

  it('quotes the defaults the endpoint applies', () => {
    expect(leadingNumber(rows.get('maxConnections')?.[0] ?? '')).toBe(endpoint.maxConnections);
    expect(leadingNumber(rows.get('maxStatelessQueue')?.[0] ?? '')).toBe(endpoint.maxStatelessQueue);
    expect(leadingNumber(rows.get('cookieLifetimeMs')?.[0] ?? '')).toBe(endpoint.cookies.lifetimeMs);
    expect(rows.get('cookieLifetimeMs')?.[1]).toContain(`rotates every ${COOKIE_KEY_ROTATION_MS / 1000} s`);
    expect(leadingNumber(rows.get('handshakesPerHostPerSecond')?.[0] ?? '')).toBe(DEFAULT_HANDSHAKES_PER_HOST_PER_SECOND);
    expect(rows.get('handshakeBurstPerHost')?.[0]).toBe(`\`maxConnectionsPerHost\`, at least ${MIN_DEFAULT_HANDSHAKE_BURST}`);
    expect(rows.get('maxReceiveBufferBytes')?.[0]).toBe(`${DEFAULT_MAX_RECEIVE_BUFFER_BYTES / 2 ** 30} GiB (\`DEFAULT_MAX_RECEIVE_BUFFER_BYTES\`)`);
  });
});

describe('README ## Errors', () => {
  // The codes the type names: the union's string literals (the rest are passed through from dns and dgram).
  const source = readFileSync(fileURLToPath(new URL('../src/node/rudp-error.ts', import.meta.url)), 'utf8');
  const union = /export type RudpErrorCode =([^;]*);/.exec(source)?.[1] ?? '';
  const codes = [...union.matchAll(/\| '([A-Z_]+)'/g)].map((m) => m[1] as string);

  it('the table has a row for every code RudpErrorCode names', () => {
    expect(codes.length).toBeGreaterThanOrEqual(9);
    const named = new Set([...table('| code | when |').keys()].flatMap((cell) => cell.split(/,\s*/)));
    expect(codes.filter((c) => !named.has(c))).toEqual([]);
  });
});

describe('README: the stack trace it shows', () => {
  it('names the line of src/core/config.ts that throws for an option out of range', () => {
    const lines = readFileSync(fileURLToPath(new URL('../src/core/config.ts', import.meta.url)), 'utf8').split('\n');
    const throwLine = lines.findIndex((l) => l.includes("throw new RangeError(`rudp: option '${field}' must be")) + 1;
    expect(throwLine).toBeGreaterThan(0);
    expect(readme).toContain(`(\`src/core/config.ts:${throwLine}\`, not`);
  });
});

describe('README entry points', () => {
  it("the `rudpx` row names every value the package's main entry exports", () => {
    const row = table('| import ').get('rudpx')?.[0] ?? '';
    const named = new Set([...row.matchAll(/`([A-Za-z_]+)`/g)].map((m) => m[1] as string));
    expect(Object.keys(rudpx).filter((name) => !named.has(name))).toEqual([]);
  });
});
