import * as E from 'fp-ts/lib/Either.js';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSessionRegistry, handleRequest, INITIAL_AUTH_STATE, openFileStore, type ForumStore, type Request, type ThreadEntry } from '../src/index.js';
import { JOURNAL_FILE } from '../src/file-store/undo-journal.js';
import { lines, readAll, run, upload } from './helpers.js';

const freshDir = (): string => mkdtempSync(join(tmpdir(), 'forum-fs-'));
const open = async (dir: string): Promise<ForumStore> => {
  const s = await openFileStore(dir)();
  if (E.isLeft(s)) throw new Error(s.left.message);
  return s.right;
};
const snapshot = (dir: string): Record<string, string> =>
  Object.fromEntries(readdirSync(dir).sort().map((n) => [n, readFileSync(join(dir, n), 'latin1')]));

describe('data-directory store', () => {
  it('after a scripted session the directory is byte for byte the known-good one', async () => {
    const dir = freshDir();
    const s = await open(dir);
    const reg = createSessionRegistry();
    const req = (id: string, cmd: Request['cmd'], ...args: string[]): Request => ({ id, username: '', cmd, args });
    let st = (await handleRequest({ store: s, registry: reg, connectionKey: 'a' }, INITIAL_AUTH_STATE, req('1', 'username', 'yoda'))()).state;
    st = (await handleRequest({ store: s, registry: reg, connectionKey: 'a' }, st, req('2', 'newPassword', 'jedi*knight'))()).state;
    expect(st.step).toBe('authenticated');
    await s.createAccount({ username: 'hans', password: 'falcon*solo' })();
    await run(s, 'yoda', 'CRT 3331');
    await run(s, 'yoda', 'CRT 9331');
    await run(s, 'yoda', 'MSG 3331 First message');
    await run(s, 'hans', 'MSG 3331 Second  message: with colon');
    await run(s, 'yoda', 'MSG 3331 Third message');
    await upload(s, '3331', 'test.exe', 'hans', Buffer.from([0, 255, 10, 13, 0]));
    await run(s, 'yoda', 'DLT 3331 1');
    await run(s, 'yoda', 'EDT 3331 2 Third, edited');
    await run(s, 'hans', 'MSG 9331 only one');
    await run(s, 'yoda', 'RMV 9331');
    await run(s, 'hans', 'CRT empty');

    expect(snapshot(dir)).toEqual({
      'credentials.txt': 'yoda jedi*knight\nhans falcon*solo\n',
      '3331': 'yoda\n1 hans: Second  message: with colon\n2 yoda: Third, edited\nhans uploaded test.exe\n',
      '3331-test.exe': '\u0000\u00ff\n\r\u0000',
      empty: 'hans\n',
    });
  });

  it('edits and deletions anywhere in a thread of multi-byte lines leave the file the store would write whole', async () => {
    const dir = freshDir();
    const s = await open(dir);
    await run(s, 'ann', 'CRT t');
    for (let i = 0; i < 12; i++) await run(s, 'ann', `MSG t ${'é€😀'.repeat(i)} message ${i}`);
    // Near either end of the thread, so both ways of finding where the old tail starts are used.
    const changes = ['EDT t 1 ü first', 'EDT t 11 ☃ near the end', 'DLT t 2', 'EDT t 5 middle ∑', 'DLT t 9', 'DLT t 1', 'EDT t 8 last'];
    for (const change of changes) {
      expect(await lines(run(s, 'ann', change))).toEqual([change.startsWith('EDT') ? 'The message has been edited' : 'The message has been deleted']);
      const now = await lines(run(s, 'ann', 'RDT t'));
      expect(await lines(run(await open(dir), 'ann', 'RDT t'))).toEqual(now);
      expect(readFileSync(join(dir, 't'), 'utf8')).toBe(`ann\n${now.map((l) => `${l}\n`).join('')}`);
    }
    expect(await lines(run(s, 'ann', 'RDT t'))).toHaveLength(9);
  });

  it('a change from early in a large thread writes a new file renamed into place; one near its end rewrites the tail in place', async () => {
    const dir = freshDir();
    const s = await open(dir);
    await run(s, 'ann', 'CRT t');
    for (let i = 0; i < 40; i++) await run(s, 'ann', `MSG t ${String(i).padStart(4000, 'x')}`);
    const inode = (): number => statSync(join(dir, 't')).ino;
    const first = inode();
    // The tail from message 40 is one line: rewritten in place (through the undo journal).
    expect(await lines(run(s, 'ann', 'EDT t 40 last'))).toEqual(['The message has been edited']);
    expect(inode()).toBe(first);
    // From message 1 the tail is the whole 160 KB file: a new file, so it never passes through the journal.
    expect(await lines(run(s, 'ann', 'EDT t 1 first'))).toEqual(['The message has been edited']);
    expect(inode()).not.toBe(first);
    const now = await lines(run(s, 'ann', 'RDT t'));
    expect(now[0]).toBe('1 ann: first');
    expect(now[39]).toBe('40 ann: last');
    expect(readFileSync(join(dir, 't'), 'utf8')).toBe(`ann\n${now.map((l) => `${l}\n`).join('')}`);
    // No temporary file and no journal is left behind.
    expect(readdirSync(dir).filter((n) => n !== 't' && n !== 'credentials.txt')).toEqual([]);
  });

  it('a hand-written thread is checked whole before it is rewritten whole: a line that would read back changed refuses the change', async () => {
    const dir = freshDir();
    // CRLF, so the file is rewritten whole; message 1 ends in a carriage return, which a rewrite would lose.
    const text = 'ann\r\n1 ann: x\r\r\n2 ann: second\r\n';
    writeFileSync(join(dir, 't'), text);
    const s = await open(dir);
    const edit = await s.updateThread('t', (th) =>
      E.right({ thread: { ...th, entries: th.entries.map((e, i) => (i === 1 && e.kind === 'message' ? { ...e, text: 'edited' } : e)) }, result: undefined }),
    )();
    expect(edit).toEqual(E.left({ kind: 'io', message: 'cannot be stored exactly: the message text contains a line break (\\n or \\r)' }));
    expect(readFileSync(join(dir, 't'), 'utf8')).toBe(text);
  });

  it('a change may not add, remove or alter an upload line (those name files); one that keeps them, as copies or the same objects, goes ahead', async () => {
    const dir = freshDir();
    const text = 'ann\n1 ann: one\nbob uploaded f.txt\n2 ann: two\ncat uploaded g.txt\n';
    writeFileSync(join(dir, 't'), text);
    writeFileSync(join(dir, 't-f.txt'), 'f');
    writeFileSync(join(dir, 't-g.txt'), 'g');
    const s = await open(dir);
    type Entries = readonly ThreadEntry[];
    const change = (edit: (entries: Entries) => Entries) => s.updateThread('t', (th) => E.right({ thread: { ...th, entries: edit(th.entries) }, result: undefined }))();
    const refused = E.left({ kind: 'io', message: 'cannot be stored exactly: a thread update may not add, remove or change upload lines' });
    const uploadLine = (uploader: string, filename: string): ThreadEntry => ({ kind: 'upload', uploader, filename });
    // Added, removed (the last, then the first), renamed, re-attributed, reordered: each refused, the file as it was.
    for (const edit of [
      (es: Entries) => [...es, uploadLine('dan', 'h.txt')],
      (es: Entries) => es.slice(0, -1),
      (es: Entries) => es.filter((_, i) => i !== 1),
      (es: Entries) => es.map((e) => (e.kind === 'upload' && e.filename === 'g.txt' ? { ...e, filename: 'G.txt' } : e)),
      (es: Entries) => es.map((e) => (e.kind === 'upload' && e.filename === 'f.txt' ? { ...e, uploader: 'eve' } : e)),
      (es: Entries) => [es[0], es[4], es[2], es[3], es[1]].filter((e): e is ThreadEntry => e !== undefined),
    ]) {
      expect(await change(edit)).toEqual(refused);
      expect(readFileSync(join(dir, 't'), 'utf8')).toBe(text);
    }
    // Kept as they are (equal copies of the upload lines, messages around them changed): written.
    const kept = await change((es) => [...es.map((e) => (e.kind === 'upload' ? { ...e } : e.kind === 'message' ? { ...e, text: e.text.toUpperCase() } : e)), { kind: 'message', author: 'ann', text: 'three' }]);
    expect(kept).toEqual(E.right(undefined));
    expect(readFileSync(join(dir, 't'), 'utf8')).toBe('ann\n1 ann: ONE\nbob uploaded f.txt\n2 ann: TWO\ncat uploaded g.txt\n3 ann: three\n');
  });

  it('concurrent changes of a hand-written thread succeed together as they do one by one, and leave the file the store writes', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 't'), 'ann\r\n1 ann: one\r\n2 bob: two\r\n3 ann: three\r\n');
    const s = await open(dir);
    const [a, b] = await Promise.all([run(s, 'ann', 'EDT t 3 THREE', 'r1'), run(s, 'ann', 'EDT t 1 ONE', 'r2')]);
    expect([await lines(Promise.resolve(a)), await lines(Promise.resolve(b))]).toEqual([['The message has been edited'], ['The message has been edited']]);
    expect(readFileSync(join(dir, 't'), 'utf8')).toBe('ann\n1 ann: ONE\n2 bob: two\n3 ann: THREE\n');
  });

  it('after a write fails, a change written as a whole new file waits for the recovery of what it left (the journal may hold an undo of it)', async () => {
    const dir = freshDir();
    let now = 0;
    const opened = await openFileStore(dir, { clock: () => now })();
    if (E.isLeft(opened)) throw new Error(opened.left.message);
    const s = opened.right;
    await run(s, 'ann', 'CRT t');
    for (let i = 0; i < 40; i++) await run(s, 'ann', `MSG t ${String(i).padStart(4000, 'x')}`);
    const before = readFileSync(join(dir, 't'), 'utf8');
    // The journal cannot be created: the next change through it fails, and the directory turns read-only.
    mkdirSync(join(dir, JOURNAL_FILE));
    expect(E.isLeft(await s.updateThread('t', (th) => E.right({ thread: { ...th, entries: [...th.entries, { kind: 'message' as const, author: 'ann', text: 'z' }] }, result: undefined }))())).toBe(true);
    const editFirst = s.updateThread('t', (th) =>
      E.right({ thread: { ...th, entries: th.entries.map((e, i) => (i === 0 && e.kind === 'message' ? { ...e, text: 'first' } : e)) }, result: undefined }),
    );
    // Its recovery cannot read the journal (a directory): the whole-file write is refused.
    const early = await editFirst();
    expect(E.isLeft(early) && early.left.kind === 'io' && early.left.message).toMatch(/read-only after an earlier write failed/);
    expect(readFileSync(join(dir, 't'), 'utf8')).toBe(before);
    // Once it can (and a second later), the store recovers by itself and the write goes ahead.
    rmdirSync(join(dir, JOURNAL_FILE));
    now += 1_000;
    expect(await editFirst()).toEqual(E.right(undefined));
    expect(readFileSync(join(dir, 't'), 'utf8')).toBe(before.replace(/^(ann\n1 ann: )x+0\n/, '$1first\n'));
  });

  it('a line of a hand-written thread the store cannot write itself does not stop edits of the messages before it', async () => {
    const dir = freshDir();
    // Byte for byte what the store would write for these lines (so the file is its own), but the second
    // message holds a carriage return inside it, which MSG and EDT refuse to store.
    writeFileSync(join(dir, 't'), 'ann\n1 ann: first\n2 bob: one\rtwo\n');
    const s = await open(dir);
    expect(await lines(run(s, 'ann', 'EDT t 1 edited'))).toEqual(['The message has been edited']);
    expect(readFileSync(join(dir, 't'), 'utf8')).toBe('ann\n1 ann: edited\n2 bob: one\rtwo\n');
    expect(await lines(run(s, 'ann', 'DLT t 1'))).toEqual(['The message has been deleted']);
    expect(readFileSync(join(dir, 't'), 'utf8')).toBe('ann\n1 bob: one\rtwo\n');
    expect(await lines(run(await open(dir), 'ann', 'RDT t'))).toEqual(['1 bob: one\rtwo']);
  });

  it('a store opened on an existing directory sees its threads, accounts and uploads', async () => {
    const dir = freshDir();
    const s1 = await open(dir);
    await s1.createAccount({ username: 'a', password: 'p' })();
    await run(s1, 'a', 'CRT t1');
    await run(s1, 'a', 'MSG t1 hi');
    await upload(s1, 't1', 'notes.txt', 'a', Buffer.from('a\nfile that looks like text\n'));
    const s2 = await open(dir);
    expect(await lines(run(s2, 'a', 'LST'))).toEqual(['The list of active threads:', 't1']);
    expect(await lines(run(s2, 'a', 'RDT t1'))).toEqual(['1 a: hi', 'a uploaded notes.txt']);
    expect(await s2.getAccount('a')()).toEqual(E.right({ _tag: 'Some', value: { username: 'a', password: 'p' } }));
    const d = await s2.openDownload('t1', 'notes.txt')();
    if (E.isLeft(d)) throw new Error('download');
    expect((await readAll(d.right.stream)).toString()).toBe('a\nfile that looks like text\n');
  });

  it('reads a hand-written directory (CRLF, no final newline, odd numbering, stray lines)', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'credentials.txt'), 'Yoda jedi*knight\r\nbroken line with spaces\r\nHans falcon*solo');
    writeFileSync(join(dir, 'py'), 'Yoda\r\n1 Yoda: hello there\r\n7 Hans: renumber me\r\nHans uploaded f.bin\r\nsomething else');
    writeFileSync(join(dir, 'py-f.bin'), Buffer.from([1, 2, 3]));
    writeFileSync(join(dir, 'README.md'), '');
    const s = await open(dir);
    expect(s.warnings).toEqual([
      'credentials.txt line 2 is malformed and was skipped; logins as broken are refused until it is mended',
      // Not a thread: said, so an operator knows why CRT README.md is refused.
      'README.md is neither a thread file (not in the thread format) nor an upload of one: not served, left as it is, its name taken',
    ]);
    expect(await lines(run(s, 'Yoda', 'LST'))).toEqual(['The list of active threads:', 'py']);
    expect(await lines(run(s, 'Yoda', 'RDT py'))).toEqual(['1 Yoda: hello there', '2 Hans: renumber me', 'Hans uploaded f.bin', 'something else']);
    expect(await s.getAccount('Hans')()).toEqual(E.right({ _tag: 'Some', value: { username: 'Hans', password: 'falcon*solo' } }));
    // A rewrite keeps the skipped credentials line and the stray thread line.
    await s.createAccount({ username: 'new', password: 'pw' })();
    expect(readFileSync(join(dir, 'credentials.txt'), 'utf8')).toBe('Yoda jedi*knight\r\nbroken line with spaces\r\nHans falcon*solo\nnew pw\n');
    await run(s, 'Hans', 'MSG py more');
    expect(readFileSync(join(dir, 'py'), 'utf8')).toBe('Yoda\n1 Yoda: hello there\n2 Hans: renumber me\nHans uploaded f.bin\nsomething else\n3 Hans: more\n');
    // Files that are not threads are never clobbered by CRT.
    expect(await lines(run(s, 'Yoda', 'CRT README.md'))).toEqual(['Thread README.md exists']);
  });

  it('opens a directory holding a file whose name is not UTF-8 (a Latin-1 name copied in): warned of, left as it is', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 't'), 'alice\n1 alice: hi\n');
    // `café` in Latin-1 (0xe9), and a name of bytes alone: read as strings they became U+FFFD, which no file is named.
    const latin1 = Buffer.concat([Buffer.from(`${dir}/caf`), Buffer.from([0xe9])]);
    const bytes = Buffer.concat([Buffer.from(`${dir}/`), Buffer.from([0xff, 0xfe])]);
    writeFileSync(latin1, 'notes');
    writeFileSync(bytes, 'x');
    const s = await open(dir);
    expect([...s.warnings].sort()).toEqual([
      'a file whose name is not UTF-8 (\\xff\\xfe) is not served, left as it is',
      'a file whose name is not UTF-8 (caf\\xe9) is not served, left as it is',
    ]);
    expect(await lines(run(s, 'alice', 'LST'))).toEqual(['The list of active threads:', 't']);
    // The name U+FFFD reads as is a name of its own, and a thread may take it.
    expect(await lines(run(s, 'alice', 'CRT \ufffd\ufffd'))).toEqual(['Thread \ufffd\ufffd created']);
    expect(readFileSync(latin1, 'utf8')).toBe('notes');
    expect(readFileSync(bytes, 'utf8')).toBe('x');
  });

  it('reads a file whose name starts with a byte order mark as that name, not as the name without it', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 't'), 'alice\n1 alice: real\n');
    // A name a Windows tool may make (U+FEFF first). TextDecoder drops a leading BOM unless told not to: read back as
    // `notes` (no such file) the open failed with ENOENT, and as `t` it was the real thread read a second time.
    writeFileSync(join(dir, '\ufeffnotes'), 'bob\n1 bob: hi\n');
    writeFileSync(join(dir, '\ufefft'), 'carol\n1 carol: fake\n');
    const s = await open(dir);
    expect(await lines(run(s, 'alice', 'RDT t'))).toEqual(['1 alice: real']);
    expect(await lines(run(s, 'alice', 'LST'))).toEqual(['The list of active threads:', 't', '\ufeffnotes', '\ufefft']);
    expect(await lines(run(s, 'alice', 'RDT notes'))).toEqual(['Thread notes does not exist']);
  });

  it('opens a directory holding a file named as an intent record but not UTF-8: warned of, left as it is', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 't'), 'alice\n1 alice: hi\n');
    // Read as a string its name became `.forum-intent-\ufffd`, no file's name: its read failed the open ("cannot be read (ENOENT)").
    const odd = Buffer.concat([Buffer.from(`${dir}/.forum-intent-`), Buffer.from([0xff])]);
    writeFileSync(odd, '{}');
    const s = await open(dir);
    expect(s.warnings).toEqual(['a file whose name is not UTF-8 (.forum-intent-\\xff) is not served, left as it is']);
    expect(await lines(run(s, 'alice', 'LST'))).toEqual(['The list of active threads:', 't']);
    expect(readFileSync(odd, 'utf8')).toBe('{}');
  });

  it('a hand-written thread file that starts with a byte order mark is rewritten whole at its first change, not edited in place', async () => {
    const dir = freshDir();
    // Notepad saves UTF-8 with a mark. Decoded, the text lost it and matched what the store writes, so the file was
    // taken for its own and edited at offsets 3 bytes short: the creator line became `\ufeffali`, and at the next
    // start `t is neither a thread file (not in the thread format)`.
    writeFileSync(join(dir, 't'), '\ufeffalice\n1 alice: hello\n2 alice: second\n');
    const s = await open(dir);
    expect(await lines(run(s, 'alice', 'DLT t 1'))).toEqual(['The message has been deleted']);
    expect(readFileSync(join(dir, 't'), 'utf8')).toBe('alice\n1 alice: second\n');
    expect(await lines(run(await open(dir), 'alice', 'RDT t'))).toEqual(['1 alice: second']);
  });

  it('deletes temporary files left by a killed process and keeps the real files intact', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 't'), 'alice\n1 alice: old\n');
    writeFileSync(join(dir, '.forum-tmp-forum-server-0123456789abcdef'), 'alice\n1 alice: ne');
    const s = await open(dir);
    expect(readdirSync(dir).sort()).toEqual(['t']);
    expect(s.recovered).toEqual(['deleted .forum-tmp-forum-server-0123456789abcdef, the temporary file of a write cut short by a crash']);
    expect(await lines(run(s, 'alice', 'RDT t'))).toEqual(['1 alice: old']);
  });

  it('deletes the temporary files an older version left (`.forum-tmp-` and 16 hex digits, before the mark): an upgrade after a crash keeps no litter', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 't'), 'alice\n1 alice: old\n');
    // The shape every version before the mark made: kept for ever by the first version that deleted only its own.
    writeFileSync(join(dir, '.forum-tmp-0123456789abcdef'), 'alice\n1 alice: ne');
    const s = await open(dir);
    expect(readdirSync(dir).sort()).toEqual(['t']);
    expect(s.recovered).toEqual(['deleted .forum-tmp-0123456789abcdef, the temporary file of a write cut short by a crash']);
  });

  it("keeps files of the temporary files' prefix that the store did not make (another program's), and names its own so", async () => {
    const dir = freshDir();
    // Before: every `.forum-tmp-*` name was deleted at every open, whoever had made it.
    const foreign = ['.forum-tmp-deadbeef', '.forum-tmp-notes.txt', '.forum-tmp-0123456789abcdeF', '.forum-tmp-0123456789abcdef0', '.forum-tmp-forum-server-0123456789abcdeF', '.forum-tmp-forum-server-0123456789abcdef0'];
    for (const name of foreign) writeFileSync(join(dir, name), 'not the store\'s');
    const s = await open(dir);
    expect(readdirSync(dir).sort()).toEqual([...foreign].sort());
    expect(s.recovered ?? []).toEqual([]);
    // The store's own temporary files have the shape it deletes.
    const w = await s.beginUpload((await run(s, 'a', 'CRT t'), 't'), 'f.bin', 'a')();
    if (E.isLeft(w)) throw new Error('begin');
    await new Promise<void>((resolve) => w.right.stream.write(Buffer.alloc(10, 7), () => resolve()));
    const mine = readdirSync(dir).filter((n) => !foreign.includes(n) && n !== 't');
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatch(/^\.forum-tmp-forum-server-[0-9a-f]{16}$/);
    await w.right.abort();
  });

  it('leaves no temporary files behind after writes and an aborted upload', async () => {
    const dir = freshDir();
    const s = await open(dir);
    await run(s, 'a', 'CRT t');
    await run(s, 'a', 'MSG t x');
    const w = await s.beginUpload('t', 'big.bin', 'a')();
    if (E.isLeft(w)) throw new Error('begin');
    w.right.stream.write(Buffer.alloc(10_000, 7));
    await w.right.abort();
    expect(readdirSync(dir).sort()).toEqual(['t']);
  });

  it('RMV deletes the temporary files of the uploads in flight to the thread before it answers, and only theirs', async () => {
    const dir = freshDir();
    const s = await open(dir);
    await run(s, 'a', 'CRT t');
    await run(s, 'a', 'CRT u');
    const begin = async (title: string, filename: string) => {
      const w = await s.beginUpload(title, filename, 'b')();
      if (E.isLeft(w)) throw new Error('begin');
      await new Promise<void>((resolve) => w.right.stream.write(Buffer.alloc(10_000, 7), () => resolve()));
      return w.right;
    };
    const doomed = await Promise.all([begin('t', 'one.bin'), begin('t', 'two.bin')]);
    const kept = await begin('u', 'three.bin');
    expect(readdirSync(dir).filter((n) => n.startsWith('.forum-tmp-'))).toHaveLength(3);
    expect(await lines(run(s, 'a', 'RMV t'))).toEqual(['Thread t removed']);
    // Before: the two were left to run to their end (or to the stall timeout) and refused only at commit.
    expect(readdirSync(dir).filter((n) => n.startsWith('.forum-tmp-'))).toHaveLength(1);
    for (const w of doomed) expect(await w.stopped).toEqual({ kind: 'noThread', title: 't' });
    expect(await kept.commit()).toEqual(E.right(undefined));
    expect(readdirSync(dir).sort()).toEqual(['u', 'u-three.bin']);
  });

  it.runIf(process.platform === 'linux')('RMV closes the files of the downloads in flight from the thread before it answers, so their disk is freed', async () => {
    const dir = freshDir();
    const s = await open(dir);
    await run(s, 'a', 'CRT t');
    const bytes = Buffer.alloc(256 * 1024, 9);
    await upload(s, 't', 'big.bin', 'a', bytes);
    /**
     * Of `fds` (all of this process's open files if not given), those that are the upload (by device and inode, so
     * after its unlink too). The process is shared with other test files' threads: once the upload is unlinked and
     * closed, one of them may create a file that reuses its inode number, so after RMV only the descriptors that
     * held it before are looked at (the inode and the descriptor number both reused at once is not a worry).
     */
    const { dev, ino } = statSync(join(dir, 't-big.bin'));
    const holding = (fds: readonly string[] = readdirSync('/proc/self/fd')): string[] =>
      fds.filter((fd) => {
        try {
          const st = statSync(`/proc/self/fd/${fd}`);
          return st.dev === dev && st.ino === ino;
        } catch {
          return false;
        }
      });
    const d = await s.openDownload('t', 'big.bin')();
    if (E.isLeft(d)) throw new Error('openDownload');
    // A first chunk read, the rest waiting for the receiver.
    await new Promise<void>((resolve) => d.right.stream.once('readable', () => resolve()));
    const held = holding();
    expect(held).toHaveLength(1);
    expect(await lines(run(s, 'a', 'RMV t'))).toEqual(['Thread t removed']);
    // Before, the handle stayed open (the file's blocks held) until the receiver had read it all, however slowly.
    expect(holding(held)).toEqual([]);
    expect(await d.right.stopped).toEqual({ kind: 'noThread', title: 't' });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a thread and an upload can never claim the same file name', async () => {
    const s = await open(freshDir());
    await run(s, 'a', 'CRT a');
    await upload(s, 'a', 'b', 'a', Buffer.from('bytes'));
    expect(await lines(run(s, 'a', 'CRT a-b'))).toEqual(['Thread a-b exists']);
    await run(s, 'a', 'CRT c-d');
    await run(s, 'a', 'CRT c');
    expect(E.isLeft(await upload(s, 'c', 'd', 'a', Buffer.from('x')))).toBe(true);
  });

  it('upload names stay claimed across restarts and are freed when their thread is removed', async () => {
    const dir = freshDir();
    const s1 = await open(dir);
    await run(s1, 'a', 'CRT a');
    await upload(s1, 'a', 'b', 'a', Buffer.from('bytes'));
    await run(s1, 'a', 'CRT c');
    await upload(s1, 'c', 'd', 'a', Buffer.from('bytes'));
    const s2 = await open(dir);
    expect(await lines(run(s2, 'a', 'CRT a-b'))).toEqual(['Thread a-b exists']);
    expect(await lines(run(s2, 'a', 'CRT c-d'))).toEqual(['Thread c-d exists']);
    await run(s2, 'a', 'RMV a');
    expect(await lines(run(s2, 'a', 'CRT a-b'))).toEqual(['Thread a-b created']);
    // A new upload is claimed at once, and still after the next restart.
    await upload(s2, 'c', 'e', 'a', Buffer.from('more'));
    expect(await lines(run(s2, 'a', 'CRT c-e'))).toEqual(['Thread c-e exists']);
    const s3 = await open(dir);
    expect(await lines(run(s3, 'a', 'CRT c-e'))).toEqual(['Thread c-e exists']);
    expect(await lines(run(s3, 'a', 'CRT c-d'))).toEqual(['Thread c-d exists']);
    await run(s3, 'a', 'RMV c');
    expect(await lines(run(s3, 'a', 'CRT c-d'))).toEqual(['Thread c-d created']);
    expect(await lines(run(s3, 'a', 'CRT c-e'))).toEqual(['Thread c-e created']);
  });

  it('a hand-written directory recording one upload name in two threads keeps it claimed until both are removed', async () => {
    const dir = freshDir();
    // "x-y" + "z" and "x" + "y-z" are both the file x-y-z.
    writeFileSync(join(dir, 'x-y'), 'a\na uploaded z\n');
    writeFileSync(join(dir, 'x'), 'a\na uploaded y-z\n');
    writeFileSync(join(dir, 'x-y-z'), 'bytes');
    const s = await open(dir);
    expect(await lines(run(s, 'a', 'CRT x-y-z'))).toEqual(['Thread x-y-z exists']);
    expect(await lines(run(s, 'a', 'RMV x'))).toEqual(['Thread x removed']);
    expect(await lines(run(s, 'a', 'CRT x-y-z'))).toEqual(['Thread x-y-z exists']);
    await run(s, 'a', 'RMV x-y');
    expect(await lines(run(s, 'a', 'CRT x-y-z'))).toEqual(['Thread x-y-z created']);
  });

  it('concurrent changes are written together and each keeps its own outcome', async () => {
    const dir = freshDir();
    const s = await open(dir);
    // The same new name ten times at once: exactly one wins; an unstorable one fails alone.
    const same = await Promise.all(Array.from({ length: 10 }, (_, i) => s.createAccount({ username: 'dup', password: `p${i}` })()));
    expect(same.filter((r) => E.isRight(r) && r.right)).toHaveLength(1);
    expect(same.filter((r) => E.isRight(r) && !r.right)).toHaveLength(9);
    const mixed = await Promise.all([s.createAccount({ username: 'x', password: 'a' })(), s.createAccount({ username: 'bad name', password: 'a' })(), s.createAccount({ username: 'y', password: 'b' })()]);
    expect(mixed.map((r) => (E.isLeft(r) ? 'refused' : r.right))).toEqual([true, 'refused', true]);
    expect(readFileSync(join(dir, 'credentials.txt'), 'utf8').split('\n').slice(1)).toEqual(['x a', 'y b', '']);
    // Thirty users post to one thread at once, one with an unstorable text: the others land in order.
    await run(s, 'u0', 'CRT hot');
    const posts = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        s.updateThread('hot', (th) => E.right({ thread: { ...th, entries: [...th.entries, { kind: 'message' as const, author: `u${i}`, text: i === 7 ? 'line\nbreak' : `m${i}` }] }, result: i }))(),
      ),
    );
    expect(posts.map((r) => (E.isLeft(r) ? 'refused' : r.right))).toEqual(Array.from({ length: 30 }, (_, i) => (i === 7 ? 'refused' : i)));
    const want = Array.from({ length: 30 }, (_, i) => i).filter((i) => i !== 7).map((i, n) => `${n + 1} u${i}: m${i}`);
    expect(await lines(run(s, 'u0', 'RDT hot'))).toEqual(want);
    expect(readFileSync(join(dir, 'hot'), 'utf8')).toBe(['u0', ...want].map((l) => `${l}\n`).join(''));
    expect(readdirSync(dir).sort()).toEqual(['credentials.txt', 'hot']);
  });

  it('refuses to grow a thread past the size it would still be read back as a thread at', async () => {
    const dir = freshDir();
    const opened = await openFileStore(dir, { maxThreadFileBytes: 64 })();
    if (E.isLeft(opened)) throw new Error(opened.left.message);
    const s = opened.right;
    await run(s, 'ann', 'CRT t');
    await run(s, 'ann', `MSG t ${'x'.repeat(40)}`);
    const big = await s.updateThread('t', (th) => E.right({ thread: { ...th, entries: [...th.entries, { kind: 'message' as const, author: 'ann', text: 'y'.repeat(40) }] }, result: undefined }))();
    expect(big).toEqual(E.left({ kind: 'io', message: 'cannot be stored exactly: thread t would be larger than 64 bytes' }));
    const again = await openFileStore(dir, { maxThreadFileBytes: 64 })();
    if (E.isLeft(again)) throw new Error(again.left.message);
    expect(await lines(run(again.right, 'ann', 'RDT t'))).toEqual([`1 ann: ${'x'.repeat(40)}`]);
  });

  it('a credentials file with bytes that are not UTF-8 keeps them byte for byte: accounts are appended after them, a secret changed in its line', async () => {
    const dir = freshDir();
    // A malformed line of invalid bytes, and a Latin-1 name (ren\xe9) with a well-formed line of its own.
    const latin = Buffer.concat([Buffer.from('ren'), Buffer.from([0xe9]), Buffer.from(' pw4\r\n')]);
    const raw = Buffer.concat([Buffer.from('ann pw1\n'), Buffer.from([0xff, 0xfe, 0x20, 0x20, 0x41, 0x0a]), latin, Buffer.from('bob pw2\n')]);
    writeFileSync(join(dir, 'credentials.txt'), raw);
    const s = await open(dir);
    expect(s.warnings).toEqual(['credentials.txt line 2 is malformed and was skipped; logins as \ufffd\ufffd are refused until it is mended']);
    await s.createAccount({ username: 'cy', password: 'pw3' })();
    expect(readFileSync(join(dir, 'credentials.txt'))).toEqual(Buffer.concat([raw, Buffer.from('cy pw3\n')]));
    // Before: the file was rewritten whole from its decoded text, every invalid byte turned into U+FFFD (EF BF BD).
    expect(await s.replaceAccountSecret('bob', 'NEW')()).toEqual(E.right(true));
    expect(await s.replaceAccountSecret('cy', 'NEW3')()).toEqual(E.right(true));
    expect(readFileSync(join(dir, 'credentials.txt'))).toEqual(
      Buffer.concat([Buffer.from('ann pw1\n'), Buffer.from([0xff, 0xfe, 0x20, 0x20, 0x41, 0x0a]), latin, Buffer.from('bob NEW\ncy NEW3\n')]),
    );
    // The account read from a line of invalid bytes keeps its name's bytes: only the secret is its own to change.
    expect(await s.replaceAccountSecret('ren\ufffd', 'NEW4')()).toEqual(E.right(true));
    expect(readFileSync(join(dir, 'credentials.txt'))).toEqual(
      Buffer.concat([Buffer.from('ann pw1\n'), Buffer.from([0xff, 0xfe, 0x20, 0x20, 0x41, 0x0a]), Buffer.from('ren'), Buffer.from([0xe9]), Buffer.from(' NEW4\r\nbob NEW\ncy NEW3\n')]),
    );
    const again = await open(dir);
    expect(await again.getAccount('bob')()).toEqual(E.right({ _tag: 'Some', value: { username: 'bob', password: 'NEW' } }));
    expect(await again.getAccount('cy')()).toEqual(E.right({ _tag: 'Some', value: { username: 'cy', password: 'NEW3' } }));
    expect(await again.getAccount('ren\ufffd')()).toEqual(E.right({ _tag: 'Some', value: { username: 'ren\ufffd', password: 'NEW4' } }));
  });

  it('a byte order mark before the first credentials line (Notepad) is not part of its user name: the account is kept, not free to take', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'credentials.txt'), '\uFEFFalice secret\r\nbob pw\r\n');
    const s = await open(dir);
    // Before: 'credentials.txt line 1 is malformed and was skipped', and a login as alice made her account anew.
    expect(s.warnings).toEqual([]);
    expect(await s.getAccount('alice')()).toEqual(E.right({ _tag: 'Some', value: { username: 'alice', password: 'secret' } }));
    expect(await s.createAccount({ username: 'alice', password: 'hacked' })()).toEqual(E.right(false));
    expect(await s.replaceAccountSecret('alice', 'NEW')()).toEqual(E.right(true));
    // The mark and the line ends stay as they were.
    expect(readFileSync(join(dir, 'credentials.txt'), 'utf8')).toBe('\uFEFFalice NEW\r\nbob pw\r\n');
    const again = await open(dir);
    expect(await again.getAccount('alice')()).toEqual(E.right({ _tag: 'Some', value: { username: 'alice', password: 'NEW' } }));
  });

  it('a credentials file holding only a byte order mark gets its first account on the first line, not after a blank one', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'credentials.txt'), '\uFEFF');
    const s = await open(dir);
    expect(await s.createAccount({ username: 'alice', password: 'pw' })()).toEqual(E.right(true));
    // Before: '\uFEFF\nalice pw\n', a blank first line (the mark taken for an unfinished line).
    expect(readFileSync(join(dir, 'credentials.txt'), 'utf8')).toBe('\uFEFFalice pw\n');
    const again = await open(dir);
    expect(again.warnings).toEqual([]);
    expect(await again.getAccount('alice')()).toEqual(E.right({ _tag: 'Some', value: { username: 'alice', password: 'pw' } }));
  });

  it('the name of a malformed credentials line is not registered anew: the login says the account cannot be used, and nothing is written', async () => {
    const dir = freshDir();
    const text = 'alice secret \nbob\tpw\ncarol\nbroken line two\nbroken ok\n';
    writeFileSync(join(dir, 'credentials.txt'), text);
    const s = await open(dir);
    expect(s.warnings).toEqual([
      ...['alice', 'bob', 'carol'].map((name, i) => `credentials.txt line ${i + 1} is malformed and was skipped; logins as ${name} are refused until it is mended`),
      'credentials.txt line 4 is malformed and was skipped',
    ]);
    expect(['alice', 'bob', 'carol', 'broken', 'dave'].map((n) => s.damagedAccount?.(n))).toEqual([1, 2, 3, undefined, undefined]);
    const reg = createSessionRegistry();
    const step = (state: Parameters<typeof handleRequest>[1], cmd: Request['cmd'], value: string) =>
      handleRequest({ store: s, registry: reg, connectionKey: 'a' }, state, { id: '1', username: '', cmd, args: [value] })();
    const refused = await step(INITIAL_AUTH_STATE, 'username', 'alice');
    // Before: `New user, enter password:`, and the account was alice's who answered it first.
    expect(refused.state.step).toBe('awaitingUsername');
    expect(refused.outcome).toMatchObject({ kind: 'reply', reply: { status: 'error', lines: ["The account alice cannot be used until the server's operator mends its line in credentials.txt"] } });
    expect(await s.createAccount({ username: 'bob', password: 'hacked' })()).toMatchObject(E.left({ kind: 'io' }));
    // The well-formed line of a name keeps its account; a name of no line registers as before.
    expect((await step(INITIAL_AUTH_STATE, 'username', 'broken')).state.step).toBe('awaitingPassword');
    expect((await step(INITIAL_AUTH_STATE, 'username', 'dave')).state.step).toBe('awaitingNewPassword');
    expect(readFileSync(join(dir, 'credentials.txt'), 'utf8')).toBe(text);
  });

  it('a malformed credentials line with white space or a byte order mark before its name holds that name too', async () => {
    const dir = freshDir();
    // A second file saved by Notepad joined on with `cat`: its mark starts line 2; line 3 was indented by hand.
    const text = 'bob pw\n\uFEFFalice secret\n  carol pw3\n';
    writeFileSync(join(dir, 'credentials.txt'), text);
    const s = await open(dir);
    expect(s.warnings).toEqual(
      [
        [2, 'alice'],
        [3, 'carol'],
      ].map(([n, name]) => `credentials.txt line ${n} is malformed and was skipped; logins as ${name} are refused until it is mended`),
    );
    // Before: undefined for both, and a login as alice or carol made the account anew with the caller's password.
    expect(['alice', 'carol', 'bob'].map((n) => s.damagedAccount?.(n))).toEqual([2, 3, undefined]);
    expect(await s.createAccount({ username: 'alice', password: 'hacked' })()).toMatchObject(E.left({ kind: 'io' }));
    expect(readFileSync(join(dir, 'credentials.txt'), 'utf8')).toBe(text);
  });

  it('a name differing from a damaged one only in letter case is held too (one name, names.ts)', async () => {
    const dir = freshDir();
    const text = 'alice secret \nbob pw\n';
    writeFileSync(join(dir, 'credentials.txt'), text);
    const s = await open(dir);
    // Before: undefined, and `Alice` registered beside the damaged `alice`: two accounts of one name once it is mended.
    expect(['Alice', 'ALICE', 'alice', 'Bob'].map((n) => s.damagedAccount?.(n))).toEqual([1, 1, 1, undefined]);
    expect(await s.createAccount({ username: 'Alice', password: 'hacked' })()).toMatchObject(E.left({ kind: 'io' }));
    expect(readFileSync(join(dir, 'credentials.txt'), 'utf8')).toBe(text);
  });

  it('concurrent new accounts are all kept', async () => {
    const dir = freshDir();
    const s = await open(dir);
    await Promise.all(Array.from({ length: 25 }, (_, i) => s.createAccount({ username: `u${i}`, password: `p${i}` })()));
    const text = readFileSync(join(dir, 'credentials.txt'), 'utf8');
    expect(text.split('\n').filter((l) => l !== '').sort()).toEqual(Array.from({ length: 25 }, (_, i) => `u${i} p${i}`).sort());
  });
});
