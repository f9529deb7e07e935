import { describe, expect, it } from 'vitest';
import { DEFAULT_LOGIN_RATE_LIMIT } from 'forum-protocol';
import { durationMs, MAX_SECONDS, parseServerArgs } from '../src/args.js';
import { defaultMaxReplyBytes } from '../src/forum-server.js';
import { MIN_MAX_REPLY_BYTES } from '../src/reply-budget.js';

const run = (argv: readonly string[]) => {
  const c = parseServerArgs(argv);
  if (c.kind !== 'run') throw new Error(`expected run, got ${JSON.stringify(c)}`);
  return c.args;
};

describe('server options for resource limits', () => {
  it('defaults: 10 accounts per host per 10 minutes, 1 GiB uploads, no quota, 1 GiB memory budget, 256 connections per host, 4,096 before login, 100 threads per user, 1 GiB kept free, 100 requests a second, 64 handshakes a second per host', () => {
    const a = run(['4000']);
    expect(a.accountLimit).toEqual({ maxPerHost: 10, windowMs: 600_000 });
    expect(a.maxUploadBytes).toBe(1024 ** 3);
    expect(a.maxDataBytes).toBeUndefined();
    expect(a.memoryBudgetBytes).toBe(1024 * 1024 * 1024);
    expect(a.maxConnectionsPerHost).toBe(256);
    expect(a.maxConnectionsBeforeLogin).toBe(4096);
    expect(a.maxThreadsPerUser).toBe(100);
    expect(a.originShares).toBe(4);
    expect(a.minFreeBytes).toBe(1024 ** 3);
    expect(a.maxThreadBytes).toBe(256 * 1024 * 1024);
    expect(a.requestRate).toBe(100);
    expect(a.largeReplyRateMib).toBe(32);
    expect(a.requestChargeKib).toBe(48);
    expect(a.rateIdleBelowPercent).toBe(0);
    expect(a.handshakeRate).toBe(64);
    expect(a.transferHeaderTimeoutSeconds).toBe(10);
    // The server-wide reply budget follows the memory budget unless given.
    expect(a.maxReplyBytes).toBeUndefined();
  });

  it('--max-reply-bytes: read, and refused under two largest replies', () => {
    expect(run(['4000', '--max-reply-bytes', '100000000']).maxReplyBytes).toBe(100_000_000);
    expect(run(['4000', '--max-reply-bytes', String(MIN_MAX_REPLY_BYTES)]).maxReplyBytes).toBe(MIN_MAX_REPLY_BYTES);
    expect(parseServerArgs(['4000', '--max-reply-bytes', String(MIN_MAX_REPLY_BYTES - 1)])).toEqual({
      kind: 'error',
      message: `invalid max reply bytes (at least ${MIN_MAX_REPLY_BYTES}): ${MIN_MAX_REPLY_BYTES - 1}`,
    });
    expect(parseServerArgs(['4000', '--max-reply-bytes', '1e9']).kind).toBe('error');
    // Its default: a quarter of the memory budget, 256 MiB at the default and without one, never under the least.
    expect(defaultMaxReplyBytes(1024 ** 3)).toBe(256 * 1024 * 1024);
    expect(defaultMaxReplyBytes(undefined)).toBe(256 * 1024 * 1024);
    expect(defaultMaxReplyBytes(4 * 1024 ** 3)).toBe(1024 ** 3);
    expect(defaultMaxReplyBytes(32 * 1024 * 1024)).toBe(MIN_MAX_REPLY_BYTES);
  });

  it('login throttle: the defaults are forum-protocol\'s, each count is read, and 0 checks is refused', () => {
    const { maxTracked: _unused, ...defaults } = DEFAULT_LOGIN_RATE_LIMIT;
    expect(run(['4000']).loginLimit).toEqual(defaults);
    expect(run(['4000', '--login-attempts', '3', '--login-host-attempts', '9', '--login-checks', '4', '--login-host-checks', '12', '--login-window', '2']).loginLimit).toEqual({
      maxFailuresPerAccount: 3,
      maxFailuresPerAddress: 9,
      maxChecksPerAccount: 4,
      maxChecksPerAddress: 12,
      windowMs: 2000,
    });
    expect(parseServerArgs(['4000', '--login-checks', '0'])).toEqual({ kind: 'error', message: 'invalid login checks: 0' });
    expect(parseServerArgs(['4000', '--login-host-checks', 'x'])).toEqual({ kind: 'error', message: 'invalid login host checks: x' });
  });

  it('each option is read, and 0 turns the account limit and the memory budget off', () => {
    const a = run(['4000', '--account-limit', '3', '--account-window', '1.5', '--max-upload-bytes', '0', '--max-data-bytes', '5000', '--memory-budget-mib', '256', '--max-connections-per-host', '4', '--max-connections-before-login', '9', '--max-threads-per-user', '7', '--min-free-bytes', '0', '--max-thread-bytes', '5000', '--request-rate', '7']);
    expect(a.maxThreadBytes).toBe(5000);
    expect(a.maxThreadBytesPerUser).toBeUndefined();
    expect(run(['4000', '--max-thread-bytes-per-user', '2048']).maxThreadBytesPerUser).toBe(2048);
    expect(a.maxDataBytesPerUser).toBeUndefined();
    expect(run(['4000', '--store', 'postgres://h/db', '--max-data-bytes', '5000', '--max-data-bytes-per-user', '1024']).maxDataBytesPerUser).toBe(1024);
    // The data directory's quota has its share too (attack round 27's follow-up): read without --store.
    expect(run(['4000', '--max-data-bytes', '5000', '--max-data-bytes-per-user', '1024']).maxDataBytesPerUser).toBe(1024);
    expect(run(['4000', '--max-data-bytes-per-user', '5']).maxDataBytesPerUser).toBe(5);
    expect(a.requestRate).toBe(7);
    expect(run(['4000', '--request-rate', '0']).requestRate).toBe(0);
    expect(run(['4000', '--large-reply-rate', '200']).largeReplyRateMib).toBe(200);
    expect(run(['4000', '--large-reply-rate', '0']).largeReplyRateMib).toBe(0);
    expect(run(['4000', '--request-charge', '16']).requestChargeKib).toBe(16);
    expect(run(['4000', '--request-charge', '0']).requestChargeKib).toBe(0);
    expect(run(['4000', '--rate-idle-below', '30']).rateIdleBelowPercent).toBe(30);
    expect(run(['4000', '--rate-idle-below', '100']).rateIdleBelowPercent).toBe(100);
    expect(run(['4000', '--handshake-rate', '500']).handshakeRate).toBe(500);
    expect(run(['4000', '--handshake-rate', '0']).handshakeRate).toBe(0);
    expect(run(['4000']).maxAccounts).toBe(100_000);
    expect(run(['4000', '--max-accounts', '3']).maxAccounts).toBe(3);
    expect(run(['4000', '--max-accounts', '0']).maxAccounts).toBe(0);
    expect(a.minFreeBytes).toBe(0);
    expect(run(['4000']).diskStallMs).toBe(30_000);
    expect(run(['4000', '--disk-stall-ms', '5000']).diskStallMs).toBe(5000);
    expect(a.maxConnectionsPerHost).toBe(4);
    expect(a.maxConnectionsBeforeLogin).toBe(9);
    expect(a.maxThreadsPerUser).toBe(7);
    expect(a.accountLimit).toEqual({ maxPerHost: 3, windowMs: 1500 });
    expect(a.maxUploadBytes).toBe(0);
    expect(a.maxDataBytes).toBe(5000);
    expect(a.memoryBudgetBytes).toBe(256 * 1024 * 1024);
    expect(run(['4000', '--origin-shares', '2']).originShares).toBe(2);
    expect(run(['4000', '--origin-shares', '0']).originShares).toBe(0);
    expect(parseServerArgs(['4000', '--origin-shares', '1.5'])).toEqual({ kind: 'error', message: 'invalid origin shares: 1.5' });
    const off = run(['4000', '--account-limit', '0', '--memory-budget-mib', '0']);
    expect(off.accountLimit).toBe(false);
    expect(off.memoryBudgetBytes).toBeUndefined();
  });

  it('bad values are refused with a message naming the option', () => {
    for (const [argv, message] of [
      [['4000', '--account-limit', 'x'], 'invalid account limit: x'],
      [['4000', '--account-window', '0'], 'invalid account window: 0'],
      [['4000', '--max-upload-bytes', '1e9'], 'invalid max upload bytes: 1e9'],
      [['4000', '--max-data-bytes', '0'], 'invalid max data bytes: 0'],
      [['4000', '--max-data-bytes', '99999999999999999'], 'invalid max data bytes: 99999999999999999'],
      [['4000', '--max-connections-per-host', '0'], 'invalid max connections per host: 0'],
      [['4000', '--max-threads-per-user', '0'], 'invalid max threads per user: 0'],
      [['4000', '--min-free-bytes', '-1'], "Option '--min-free-bytes' argument is ambiguous"],
      [['4000', '--min-free-bytes', '1x'], 'invalid min free bytes: 1x'],
      [['4000', '--disk-stall-ms', '0'], 'invalid disk stall ms: 0'],
      [['4000', '--disk-stall-ms', '1.5'], 'invalid disk stall ms: 1.5'],
      [['4000', '--disk-stall-ms', '1000001'], 'invalid disk stall ms: 1000001'],
      [['4000', '--store', 'postgres://h/db', '--disk-stall-ms', '5'], '--disk-stall-ms applies to the data directory, not to --store'],
      [['4000', '--max-thread-bytes', '0'], 'invalid max thread bytes: 0'],
      [['4000', '--store', 'postgres://h/db', '--max-thread-bytes', '5'], '--max-thread-bytes applies to the data directory, not to --store'],
      [['4000', '--max-thread-bytes-per-user', '0'], 'invalid max thread bytes per user: 0'],
      [['4000', '--store', 'postgres://h/db', '--max-thread-bytes-per-user', '5'], '--max-thread-bytes-per-user applies to the data directory, not to --store'],
      [['4000', '--store', 'postgres://h/db', '--max-data-bytes-per-user', '0'], 'invalid max data bytes per user: 0'],
      [['4000', '--store', 'postgres://h/db', '--min-free-bytes', '5'], '--min-free-bytes applies to the data directory, not to --store'],
      [['4000', '--max-accounts', 'x'], 'invalid max accounts: x'],
      [['4000', '--store', 'postgres://h/db', '--max-accounts', '5'], '--max-accounts applies to the data directory, not to --store'],
      [['4000', '--max-connections-per-host', '2000000'], 'invalid max connections per host: 2000000'],
      [['4000', '--max-connections-before-login', '0'], 'invalid max connections before login: 0'],
      [['4000', '--max-connections-before-login', '2000000'], 'invalid max connections before login: 2000000'],
      [['4000', '--max-connections-before-login', 'many'], 'invalid max connections before login: many'],
      [['4000', '--memory-budget-mib', '-5'], "Option '--memory-budget-mib' argument is ambiguous"],
      [['4000', '--request-rate', '1.5'], 'invalid request rate: 1.5'],
      [['4000', '--request-rate', 'fast'], 'invalid request rate: fast'],
      [['4000', '--large-reply-rate', '0.5'], 'invalid large reply rate: 0.5'],
      [['4000', '--request-charge', '1.5'], 'invalid request charge: 1.5'],
      [['4000', '--request-charge', 'some'], 'invalid request charge: some'],
      [['4000', '--rate-idle-below', '101'], 'invalid rate idle share (0-100): 101'],
      [['4000', '--rate-idle-below', '2.5'], 'invalid rate idle share (0-100): 2.5'],
      [['4000', '--handshake-rate', '2.5'], 'invalid handshake rate: 2.5'],
      [['4000', '--handshake-rate', 'x'], 'invalid handshake rate: x'],
    ] as const) {
      const c = parseServerArgs(argv);
      expect(c.kind === 'error' ? c.message : c.kind).toContain(message);
    }
  });

  it('--transfer-header-timeout takes seconds above 0 (fractions too); anything else is refused saying so', () => {
    expect(run(['4000', '--transfer-header-timeout', '0.5']).transferHeaderTimeoutSeconds).toBe(0.5);
    expect(run(['4000', '--transfer-header-timeout', '30']).transferHeaderTimeoutSeconds).toBe(30);
    for (const value of ['0', '-1', 'soon', '1e3', '10s', '', '2147484']) {
      const c = parseServerArgs(['4000', `--transfer-header-timeout=${value}`]);
      expect(c.kind === 'error' ? c.message : c.kind).toBe(`invalid transfer header timeout: ${value} (seconds, above 0 and at most 2147483, about 24 days)`);
    }
  });

  it('every duration takes whole ms, at least 1: the idle timeout as the header deadline and the windows', () => {
    // A fraction of a ms: the idle timeout took it as it came (0.4 ms), the header deadline 1 ms.
    expect(durationMs(0.0004)).toBe(1);
    expect(durationMs(0.0016)).toBe(2);
    expect(durationMs(1.2344)).toBe(1234);
    expect(durationMs(0.5)).toBe(500);
    // The longest still a timer Node sets as asked.
    expect(durationMs(MAX_SECONDS)).toBe(2_147_483_000);
    expect(durationMs(MAX_SECONDS)).toBeLessThanOrEqual(2 ** 31 - 1);
    // The windows go through it too.
    expect(run(['4000', '--account-window', '0.0004']).accountLimit).toEqual({ maxPerHost: 10, windowMs: 1 });
  });

  it('a duration is at most 2147483 s (24 days): a longer idle timeout made Node fire its timer after 1 ms, over and over', () => {
    expect(run(['4000', '--idle-timeout', '2147483']).idleTimeoutSeconds).toBe(2147483);
    for (const [option, what] of [
      ['--idle-timeout', 'idle timeout'],
      ['--login-window', 'login window'],
      ['--account-window', 'account window'],
    ] as const) {
      for (const value of ['2147484', '3000000', '99999999999999999999999']) {
        const c = parseServerArgs(['4000', option, value]);
        expect(c.kind === 'error' ? c.message : c.kind).toBe(`invalid ${what}: ${value} (seconds, above 0 and at most 2147483, about 24 days)`);
      }
    }
  });
});
