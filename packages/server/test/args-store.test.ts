import { describe, expect, it } from 'vitest';
import { parseServerArgs } from '../src/args.js';

const run = (argv: readonly string[], env: Record<string, string | undefined> = {}) => {
  const c = parseServerArgs(argv, env);
  if (c.kind !== 'run') throw new Error(`expected run, got ${JSON.stringify(c)}`);
  return c.args;
};

describe('forum-server store and balancer options', () => {
  it('--store takes a postgres:// or postgresql:// URL', () => {
    expect(run(['4000', '--store', 'postgres://u:p@db/forum']).databaseUrl).toBe('postgres://u:p@db/forum');
    expect(run(['4000', '--store', 'postgresql://db/forum']).databaseUrl).toBe('postgresql://db/forum');
    expect(run(['4000']).databaseUrl).toBeUndefined();
  });

  it('FORUM_DATABASE_URL is used unless --data-dir or --store says otherwise', () => {
    const env = { FORUM_DATABASE_URL: 'postgres://env/forum' };
    expect(run(['4000'], env).databaseUrl).toBe('postgres://env/forum');
    expect(run(['4000', '--data-dir', '/srv/forum'], env).databaseUrl).toBeUndefined();
    expect(run(['4000', '--store', 'postgres://flag/forum'], env).databaseUrl).toBe('postgres://flag/forum');
    expect(run(['4000'], { FORUM_DATABASE_URL: '' }).databaseUrl).toBeUndefined();
  });

  it('refuses another kind of URL, a bad FORUM_DATABASE_URL, and --store with --data-dir', () => {
    expect(parseServerArgs(['4000', '--store', 'mysql://db/forum'])).toEqual({ kind: 'error', message: 'invalid store: expected a postgres:// or postgresql:// URL' });
    expect(parseServerArgs(['4000'], { FORUM_DATABASE_URL: 'forum.db' })).toEqual({
      kind: 'error',
      message: 'invalid store: expected a postgres:// or postgresql:// URL in FORUM_DATABASE_URL',
    });
    expect(parseServerArgs(['4000', '--store', 'postgres://db/f', '--data-dir', '.'])).toEqual({ kind: 'error', message: '--store and --data-dir exclude each other' });
  });

  it('--identity-file names the key file (shared by the servers behind one balancer), also for --show-fingerprint', () => {
    expect(run(['4001', '--store', 'postgres://db/f', '--identity-file', '/etc/forum/identity']).identityFile).toBe('/etc/forum/identity');
    expect(run(['4001']).identityFile).toBeUndefined();
    expect(parseServerArgs(['--show-fingerprint', '--identity-file', 'k'])).toEqual({ kind: 'show-fingerprint', dataDir: process.cwd(), identityFile: 'k' });
    expect(parseServerArgs(['4001', '--identity-file', ''])).toEqual({ kind: 'error', message: 'empty identity file' });
  });

  it('an empty --data-dir is refused, not taken for the working directory', () => {
    const message = 'empty data directory: give --data-dir a path (leave it out for the working directory)';
    expect(parseServerArgs(['4001', '--data-dir', ''])).toEqual({ kind: 'error', message });
    expect(parseServerArgs(['4001', '--data-dir='])).toEqual({ kind: 'error', message });
    expect(parseServerArgs(['--show-fingerprint', '--data-dir', ''])).toEqual({ kind: 'error', message });
  });

  it('--max-data-bytes is the data directory\'s quota, or with --store the bytes uploads may hold in the database', () => {
    expect(run(['4001', '--store', 'postgres://db/f', '--max-data-bytes', '1000']).maxDataBytes).toBe(1000);
    expect(run(['4001', '--max-data-bytes', '1000']).maxDataBytes).toBe(1000);
  });

  it('--advertised-transfer-port is a port from 1 to 65535', () => {
    expect(run(['4001', '--advertised-transfer-port', '4000']).advertisedTransferPort).toBe(4000);
    expect(run(['4001']).advertisedTransferPort).toBeUndefined();
    expect(parseServerArgs(['4001', '--advertised-transfer-port', '0'])).toEqual({ kind: 'error', message: 'invalid advertised transfer port: 0' });
  });

  it('an option given twice is refused: --data-dir a --data-dir b ran on b without a word', () => {
    expect(parseServerArgs(['4000', '--data-dir', 'a', '--data-dir', 'b'])).toEqual({ kind: 'error', message: '--data-dir given more than once' });
    expect(parseServerArgs(['4000', '--idle-timeout=5', '--idle-timeout', '7'])).toEqual({ kind: 'error', message: '--idle-timeout given more than once' });
    expect(parseServerArgs(['4000', '--hash-passwords', '--hash-passwords'])).toEqual({ kind: 'error', message: '--hash-passwords given more than once' });
    expect(run(['4000', '--data-dir', 'a']).dataDir).toBe('a');
  });
});
