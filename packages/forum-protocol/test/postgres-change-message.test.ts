import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../src/store/memory-store.js';
import { openPostgresStore, type PostgresStore } from '../src/postgres.js';
import type { ForumStore } from '../src/store/store.js';
import type { Thread, ThreadEntry } from '../src/store/thread.js';
import { byteCountingProxy } from './loopback-proxy.js';
import { lines, run } from './helpers.js';
import { insertThread, schemaOf, usePostgres } from './postgres-harness.js';
import { prng } from './seeded-random.js';

const pg = usePostgres({ migrated: 3 });

/** A thread of `messages` messages of `text`, by alice and bob in turn, with an upload line and a hand-written line every so often. */
const longThread = (title: string, messages: number, text: string): Thread => {
  const entries: ThreadEntry[] = [];
  for (let i = 0; i < messages; i++) {
    entries.push({ kind: 'message', author: i % 2 === 0 ? 'alice' : 'bob', text: `${i + 1} ${text}` });
    if (i % 97 === 3) entries.push({ kind: 'upload', uploader: 'bob', filename: `f${i}.bin` });
    if (i % 211 === 7) entries.push({ kind: 'other', line: `  a hand-written line ${i}` });
  }
  return { title, creator: 'alice', entries };
};

/** A store of this file's PostgreSQL reached through a proxy that counts what the database sends back. */
const storeThroughProxy = async (schema: string): Promise<{ store: PostgresStore; received(): number }> => {
  const proxy = await byteCountingProxy(pg.url());
  pg.onClose(() => proxy.close());
  const opened = await openPostgresStore(proxy.url, { schema, maxConnections: 2 })();
  if (E.isLeft(opened)) throw new Error(opened.left.message);
  pg.onClose(() => opened.right.close());
  return { store: opened.right, received: proxy.received };
};

describe('PostgreSQL EDT and DLT', () => {
  it('read one line of a thread of 9,000 messages (about 3 MB), not the thread, wherever the message is', async () => {
    const a = await pg.openStore();
    const thread = longThread('big', 9000, 'w'.repeat(300));
    await insertThread(a.sql, thread);
    const { store, received } = await storeThroughProxy(await schemaOf(a.sql));
    // Warm: the pool's connections are open and its statements prepared before counting.
    expect(await lines(run(store, 'alice', 'EDT big 1 warm'))).toEqual(['The message has been edited']);
    const costs: Record<string, number> = {};
    for (const [what, line] of [
      ['EDT first', 'EDT big 1 first'],
      ['EDT middle', 'EDT big 4501 middle'],
      ['EDT last', 'EDT big 8999 last'],
      ['DLT first', 'DLT big 1'],
      ['DLT middle', 'DLT big 4400'],
      ['DLT last', 'DLT big 8995'],
    ] as const) {
      const before = received();
      expect((await lines(run(store, 'alice', line)))[0]).toMatch(/^The message has been (edited|deleted)$/);
      costs[what] = received() - before;
    }
    // Reading the thread whole sends its 3 MB; one line and the replies to the writes are a few hundred bytes.
    for (const cost of Object.values(costs)) expect(cost).toBeLessThan(8 * 1024);
    const shown = await lines(run(a, 'bob', 'RDT big'));
    expect(shown.filter((l) => /^\d+ /.test(l))).toHaveLength(8997);
    expect(shown.slice(0, 2)).toEqual([`1 bob: 2 ${'w'.repeat(300)}`, `2 alice: 3 ${'w'.repeat(300)}`]);
    expect(shown).toContain('4499 alice: middle');
    expect(shown).toContain('8996 alice: last');
  });

  it('EDT and DLT of any number, from either end, with upload and other lines between, leave what the memory store leaves', async () => {
    const a = await pg.openStore();
    const thread = longThread('t', 300, 'x');
    await insertThread(a.sql, thread);
    const memory: ForumStore = createMemoryStore({ threads: [thread] });
    const random = prng(3);
    const lastCount = async (): Promise<number> => (await lines(run(memory, 'alice', 'RDT t'))).filter((l) => /^\d+ /.test(l)).length;
    for (let i = 0; i < 120; i++) {
      const messages = await lastCount();
      // Numbers past the last one and 0 too: refused alike.
      const n = Math.floor(random() * (messages + 3));
      const user = random() < 0.5 ? 'alice' : 'bob';
      const line = random() < 0.5 ? `EDT t ${n} edit ${i} " é` : `DLT t ${n}`;
      const [fromPostgres, fromMemory] = await Promise.all([lines(run(a, user, line)), lines(run(memory, user, line))]);
      expect(fromPostgres).toEqual(fromMemory);
    }
    expect(await lines(run(a, 'bob', 'RDT t'))).toEqual(await lines(run(memory, 'bob', 'RDT t')));
  });

  it('EDT and DLT of one thread from two servers at once number and size it as if run one after another', async () => {
    const a = await pg.openStore();
    const b = await pg.openPeer(a);
    const texts = Array.from({ length: 200 }, (_, i) => `y${i + 1}`);
    await insertThread(a.sql, { title: 'race', creator: 'alice', entries: texts.map((text) => ({ kind: 'message', author: 'alice', text })) });
    // 40 deletes of the first message and 20 edits of message 160, half on each server, all at once.
    const deletes = Array.from({ length: 40 }, (_, i) => lines(run(i % 2 === 0 ? a : b, 'alice', 'DLT race 1')));
    const edits = Array.from({ length: 20 }, (_, i) => lines(run(i % 2 === 0 ? b : a, 'alice', `EDT race 160 e${i}`)));
    expect(new Set((await Promise.all([...deletes, ...edits])).map((r) => r[0]))).toEqual(new Set(['The message has been deleted', 'The message has been edited']));
    const shown = await lines(run(a, 'carol', 'RDT race'));
    expect(shown.map((l) => Number(l.split(' ')[0]))).toEqual(Array.from({ length: 160 }, (_, i) => i + 1));
    // Each line is the message first at its place once the 40 first went, or one of the edits.
    shown.forEach((l, i) => expect(l).toMatch(new RegExp(`^${i + 1} alice: (y${i + 41}|e\\d+)$`)));
    const stored = await a.sql<{ entry_count: number; message_count: number; reply_bytes: string }[]>`SELECT entry_count, message_count, reply_bytes FROM threads WHERE title = 'race'`;
    expect(stored).toEqual([{ entry_count: 160, message_count: 160, reply_bytes: String(Buffer.byteLength(JSON.stringify(shown)) + 1) }]);
  });
});
