/**
 * A file the data-directory store writes, made longer by another writer while
 * the store runs: its next change is refused instead of cutting the other
 * writer's bytes off. Attack round 9 (attack/fence-takeover.ts): a server
 * frozen while its lock was taken over finished its append late, and the new
 * holder's next append (at the length it knew) cut it off, or the late append
 * cut off messages the new holder had confirmed.
 */
import * as E from 'fp-ts/lib/Either.js';
import { appendFile, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openFileStore, parseCredentials, type ForumStore } from '../src/index.js';

/** The data-directory store of `dir`; `owned`: whether the directory is still the store's (the server's lock). */
const open = async (dir: string, owned?: () => Promise<boolean>): Promise<ForumStore> => {
  const s = await openFileStore(dir, owned === undefined ? {} : { owned })();
  if (E.isLeft(s)) throw new Error(s.left.message);
  return s.right;
};
const anySize = (): E.Either<never, void> => E.right(undefined);
/** alice's message `text` appended to thread `t`. */
const aliceMessage = (store: ForumStore, text: string) => store.appendEntry('t', { kind: 'message', author: 'alice', text }, anySize)();

describe('data-directory store: a file another writer made longer', () => {
  it('a thread appended to by another writer: the next append is refused, the file read again, and the one after goes ahead after their line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'foreign-append-'));
    const store = await open(dir);
    expect(await store.createThread('t', 'alice')()).toEqual(E.right(true));
    expect(await store.appendEntry('t', { kind: 'message', author: 'alice', text: 'one' }, anySize)()).toEqual(E.right(undefined));
    // What a server that lost its lock writes late: the next message, as it numbered it.
    await appendFile(join(dir, 't'), '2 bob: confirmed by the other server\n');
    const second = await store.appendEntry('t', { kind: 'message', author: 'alice', text: 'two' }, anySize)();
    // Before: written at the length this store knew, cutting bob's line off (Right, and the file without it).
    expect(second).toMatchObject({ _tag: 'Left', left: { kind: 'io', message: 't is 56 bytes, not the 19 this server wrote; it was changed by another program' } });
    expect(await readFile(join(dir, 't'), 'utf8')).toBe('alice\n1 alice: one\n2 bob: confirmed by the other server\n');
    // Read again: the thread as the file holds it, and the next change goes ahead (before this: refused until a restart).
    const thread = await store.getThread('t')();
    expect(E.isRight(thread) && thread.right._tag === 'Some' ? thread.right.value.entries.map((e) => (e.kind === 'message' ? e.text : e.kind)) : thread).toEqual(['one', 'confirmed by the other server']);
    expect(await store.appendEntry('t', { kind: 'message', author: 'alice', text: 'two' }, anySize)()).toEqual(E.right(undefined));
    expect(await store.changeMessage('t', 1, { noMessage: 'none', decide: () => E.right({ kind: 'edit', text: 'one, edited' } as const) })()).toEqual(E.right(undefined));
    expect(await readFile(join(dir, 't'), 'utf8')).toBe('alice\n1 alice: one, edited\n2 bob: confirmed by the other server\n3 alice: two\n');
    // And a restart reads the same.
    const reopened = await open(dir);
    const after = await reopened.getThread('t')();
    expect(E.isRight(after) && after.right._tag === 'Some' ? after.right.value.entries.length : after).toBe(3);
  });

  it('a store told the directory may no longer be its own (owned false: its lock lost) does not read the file again: its changes stay refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'foreign-append-'));
    let owned = true;
    const store = await open(dir, async () => owned);
    expect(await store.createThread('t', 'alice')()).toEqual(E.right(true));
    owned = false;
    // The server that took the directory over appended; read again, this store would append after it, beside that server's writes.
    await appendFile(join(dir, 't'), '1 bob: confirmed by the server that took over\n');
    expect((await aliceMessage(store, 'late one'))._tag).toBe('Left');
    expect((await aliceMessage(store, 'late two'))._tag).toBe('Left');
    expect(await readFile(join(dir, 't'), 'utf8')).toBe('alice\n1 bob: confirmed by the server that took over\n');
  });

  it('a thread given an upload line by another writer is not read again (the line names a file the store does not count): its changes stay refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'foreign-append-'));
    const store = await open(dir);
    expect(await store.createThread('t', 'alice')()).toEqual(E.right(true));
    await appendFile(join(dir, 't'), 'bob uploaded f.bin\n');
    expect((await aliceMessage(store, 'one'))._tag).toBe('Left');
    expect((await aliceMessage(store, 'two'))._tag).toBe('Left');
    expect(await readFile(join(dir, 't'), 'utf8')).toBe('alice\nbob uploaded f.bin\n');
  });

  it('CRT of a name another writer created meanwhile does not replace its file; CRT and RMV are refused once the directory is no longer the store\'s', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'foreign-append-'));
    let owned = true;
    const store = await open(dir, async () => owned);
    // The server that lost the directory, woken mid-CRT, made R1 after this store looked.
    await writeFile(join(dir, 'R1'), 'churn\n');
    // Before: Right(true), churn's file replaced by bee's.
    expect(await store.createThread('R1', 'bee')()).toEqual(E.right(false));
    expect(await readFile(join(dir, 'R1'), 'utf8')).toBe('churn\n');
    expect(await store.createThread('R2', 'bee')()).toEqual(E.right(true));
    owned = false;
    expect((await store.createThread('R3', 'bee')())._tag).toBe('Left');
    expect((await store.removeThread('R2', () => E.right(undefined))())._tag).toBe('Left');
    expect(await readFile(join(dir, 'R2'), 'utf8')).toBe('bee\n');
    await expect(readFile(join(dir, 'R3'), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('an upload committed once the directory is no longer the store\'s is not put in place: the new holder\'s file of that name stays', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'foreign-append-'));
    let owned = true;
    const store = await open(dir, async () => owned);
    expect(await store.createThread('t', 'alice')()).toEqual(E.right(true));
    const begun = await store.beginUpload('t', 'f.bin', 'alice')();
    if (E.isLeft(begun)) throw new Error('refused');
    begun.right.stream.end(Buffer.from('bytes'));
    owned = false;
    // The server that took the directory over stored an upload of the same name meanwhile.
    await writeFile(join(dir, 't-f.bin'), 'the new holder\'s upload');
    // Before: renamed over the new holder's file, then (its line refused by the journal) deleted: that upload gone.
    expect((await begun.right.commit())._tag).toBe('Left');
    expect(await readFile(join(dir, 't-f.bin'), 'utf8')).toBe('the new holder\'s upload');
    expect((await readdir(dir)).sort()).toEqual(['t', 't-f.bin']);
    expect(await readFile(join(dir, 't'), 'utf8')).toBe('alice\n');
  });

  it('a hand-written thread (rewritten whole on its first change) is not rewritten once the directory is no longer the store\'s', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'foreign-append-'));
    const handWritten = 'alice\n 1 alice:hello\n';
    await writeFile(join(dir, 't'), handWritten);
    let owned = true;
    const store = await open(dir, async () => owned);
    owned = false;
    // Before: rewritten whole (temporary file renamed over it), whoever held the directory.
    expect((await store.appendEntry('t', { kind: 'message', author: 'alice', text: 'two' }, anySize)())._tag).toBe('Left');
    expect(await readFile(join(dir, 't'), 'utf8')).toBe(handWritten);
  });

  it('credentials.txt appended to by another writer: the next account is refused, not written over the other line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'foreign-append-'));
    const store = await open(dir);
    expect(await store.createAccount({ username: 'alice', password: 'pw-a' })()).toEqual(E.right(true));
    await appendFile(join(dir, 'credentials.txt'), 'bob pw-b\n');
    const carol = await store.createAccount({ username: 'carol', password: 'pw-c' })();
    // Before: carol's line was written where bob's began (Right, and bob's account gone).
    expect(carol._tag).toBe('Left');
    expect(parseCredentials(await readFile(join(dir, 'credentials.txt'), 'utf8')).accounts.map((a) => a.username)).toEqual(['alice', 'bob']);
  });
});
