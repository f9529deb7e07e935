/**
 * The read of one account's lines of a thread on PostgreSQL (postgres-thread-share.ts), which every MSG, upload
 * line and longer EDT of an account other than the creator makes, under the thread row's lock, once the thread
 * holds more than a share. Attack round 28 (`attack/thread-share-scan.ts`): numbered by a window over every line
 * of the thread, it took 20-35 ms of the database a read on a thread of 10,000 lines, and a MSG to a full thread
 * read it too before being refused as full.
 */
import type { Sql, TransactionSql } from 'postgres';
import { describe, expect, it } from 'vitest';
import { accountHolding, holdingAfterAppend } from '../src/postgres-store/postgres-thread-share.js';
import { MAX_THREAD_ENTRIES } from '../src/protocol/limits.js';
import { holdingIn } from '../src/store/thread-share.js';
import { threadSize, appendedSize, type ThreadSize } from '../src/store/thread-size.js';
import type { Thread, ThreadEntry } from '../src/store/thread.js';
import { insertThread, usePostgres } from './postgres-harness.js';
import { prng as seeded } from './seeded-random.js';

const pg = usePostgres({ migrated: 4 });

/** The statements run through `sql` (tagged or `unsafe`), with their parameters, as `$n` text: so that their plans can be asked for. */
const recording = (sql: Sql): { readonly sql: Sql; readonly seen: { readonly text: string; readonly params: readonly unknown[] }[] } => {
  const seen: { text: string; params: readonly unknown[] }[] = [];
  const tagged = (strings: TemplateStringsArray, ...values: readonly unknown[]): unknown => {
    seen.push({ text: strings.reduce((text, s, i) => `${text}$${i}${s}`), params: values });
    return (sql as unknown as (s: TemplateStringsArray, ...v: readonly unknown[]) => unknown)(strings, ...values);
  };
  const unsafe = (text: string, params: readonly unknown[] = []): unknown => {
    seen.push({ text, params });
    return sql.unsafe(text, params as never[]);
  };
  return { sql: Object.assign(tagged, { unsafe }) as unknown as Sql, seen };
};

/** Node types of an EXPLAIN (FORMAT JSON) plan. */
const nodeTypes = (plan: unknown): string[] => {
  if (Array.isArray(plan)) return plan.flatMap(nodeTypes);
  if (typeof plan !== 'object' || plan === null) return [];
  const node = plan as { readonly 'Node Type'?: string; readonly Plans?: readonly unknown[]; readonly Plan?: unknown };
  return [...(node['Node Type'] === undefined ? [] : [node['Node Type']]), ...nodeTypes(node.Plan), ...(node.Plans ?? []).flatMap(nodeTypes)];
};

/** Alice's thread: `n` lines, every third mallory's (a message, or every seventh an upload line), texts JSON escapes. */
const mixedThread = (title: string, n: number): Thread => {
  const texts = ['plain', 'quote " and \\ backslash', 'tab\there', 'é and ✓ and 🙂', '\u0001 control', 'x'.repeat(200)];
  const entries: ThreadEntry[] = Array.from({ length: n }, (_, i): ThreadEntry => {
    if (i % 3 !== 0) return { kind: 'message', author: i % 2 === 0 ? 'alice' : 'bob', text: texts[i % texts.length] ?? '' };
    if (i % 7 === 0) return { kind: 'upload', uploader: 'mallory', filename: `f${i}.bin` };
    return { kind: 'message', author: 'mallory', text: texts[i % texts.length] ?? '' };
  });
  return { title, creator: 'alice', entries };
};


/** Texts whose JSON escapes or leaves alone what to_json may count otherwise: separators, DEL, controls, a backslash-u, astral and combining characters. */
const AWKWARD = ['a', '\u2028 and \u2029', '\u007f del', '\u001f unit', '\\u0000 literal', '"q"', '\b\f\n\r\t', '🙂🙂', 'e\u0301', '</script>', ''];

/** `thread` without the lines at `positions` (from 1), deleted as DLT leaves the rows and the thread's row. */
const deleteLines = async (sql: Sql, thread: Thread, positions: ReadonlySet<number>): Promise<Thread> => {
  const messages = [...positions].filter((p) => thread.entries[p - 1]?.kind === 'message').length;
  await sql.begin(async (tx) => {
    await tx`UPDATE threads SET message_count = message_count - ${messages}, entry_count = entry_count - ${positions.size} WHERE title = ${thread.title}`;
    await tx`DELETE FROM entries WHERE thread = ${thread.title} AND pos = ANY(${[...positions]}::bigint[])`;
  });
  return { ...thread, entries: thread.entries.filter((_, i) => !positions.has(i + 1)) };
};

