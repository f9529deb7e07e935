import { createPostgresSessionRegistry, type PostgresStore } from '../src/postgres.js';
import { commandSuite } from './command-suite.js';
import { usePostgres } from './postgres-harness.js';

const pg = usePostgres();
let last: PostgresStore | undefined;

commandSuite(
  'PostgreSQL',
  async (options = {}) => {
    last = await pg.openStore(options);
    return last;
  },
  () => {
    if (last === undefined) throw new Error('no store yet');
    const registry = createPostgresSessionRegistry(last.sql, { serverId: 'suite', leaseMs: 60_000 });
    pg.onClose(() => registry.close());
    return registry;
  },
);
