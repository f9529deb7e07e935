/**
 * An account's share of a thread read outside the thread row's lock (postgres-thread-share.ts): an upload's
 * start (`uploadProblem`) reads the thread's row in one statement and the account's holding in the next, so
 * the message count it has may be behind the lines the holding's statement sees (a DLT or a MSG committed
 * between the two). Schema 14's read found message 10, 100, 1,000 from the thread's end by that count: a DLT
 * in between made it take message 99 for 100 (a digit too many, an upload's start refused for a share it
 * fits), a MSG in between one too late or none (a digit too few). The holding is what the lines hold as the
 * statement sees them, whatever count the caller read before.
 */
import { describe, expect, it } from 'vitest';
import { accountHolding } from '../src/postgres-store/postgres-thread-share.js';
import { holdingIn } from '../src/store/thread-share.js';
import { threadSize } from '../src/store/thread-size.js';
import type { Thread, ThreadEntry } from '../src/store/thread.js';
import { run } from './helpers.js';
import { insertThread, usePostgres } from './postgres-harness.js';

const pg = usePostgres({ migrated: 2 });

/** Alice's thread of `n` messages, every `every`-th one mallory's. */
const thread = (title: string, n: number, every: number): Thread => ({
  title,
  creator: 'alice',
  entries: Array.from({ length: n }, (_, i): ThreadEntry => ({ kind: 'message', author: i % every === every - 1 ? 'mallory' : 'alice', text: `m${i + 1}` })),
});

describe("a non-creator's share read with a message count read before", () => {
  it('counts the numbers as the lines it reads have them after a DLT, and after MSGs, committed since the count was read', async () => {
    const store = await pg.openStore();
    // Written through the store (MSG), so that its DLTs and MSGs are the ones a server makes.
    await run(store, 'alice', 'CRT t');
    const before = thread('t', 120, 5);
    for (const e of before.entries) if (e.kind === 'message') await run(store, e.author, `MSG t ${e.text}`);
    const stale = threadSize(before);
    expect(await accountHolding(store.sql, stale, 'mallory')).toEqual(holdingIn(before, 'mallory'));
    // Alice deletes her first message: mallory's message 100 is now 99 (two digits), 110 is 109...
    expect((await run(store, 'alice', 'DLT t 1')).kind).toBe('reply');
    const afterDlt: Thread = { ...before, entries: before.entries.slice(1) };
    expect(await accountHolding(store.sql, stale, 'mallory')).toEqual(holdingIn(afterDlt, 'mallory'));
    // A thread of 95 read as 95, then 10 MSGs: mallory's messages 100 and 105 have three digits.
    await run(store, 'alice', 'CRT u');
    const small = thread('u', 95, 5);
    for (const e of small.entries) if (e.kind === 'message') await run(store, e.author, `MSG u ${e.text}`);
    const staleSmall = threadSize(small);
    const grown = thread('u', 105, 5);
    for (const e of grown.entries.slice(95)) if (e.kind === 'message') await run(store, e.author, `MSG u ${e.text}`);
    expect(await accountHolding(store.sql, staleSmall, 'mallory')).toEqual(holdingIn(grown, 'mallory'));
  });

  it('counts every number at and about 10, 100, 1,000 and 10,000 messages, from either end, with gaps', async () => {
    const store = await pg.openStore();
    const full = thread('w', 10_000, 7);
    // Alice's messages 3 and 40 deleted (gaps before every power), and mallory's too at 10,000.
    const entries = full.entries.filter((_, i) => i !== 2 && i !== 39);
    await insertThread(store.sql, { ...full, entries: [...entries, { kind: 'message', author: 'mallory', text: 'a' }, { kind: 'message', author: 'mallory', text: 'b' }] });
    let kept: ThreadEntry[] = [...entries, { kind: 'message', author: 'mallory', text: 'a' }, { kind: 'message', author: 'mallory', text: 'b' }];
    for (const m of [10_000, 9_999, 1_999, 1_998, 1_997, 1_001, 1_000, 999, 199, 198, 197, 101, 100, 99, 20, 19, 18, 11, 10, 9, 1]) {
      // Cut to m messages, as DLTs from the end leave the thread (its row written with them, as every writer's).
      const cut = kept.slice(0, m);
      const size = threadSize({ ...full, entries: cut });
      await store.sql.begin(async (tx) => {
        await tx`DELETE FROM entries WHERE thread = 'w' AND pos > (SELECT pos FROM entries WHERE thread = 'w' ORDER BY pos OFFSET ${m - 1} LIMIT 1)`;
        await tx`UPDATE threads SET entry_count = ${size.entries}, message_count = ${size.messages}, reply_bytes = ${size.replyBytes} WHERE title = 'w'`;
      });
      kept = cut;
      const now: Thread = { ...full, entries: cut };
      for (const who of ['mallory', 'alice']) expect([m, who, await accountHolding(store.sql, size, who)]).toEqual([m, who, holdingIn(now, who)]);
    }
  });
});