describe('an account\'s lines of a thread, read on PostgreSQL', () => {
  it('count what the lines count (RDT\'s numbering past 10, 100 and 1,000 messages, uploads, escapes, gaps left by deletions)', async () => {
    const store = await pg.openStore();
    const thread = mixedThread('mixed', 1_500);
    await insertThread(store.sql, thread);
    // Messages 5, 50, 500 and 1,000 deleted, as DLT leaves them: the later ones numbered one less each time.
    const deleted = new Set<number>();
    let n = 0;
    thread.entries.forEach((e, i) => {
      if (e.kind === 'message' && [5, 50, 500, 1000].includes(++n)) deleted.add(i + 1);
    });
    await store.sql.begin(async (tx) => {
      await tx`UPDATE threads SET message_count = message_count - ${deleted.size}, entry_count = entry_count - ${deleted.size} WHERE title = 'mixed'`;
      await tx`DELETE FROM entries WHERE thread = 'mixed' AND pos = ANY(${[...deleted]}::bigint[])`;
    });
    const after: Thread = { ...thread, entries: thread.entries.filter((_, i) => !deleted.has(i + 1)) };
    for (const account of ['mallory', 'bob', 'alice', 'nobody']) {
      expect(await accountHolding(store.sql, threadSize(after), account)).toEqual(holdingIn(after, account));
    }
  });

  it('numbers no message by a window over every line of the thread', async () => {
    const store = await pg.openStore();
    const thread = mixedThread('planned', 3_000);
    await insertThread(store.sql, thread);
    const { sql, seen } = recording(store.sql);
    expect(await accountHolding(sql, threadSize(thread), 'mallory')).toEqual(holdingIn(thread, 'mallory'));
    expect(seen.length).toBeGreaterThan(0);
    for (const { text, params } of seen) {
      const [row] = await store.sql.unsafe<{ 'QUERY PLAN': unknown }[]>(`EXPLAIN (FORMAT JSON) ${text}`, params as never[]);
      const types = nodeTypes(row?.['QUERY PLAN']);
      expect(types).toContain('Aggregate');
      expect(types).not.toContain('WindowAgg');
    }
  });

  it('are not read for a line appended to a full thread, refused as full whoever asks', async () => {
    const entries: ThreadEntry[] = Array.from({ length: MAX_THREAD_ENTRIES }, (): ThreadEntry => ({ kind: 'message', author: 'alice', text: 'a' }));
    const before: ThreadSize = threadSize({ title: 'full', creator: 'alice', entries });
    const line: ThreadEntry = { kind: 'message', author: 'mallory', text: 'one more' };
    // Any statement fails the test: nothing is to be asked of the database.
    const asked = (): never => {
      throw new Error('the thread\'s lines were read');
    };
    const noDatabase = Object.assign(asked, { unsafe: asked }) as unknown as TransactionSql;
    expect(await holdingAfterAppend(noDatabase, before, appendedSize(before, line), line)).toBeUndefined();
  });
  it('count exactly on threads whose last message is the 9th to 12th, 99th to 102nd and 999th to 1,002nd, the 10^k-th the account\'s, before and after deletions', async () => {
    // Review of round 28: the digits come from where the 10^k-th message sits and the row's message count gates
    // each look-up, so the counts are tried where a number gains a digit, on either side, and after DLTs move it.
    const store = await pg.openStore();
    let made = 0;
    for (const last of [9, 10, 11, 12, 99, 100, 101, 102, 999, 1000, 1001, 1002]) {
      for (let seed = 1; seed <= 3; seed++) {
        const next = seeded(last * 31 + seed);
        const entries: ThreadEntry[] = [];
        for (let m = 0; m < last; ) {
          if (next() < 0.15) entries.push({ kind: 'upload', uploader: next() < 0.5 ? 'mallory' : 'bob', filename: `f${entries.length}\u2028"x".bin` });
          else {
            m += 1;
            const author = [10, 100, 1000, last].includes(m) || next() < 0.3 ? 'mallory' : next() < 0.5 ? 'bob' : 'alice';
            entries.push({ kind: 'message', author, text: AWKWARD[Math.floor(next() * AWKWARD.length)] ?? '' });
          }
        }
        const thread: Thread = { title: `b${made++}`, creator: 'alice', entries };
        await insertThread(store.sql, thread);
        const gone = new Set(entries.flatMap((_, i) => (next() < 0.05 ? [i + 1] : [])));
        const after = await deleteLines(store.sql, thread, gone);
        for (const account of ['mallory', 'bob', 'alice']) {
          expect(await accountHolding(store.sql, threadSize(after), account)).toEqual(holdingIn(after, account));
        }
      }
    }
  }, 120_000);

  it('count the five digits of the 10,000th message (an EDT\'s read of a thread of 10,000 messages)', async () => {
    const store = await pg.openStore();
    const entries = Array.from({ length: MAX_THREAD_ENTRIES }, (_, i): ThreadEntry => ({
      kind: 'message',
      author: i >= MAX_THREAD_ENTRIES - 2 || i % 97 === 0 ? 'mallory' : 'alice',
      text: AWKWARD[i % AWKWARD.length] ?? '',
    }));
    const thread: Thread = { title: 'tenthousand', creator: 'alice', entries };
    await insertThread(store.sql, thread);
    expect(await accountHolding(store.sql, threadSize(thread), 'mallory')).toEqual(holdingIn(thread, 'mallory'));
  }, 60_000);
});
