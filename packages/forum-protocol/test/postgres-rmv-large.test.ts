/**
 * RMV of a thread holding 1 GiB of uploads under the deadline forum-server gives a command (6 s,
 * COMMAND_DEADLINE_MS): its deletion is allowed 6 ms a chunk more, as its statement is. A file of its
 * own: storing the GiB takes some 18 s here.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { UPLOAD_CHUNK_BYTES } from '../src/postgres.js';
import { MS_PER_DELETED_CHUNK } from '../src/postgres-store/postgres-timeouts.js';
import { withCommandDeadline } from '../src/store/command-deadline.js';
import { lines, run } from './helpers.js';
import { usePostgres } from './postgres-harness.js';

const pg = usePostgres();

/** `work`'s value and how long it took, ms. */
const timed = async <A>(work: () => Promise<A>): Promise<{ readonly value: A; readonly ms: number }> => {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
};

describe('RMV of a thread holding 1 GiB of uploads under the server deadline (6 s)', () => {
  it('goes through, its chunks deleted', async () => {
    const store = await pg.openStore();
    await run(store, 'alice', 'CRT big');
    const chunks = 4096;
    // 1 GiB in 4,096 chunks of 256 KiB, random bytes (not compressed), stored as the writer stores them.
    const data = randomBytes(UPLOAD_CHUNK_BYTES);
    const inserted = await timed(() =>
      store.sql.begin(async (tx) => {
        const [u] = await tx<{ id: string }[]>`INSERT INTO uploads (thread, filename, uploader, size, committed) VALUES ('big', 'f', 'alice', ${chunks * UPLOAD_CHUNK_BYTES}, true) RETURNING id`;
        for (let i = 0; i < chunks; i += 256) {
          await tx`INSERT INTO upload_chunks (upload_id, seq, data) SELECT ${u?.id ?? '0'}, g, ${data} FROM generate_series(${i}::int, ${i + 255}::int) g`;
        }
      }),
    );
    const rmv = await timed(() => withCommandDeadline(6_000, () => lines(run(store, 'alice', 'RMV big'))));
    process.stderr.write(`command-deadline: 1 GiB stored in ${inserted.ms.toFixed(0)} ms; RMV of its thread in ${rmv.ms.toFixed(0)} ms (deadline 6000 + ${chunks * MS_PER_DELETED_CHUNK} ms)\n`);
    expect(rmv.value).toEqual(['Thread big removed']);
    expect(await store.sql`SELECT count(*)::int AS n FROM upload_chunks`).toEqual([{ n: 0 }]);
  }, 60_000);
});
