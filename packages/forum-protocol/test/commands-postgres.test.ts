import { createPostgresSessionRegistry, type PostgresStore } from '../src/postgres.js';
import { commandSuite } from './command-suite.js';
import { insertThread, usePostgres } from './postgres-harness.js';

const pg = usePostgres({ migrated: 32 });
let last: PostgresStore | undefined;

commandSuite(
  'PostgreSQL',
  async ({ threads = [], ...options } = {}) => {
    last = await pg.openStore(options);
    for (const th of threads) await insertThread(last.sql, th);
    return last;
  },
  () => {
    if (last === undefined) throw new Error('no store yet');
    const registry = createPostgresSessionRegistry(last.sql, { serverId: 'suite', leaseMs: 60_000 });
    pg.onClose(() => registry.close());
    return registry;
  },
);
