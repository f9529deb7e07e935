import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import {
  createSessionRegistry,
  encodeServerMessage,
  handleRequest,
  MAX_SERVER_MESSAGE_BYTES,
  MAX_THREAD_ENTRIES,
  MAX_THREAD_REPLY_BYTES,
  MAX_USER_THREAD_ENTRIES,
  MAX_USER_THREAD_REPLY_BYTES,
  INITIAL_AUTH_STATE,
  originOfAddress,
  type AuthState,
  type ForumStore,
  type Reply,
  type Request,
  type SessionRegistry,
  type Thread,
  type ThreadEntry,
  type ThreadLimits,
  type UploadWriter,
} from '../src/index.js';
import { lines, readAll, replyOf, run, upload } from './helpers.js';
import { threadOfLines, threadOfReplyBytes } from './thread-seed.js';

const shareFull = (title: string, limit: number, unit: string): string =>
  `Your messages hold as much of Thread ${title} as one user may: at most ${limit} ${unit} of it (delete some of your messages in it to make room)`;

const networkThreads = (limit: number): string =>
  `Your account and the others created from the same network have created too many threads (at most ${limit}): remove one of theirs before creating another`;

/** `n` as two hex digits (an IPv6 group's low byte). */
const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

const full = (title: string): string => `Thread ${title} is full: it cannot grow any longer (delete or shorten messages, or start a new thread)`;

/** Begins an upload that must be accepted and writes `bytes` to it (not yet committed). */
const begin = async (store: ForumStore, title: string, filename: string, user: string, bytes: Uint8Array): Promise<UploadWriter> => {
  const w = await store.beginUpload(title, filename, user)();
  if (E.isLeft(w)) throw new Error(`beginUpload ${filename}: ${JSON.stringify(w.left)}`);
  await new Promise<void>((resolve, reject) => w.right.stream.write(Buffer.from(bytes), (err) => (err ? reject(err) : resolve())));
  return w.right;
};

/**
 * Every row of forum-spec.md's command table, run against the store `make`
 * returns; the login tests use the session registry `makeRegistry` returns
 * (default: the in-memory one).
 */
/** What a suite's store is opened with. */
export interface SuiteStoreOptions {
  readonly threadLimits?: Partial<ThreadLimits>;
  /** Threads the store holds when it opens (written as the store keeps them, not through commands). */
  readonly threads?: readonly Thread[];
}

export const commandSuite = (
  name: string,
  make: (options?: SuiteStoreOptions) => Promise<ForumStore>,
  makeRegistry: () => SessionRegistry = createSessionRegistry,
): void => {
  describe(`commands against the ${name} store`, () => {
    it('CRT past the threads one user may create, or the forum may hold, is refused with the limit; RMV makes room', async () => {
      const s = await make({ threadLimits: { maxThreadsPerUser: 2, maxThreads: 3 } });
      expect(await lines(run(s, 'alice', 'CRT a1'))).toEqual(['Thread a1 created']);
      expect(await lines(run(s, 'alice', 'CRT a2'))).toEqual(['Thread a2 created']);
      const refused = replyOf(await run(s, 'alice', 'CRT a3'));
      expect(refused).toMatchObject({ status: 'error', lines: ['You have created too many threads (at most 2): remove one of yours before creating another'] });
      // An existing title is still named as such, not as a limit.
      expect(await lines(run(s, 'alice', 'CRT a1'))).toEqual(['Thread a1 exists']);
      expect(await lines(run(s, 'bob', 'CRT b1'))).toEqual(['Thread b1 created']);
      expect(await lines(run(s, 'carol', 'CRT c1'))).toEqual(['The forum is full (at most 3 threads): no thread can be created until one is removed']);
      expect(await lines(run(s, 'alice', 'RMV a1'))).toEqual(['Thread a1 removed']);
      expect(await lines(run(s, 'carol', 'CRT c1'))).toEqual(['Thread c1 created']);
      expect(await lines(run(s, 'alice', 'LST'))).toEqual(['The list of active threads:', 'a2', 'b1', 'c1']);
    });

    it('30 concurrent CRTs by one user create exactly the limit', async () => {
      const s = await make({ threadLimits: { maxThreadsPerUser: 4 } });
      const replies = await Promise.all(Array.from({ length: 30 }, (_, i) => lines(run(s, 'alice', `CRT t${i}`))));
      expect(replies.filter((r) => r[0]?.endsWith(' created'))).toHaveLength(4);
      expect(replies.filter((r) => r[0]?.startsWith('You have created too many threads'))).toHaveLength(26);
      expect(await lines(run(s, 'alice', 'LST'))).toHaveLength(1 + 4);
    });

    it('CRT past the threads the accounts of one origin may create together is refused with their limit; another origin\'s account, and one of none, still create; RMV makes room', async () => {
      const s = await make({ threadLimits: { maxThreadsPerUser: 2, originShares: 2 } });
      for (const u of ['m1', 'm2', 'm3']) expect(await s.createAccount({ username: u, password: 'pw', origin: '127.0.0.9' })()).toEqual(E.right(true));
      expect(await s.createAccount({ username: 'other', password: 'pw', origin: '2001:db8:0:1::/64' })()).toEqual(E.right(true));
      expect(await s.createAccount({ username: 'old', password: 'pw' })()).toEqual(E.right(true));
      for (const [u, t] of [['m1', 'a1'], ['m1', 'a2'], ['m2', 'b1'], ['m2', 'b2']]) expect(await lines(run(s, u ?? '', `CRT ${t ?? ''}`))).toEqual([`Thread ${t ?? ''} created`]);
      const refused = 'Your account and the others created from the same address have created too many threads (at most 4): remove one of theirs before creating another';
      expect(await lines(run(s, 'm3', 'CRT c1'))).toEqual([refused]);
      expect(await lines(run(s, 'other', 'CRT o1'))).toEqual(['Thread o1 created']);
      expect(await lines(run(s, 'old', 'CRT x1'))).toEqual(['Thread x1 created']);
      expect(await lines(run(s, 'm1', 'RMV a1'))).toEqual(['Thread a1 removed']);
      expect(await lines(run(s, 'm3', 'CRT c1'))).toEqual(['Thread c1 created']);
      expect(await lines(run(s, 'm3', 'CRT c2'))).toEqual([refused]);
    });

    it('30 concurrent CRTs by three accounts of one origin create exactly the origin\'s limit', async () => {
      const s = await make({ threadLimits: { maxThreadsPerUser: 4, originShares: 2 } });
      for (const u of ['m0', 'm1', 'm2']) await s.createAccount({ username: u, password: 'pw', origin: '127.0.0.9' })();
      const replies = await Promise.all(Array.from({ length: 30 }, (_, i) => lines(run(s, `m${i % 3}`, `CRT t${i}`))));
      expect(replies.filter((r) => r[0]?.endsWith(' created'))).toHaveLength(8);
      expect(replies.filter((r) => r[0]?.startsWith('Your account and the others created from the same address have created too many threads (at most 8)'))).toHaveLength(22);
      expect(await lines(run(s, 'm0', 'LST'))).toHaveLength(1 + 8);
    });

    it('CRTs at once by accounts of 20 /64s of one IPv6 /56 create 4 origins\' threads together (the /56\'s bound), refused as the network\'s; another /56 of the /48 still creates', async () => {
      const s = await make({ threadLimits: { maxThreadsPerUser: 1, originShares: 1 } });
      // 2001:db8:0:100::/64 … 2001:db8:0:113::/64: one /56, each /64 its own origin (1 thread), the /56 4, the /48 16.
      for (let i = 0; i < 20; i++) expect(await s.createAccount({ username: `h${i}`, password: 'pw', origin: originOfAddress(`[2001:db8:0:1${hex2(i)}::1]:4000`) })()).toEqual(E.right(true));
      const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => lines(run(s, `h${i}`, `CRT t${i}`))));
      expect(replies.filter((r) => r[0]?.endsWith(' created'))).toHaveLength(4);
      expect(replies.filter((r) => r[0] === networkThreads(4))).toHaveLength(16);
      // Another /56 of the same /48 (2001:db8:0:200::/56): its /56 holds nothing yet, the /48 4 of 16.
      expect(await s.createAccount({ username: 'next', password: 'pw', origin: originOfAddress('[2001:db8:0:200::1]:4000') })()).toEqual(E.right(true));
      expect(await lines(run(s, 'next', 'CRT n1'))).toEqual(['Thread n1 created']);
      // An account's own /64 is still held to one origin's bound, with the address's line.
      expect(await lines(run(s, 'next', 'CRT n2'))).toEqual(['You have created too many threads (at most 1): remove one of yours before creating another']);
      // RMV gives the /56 a thread back, whichever of its /64s takes it.
      const made = replies.findIndex((r) => r[0]?.endsWith(' created'));
      expect(await lines(run(s, `h${made}`, `RMV t${made}`))).toEqual([`Thread t${made} removed`]);
      const again = await Promise.all(Array.from({ length: 20 }, (_, i) => lines(run(s, `h${i}`, `CRT u${i}`))));
      expect(again.filter((r) => r[0]?.endsWith(' created'))).toHaveLength(1);
    });

    it('CRTs by accounts of 40 /56s of one IPv6 /48 create 16 origins\' threads together (the /48\'s bound); a different /48, and IPv4 addresses of one /24, are unaffected', async () => {
      const s = await make({ threadLimits: { maxThreadsPerUser: 1, originShares: 1 } });
      // 2001:db8:5:0::/64, 2001:db8:5:100::/64 …: each its own /56 (4 threads free), all one /48 (16).
      for (let i = 0; i < 40; i++) expect(await s.createAccount({ username: `w${i}`, password: 'pw', origin: originOfAddress(`[2001:db8:5:${hex2(i)}00::1]:4000`) })()).toEqual(E.right(true));
      const replies = await Promise.all(Array.from({ length: 40 }, (_, i) => lines(run(s, `w${i}`, `CRT t${i}`))));
      expect(replies.filter((r) => r[0]?.endsWith(' created'))).toHaveLength(16);
      expect(replies.filter((r) => r[0] === networkThreads(16))).toHaveLength(24);
      // 2001:db8:6::/48 and 20 IPv4 addresses of one /24: each account its own origin's one thread, as before.
      for (let i = 0; i < 20; i++) {
        expect(await s.createAccount({ username: `o${i}`, password: 'pw', origin: originOfAddress(`[2001:db8:6:${hex2(i)}::1]:4000`) })()).toEqual(E.right(true));
        expect(await s.createAccount({ username: `v${i}`, password: 'pw', origin: originOfAddress(`198.51.100.${i + 1}:4000`) })()).toEqual(E.right(true));
      }
      const others = await Promise.all(Array.from({ length: 40 }, (_, i) => lines(run(s, i % 2 === 0 ? `o${i / 2}` : `v${(i - 1) / 2}`, `CRT x${i}`))));
      expect(others.filter((r) => r[0]?.endsWith(' created'))).toHaveLength(4 + 20);
      // The other /48's 20 /64s are in one /56 (2001:db8:6::/56): its 4, refused as the network's.
      expect(others.filter((r) => r[0] === networkThreads(4))).toHaveLength(16);
      // Two accounts of one IPv4 address: one origin's thread, refused as the address's.
      expect(await s.createAccount({ username: 'v0b', password: 'pw', origin: originOfAddress('198.51.100.1:4001') })()).toEqual(E.right(true));
      expect(await lines(run(s, 'v0b', 'CRT y'))).toEqual(['Your account and the others created from the same address have created too many threads (at most 1): remove one of theirs before creating another']);
    });

    it('CRT creates a thread, refuses an existing title', async () => {
      const s = await make();
      expect(await lines(run(s, 'alice', 'CRT t1'))).toEqual(['Thread t1 created']);
      expect(await lines(run(s, 'bob', 'CRT t1'))).toEqual(['Thread t1 exists']);
      const again = replyOf(await run(s, 'bob', 'CRT t1'));
      expect(again.status).toBe('error');
    });

    it('logs "U issued CMD command" for every command', async () => {
      const s = await make();
      expect((await run(s, 'alice', 'CRT t1')).log).toEqual(['alice issued CRT command']);
      expect((await run(s, 'alice', 'LST')).log).toEqual(['alice issued LST command']);
    });

    it('MSG appends a numbered message, keeping the spacing of the text', async () => {
      const s = await make();
      await run(s, 'alice', 'CRT t1');
      expect(await lines(run(s, 'alice', 'MSG t1 hello  there'))).toEqual(['Message posted to t1 thread']);
      expect(await lines(run(s, 'bob', 'MSG t1 second: one'))).toEqual(['Message posted to t1 thread']);
      expect(await lines(run(s, 'bob', 'RDT t1'))).toEqual(['1 alice: hello  there', '2 bob: second: one']);
    });

    it('a command naming a missing thread prints "Thread X does not exist" and logs "Incorrect thread specified"', async () => {
      const s = await make();
      for (const line of ['MSG nope hi', 'DLT nope 1', 'EDT nope 1 x', 'RDT nope', 'UPD nope f', 'DWN nope f', 'RMV nope']) {
        const o = await run(s, 'alice', line);
        expect(replyOf(o).lines).toEqual(['Thread nope does not exist']);
        expect(replyOf(o).status).toBe('error');
        expect(o.log).toEqual([`alice issued ${line.slice(0, 3)} command`, 'Incorrect thread specified']);
      }
    });

    it('DLT deletes the author’s message and renumbers the later ones', async () => {
      const s = await make();
      await run(s, 'alice', 'CRT t1');
      await run(s, 'alice', 'MSG t1 one');
      await run(s, 'bob', 'MSG t1 two');
      await run(s, 'alice', 'MSG t1 three');
      expect(await lines(run(s, 'alice', 'DLT t1 1'))).toEqual(['The message has been deleted']);
      expect(await lines(run(s, 'alice', 'RDT t1'))).toEqual(['1 bob: two', '2 alice: three']);
    });

    it('DLT and EDT refuse another user’s message', async () => {
      const s = await make();
      await run(s, 'alice', 'CRT t1');
      await run(s, 'alice', 'MSG t1 one');
      expect(await lines(run(s, 'bob', 'DLT t1 1'))).toEqual(['The message belongs to another user and cannot be edited']);
      expect(await lines(run(s, 'bob', 'EDT t1 1 hacked'))).toEqual(['The message belongs to another user and cannot be edited']);
      expect(await lines(run(s, 'bob', 'RDT t1'))).toEqual(['1 alice: one']);
    });

    it('DLT and EDT of a message number that does not exist print and log "Invalid message number"', async () => {
      const s = await make();
      await run(s, 'alice', 'CRT t1');
      await run(s, 'alice', 'MSG t1 one');
      await upload(s, 't1', 'f.txt', 'alice', Buffer.from('x'));
      for (const line of ['DLT t1 0', 'DLT t1 2', 'DLT t1 99999999999999999999', 'EDT t1 2 x', 'EDT t1 0 x']) {
        const o = await run(s, 'alice', line);
        expect(replyOf(o).lines).toEqual(['Invalid message number']);
        expect(o.log).toEqual([`alice issued ${line.slice(0, 3)} command`, 'Invalid message number']);
      }
    });

    it('EDT replaces the text of the author’s message, keeping its number', async () => {
      const s = await make();
      await run(s, 'alice', 'CRT t1');
      await run(s, 'bob', 'MSG t1 first');
      await run(s, 'alice', 'MSG t1 second');
      expect(await lines(run(s, 'alice', 'EDT t1 2 new   text'))).toEqual(['The message has been edited']);
      expect(await lines(run(s, 'alice', 'RDT t1'))).toEqual(['1 bob: first', '2 alice: new   text']);
    });

    it('LST lists titles, or "No threads to list"', async () => {
      const s = await make();
      const empty = replyOf(await run(s, 'alice', 'LST'));
      expect(empty.lines).toEqual(['No threads to list']);
      expect(empty.status).toBe('ok');
      await run(s, 'alice', 'CRT beta');
      await run(s, 'bob', 'CRT alpha');
      const listed = replyOf(await run(s, 'alice', 'LST'));
      expect(listed.lines).toEqual(['The list of active threads:', 'alpha', 'beta']);
      expect(listed.data).toEqual({ kind: 'threadList', count: 2 });
    });

    it('RDT shows the lines after the creator, the upload line unnumbered, or "Thread X is empty"', async () => {
      const s = await make();
      await run(s, 'alice', 'CRT t1');
      expect(await lines(run(s, 'bob', 'RDT t1'))).toEqual(['Thread t1 is empty']);
      await run(s, 'bob', 'MSG t1 hi');
      expect(E.isRight(await upload(s, 't1', 'a.bin', 'bob', Buffer.from([1, 2, 3])))).toBe(true);
      await run(s, 'alice', 'MSG t1 yo');
      const r = replyOf(await run(s, 'bob', 'RDT t1'));
      expect(r.lines).toEqual(['1 bob: hi', 'bob uploaded a.bin', '2 alice: yo']);
      expect(r.data).toEqual({ kind: 'threadLines', title: 't1', count: r.lines.length });
    });

    it('MSG and EDT refuse to grow a thread past what one RDT reply can carry, and the thread stays readable', async () => {
      const s = await make();
      // Its creator fills it: another user may hold only a share of it (thread-share.ts, the next tests).
      await run(s, 'mallory', 'CRT big');
      const full = 'Thread big is full: it cannot grow any longer (delete or shorten messages, or start a new thread)';
      await run(s, 'mallory', 'MSG big short');
      // Quotes double in JSON: ~8 KB of reply per 4,000-byte message, so the limit falls within ~520 messages.
      const text = '"'.repeat(4000);
      let posted = 1;
      let refused: Reply | undefined;
      while (refused === undefined && posted < 1000) {
        const r = replyOf(await run(s, 'mallory', `MSG big ${text}`));
        if (r.status === 'ok') posted++;
        else refused = r;
      }
      // Before, the thread grew until its RDT reply was too large for any client to read.
      expect(refused?.lines).toEqual([full]);
      expect(posted).toBeGreaterThan(400);
      const read = replyOf(await run(s, 'bob', 'RDT big'));
      expect(read.lines).toHaveLength(posted);
      expect(Buffer.byteLength(JSON.stringify(read.lines))).toBeLessThanOrEqual(MAX_THREAD_REPLY_BYTES);
      expect(encodeServerMessage(read).length).toBeLessThanOrEqual(MAX_SERVER_MESSAGE_BYTES);
      // Less room is left than one more long message takes: an edit that makes the short one longer still is refused.
      expect(replyOf(await run(s, 'mallory', `EDT big 1 ${text}${'"'.repeat(96)}`)).lines).toEqual([full]);
      // One that shortens a message is not, and frees the room for another.
      expect(replyOf(await run(s, 'mallory', 'EDT big 2 short')).status).toBe('ok');
      expect(replyOf(await run(s, 'mallory', `MSG big ${text}`)).status).toBe('ok');
    });

    it(`one user other than the creator holds at most ${MAX_USER_THREAD_REPLY_BYTES} bytes of a thread: MSG, a longer EDT and UPD past it are refused; others post, and DLT or a shorter EDT gives room back`, async () => {
      const s = await make();
      await run(s, 'alice', 'CRT t');
      // Quotes double in JSON: ~8 KB of reply per 4,000-byte message, so the share is reached within ~65 messages.
      const text = '"'.repeat(4000);
      let posted = 0;
      let refused: Reply | undefined;
      while (refused === undefined && posted < 200) {
        const r = replyOf(await run(s, 'mallory', `MSG t ${text}`));
        if (r.status === 'ok') posted++;
        else refused = r;
      }
      // Before, one user posted on until the thread was full, for its creator too (attack round 27).
      expect(refused?.lines).toEqual([shareFull('t', MAX_USER_THREAD_REPLY_BYTES, 'bytes')]);
      expect(posted).toBeGreaterThan(60);
      const held = (rdt: readonly string[]): number => rdt.filter((l) => / mallory: /.test(l)).reduce((sum, l) => sum + Buffer.byteLength(JSON.stringify(l)) + 1, 0);
      const before = await lines(run(s, 'bob', 'RDT t'));
      expect(held(before)).toBeLessThanOrEqual(MAX_USER_THREAD_REPLY_BYTES);
      expect(held(before) + Buffer.byteLength(JSON.stringify(`${posted + 1} mallory: ${text}`)) + 1).toBeGreaterThan(MAX_USER_THREAD_REPLY_BYTES);
      // Filled to the byte with ever shorter messages: then even the shortest is refused.
      for (const length of [1000, 100, 10, 1]) {
        for (let i = 0; i < 20 && replyOf(await run(s, 'mallory', `MSG t ${'x'.repeat(length)}`)).status === 'ok'; i++);
      }
      expect(held(await lines(run(s, 'bob', 'RDT t')))).toBeGreaterThan(MAX_USER_THREAD_REPLY_BYTES - 20);
      expect(await lines(run(s, 'mallory', 'MSG t x'))).toEqual([shareFull('t', MAX_USER_THREAD_REPLY_BYTES, 'bytes')]);
      // The thread is not full: its creator and everyone else still post.
      expect(await lines(run(s, 'bob', `MSG t ${text}`))).toEqual(['Message posted to t thread']);
      expect(await lines(run(s, 'alice', `MSG t ${text}`))).toEqual(['Message posted to t thread']);
      // A longer edit is refused as a MSG is; its upload line too, by the command, as it begins and at commit.
      expect(await lines(run(s, 'mallory', `EDT t 1 ${text}${'"'.repeat(20)}`))).toEqual([shareFull('t', MAX_USER_THREAD_REPLY_BYTES, 'bytes')]);
      expect(await lines(run(s, 'mallory', 'UPD t f.bin'))).toEqual([shareFull('t', MAX_USER_THREAD_REPLY_BYTES, 'bytes')]);
      expect(await s.beginUpload('t', 'f.bin', 'mallory')()).toEqual(E.left({ kind: 'threadShareFull', title: 't', limit: MAX_USER_THREAD_REPLY_BYTES }));
      expect(E.isRight(await upload(s, 't', 'b.bin', 'bob', Buffer.from('b')))).toBe(true);
      // A shorter edit and a delete give room back.
      expect(await lines(run(s, 'mallory', 'EDT t 1 short'))).toEqual(['The message has been edited']);
      expect(await lines(run(s, 'mallory', `MSG t ${'"'.repeat(2000)}`))).toEqual(['Message posted to t thread']);
      expect(await lines(run(s, 'mallory', `MSG t ${text}`))).toEqual([shareFull('t', MAX_USER_THREAD_REPLY_BYTES, 'bytes')]);
      expect(await lines(run(s, 'mallory', 'DLT t 2'))).toEqual(['The message has been deleted']);
      expect(await lines(run(s, 'mallory', `MSG t ${text}`))).toEqual(['Message posted to t thread']);
      // In a thread of its own the same user is bound only by the thread's limits.
      await run(s, 'mallory', 'CRT m');
      for (let i = 0; i <= posted; i++) expect(replyOf(await run(s, 'mallory', `MSG m ${text}`)).status).toBe('ok');
    });

    it(`one user other than the creator holds at most ${MAX_USER_THREAD_ENTRIES} lines of a thread, its messages and upload lines together`, async () => {
      const alices: ThreadEntry[] = Array.from({ length: 100 }, () => ({ kind: 'message', author: 'alice', text: 'a' }));
      const mallorys: ThreadEntry[] = Array.from({ length: MAX_USER_THREAD_ENTRIES - 2 }, () => ({ kind: 'message', author: 'mallory', text: 'm' }));
      const s = await make({ threads: [{ title: 't', creator: 'alice', entries: [...alices, ...mallorys] }] });
      expect(E.isRight(await upload(s, 't', 'a.bin', 'mallory', Buffer.from('a')))).toBe(true);
      expect(await lines(run(s, 'mallory', 'MSG t last'))).toEqual(['Message posted to t thread']);
      expect(await lines(run(s, 'mallory', 'MSG t more'))).toEqual([shareFull('t', MAX_USER_THREAD_ENTRIES, 'lines')]);
      expect(await lines(run(s, 'mallory', 'UPD t f.bin'))).toEqual([shareFull('t', MAX_USER_THREAD_ENTRIES, 'lines')]);
      expect(await lines(run(s, 'bob', 'MSG t hi'))).toEqual(['Message posted to t thread']);
      // DLT gives the line back.
      expect(await lines(run(s, 'mallory', 'DLT t 101'))).toEqual(['The message has been deleted']);
      expect(E.isRight(await upload(s, 't', 'f.bin', 'mallory', Buffer.from('f')))).toBe(true);
      expect(await lines(run(s, 'mallory', 'MSG t more'))).toEqual([shareFull('t', MAX_USER_THREAD_ENTRIES, 'lines')]);
    });

    it('a full thread is refused as full to a user whose share of it is past its limit too, and to its creator', async () => {
      // Review of round 28: the share is no longer read for a line past a full thread (overThreadLimits); the refusal
      // said stays the thread's, on every store, whether the line is a message or an upload's.
      const alices: ThreadEntry[] = Array.from({ length: MAX_THREAD_ENTRIES - MAX_USER_THREAD_ENTRIES - 1 }, () => ({ kind: 'message', author: 'alice', text: 'a' }));
      const mallorys: ThreadEntry[] = Array.from({ length: MAX_USER_THREAD_ENTRIES + 1 }, () => ({ kind: 'message', author: 'mallory', text: 'm' }));
      const s = await make({ threads: [{ title: 't', creator: 'alice', entries: [...alices, ...mallorys] }] });
      expect(await lines(run(s, 'mallory', 'MSG t more'))).toEqual([full('t')]);
      expect(await lines(run(s, 'mallory', 'UPD t f.bin'))).toEqual([full('t')]);
      expect(await lines(run(s, 'alice', 'MSG t more'))).toEqual([full('t')]);
      expect(await lines(run(s, 'bob', 'MSG t more'))).toEqual([full('t')]);
    });

    it('two MSGs of one user at once for the last line of its share: one is posted', async () => {
      const alices: ThreadEntry[] = Array.from({ length: 100 }, () => ({ kind: 'message', author: 'alice', text: 'a' }));
      const mallorys: ThreadEntry[] = Array.from({ length: MAX_USER_THREAD_ENTRIES - 1 }, () => ({ kind: 'message', author: 'mallory', text: 'm' }));
      const s = await make({ threads: [{ title: 't', creator: 'alice', entries: [...alices, ...mallorys] }] });
      const answers = await Promise.all(Array.from({ length: 4 }, (_, i) => lines(run(s, 'mallory', `MSG t race ${i}`, `r${i}`))));
      expect(answers.filter((a) => a[0] === 'Message posted to t thread')).toHaveLength(1);
      expect(answers.filter((a) => a[0] === shareFull('t', MAX_USER_THREAD_ENTRIES, 'lines'))).toHaveLength(3);
      expect((await lines(run(s, 'bob', 'RDT t'))).filter((l) => l.includes(' mallory: '))).toHaveLength(MAX_USER_THREAD_ENTRIES);
    });

    it(`UPD of a thread of ${MAX_THREAD_ENTRIES} lines is refused as MSG is: by the command, as the upload begins, and at the commit of one begun before it filled; no file is kept`, async () => {
      const s = await make({ threads: [threadOfLines('t', 'mallory', MAX_THREAD_ENTRIES - 1)] });
      // One line of room: an upload may begin, then a MSG takes the line.
      const late = await begin(s, 't', 'late.bin', 'mallory', Buffer.from('late'));
      expect(await lines(run(s, 'bob', 'MSG t last'))).toEqual(['Message posted to t thread']);
      const refused = await run(s, 'mallory', 'UPD t f.bin');
      expect(replyOf(refused)).toMatchObject({ status: 'error', lines: [full('t')] });
      expect(refused.log).toEqual(['mallory issued UPD command']);
      expect(await s.beginUpload('t', 'f.bin', 'mallory')()).toEqual(E.left({ kind: 'threadFull', title: 't' }));
      expect(await late.commit()).toEqual(E.left({ kind: 'threadFull', title: 't' }));
      expect(await lines(run(s, 'bob', 'DWN t late.bin'))).toEqual(['File does not exist in Thread t']);
      const rdt = await lines(run(s, 'bob', 'RDT t'));
      expect(rdt).toHaveLength(MAX_THREAD_ENTRIES);
      expect(rdt.at(-1)).toBe(`${MAX_THREAD_ENTRIES} bob: last`);
      // A line deleted makes room for the same upload again.
      expect(await lines(run(s, 'mallory', 'DLT t 1'))).toEqual(['The message has been deleted']);
      expect(E.isRight(await upload(s, 't', 'late.bin', 'mallory', Buffer.from('late')))).toBe(true);
      expect((await lines(run(s, 'bob', 'RDT t'))).at(-1)).toBe('mallory uploaded late.bin');
    });

    it('UPD of a thread whose RDT reply has no room for the upload line is refused, before and at commit; a shorter MSG still fits', async () => {
      // `mallory uploaded f.bin` takes 25 bytes of reply; 30 are left.
      const s = await make({ threads: [threadOfReplyBytes('t', 'mallory', MAX_THREAD_REPLY_BYTES - 30)] });
      const late = await begin(s, 't', 'f.bin', 'mallory', Buffer.from('late'));
      // `N bob: x` takes about 14: 16 bytes are left, too few for the upload line.
      expect(await lines(run(s, 'bob', 'MSG t x'))).toEqual(['Message posted to t thread']);
      expect(await lines(run(s, 'mallory', 'UPD t g.bin'))).toEqual([full('t')]);
      expect(await s.beginUpload('t', 'g.bin', 'mallory')()).toEqual(E.left({ kind: 'threadFull', title: 't' }));
      expect(await late.commit()).toEqual(E.left({ kind: 'threadFull', title: 't' }));
      expect(await lines(run(s, 'bob', 'DWN t f.bin'))).toEqual(['File does not exist in Thread t']);
      const read = replyOf(await run(s, 'bob', 'RDT t'));
      expect(read.lines.some((l) => l.includes(' uploaded '))).toBe(false);
      expect(Buffer.byteLength(JSON.stringify(read.lines))).toBeLessThanOrEqual(MAX_THREAD_REPLY_BYTES);
      expect(await lines(run(s, 'bob', 'MSG t y'))).toEqual(['Message posted to t thread']);
    });

    it('uploads and MSGs racing for the last lines of a thread take exactly its limit; each refused upload leaves no file', async () => {
      const room = 6;
      const s = await make({ threads: [threadOfLines('t', 'mallory', MAX_THREAD_ENTRIES - room)] });
      const names = Array.from({ length: 10 }, (_, i) => `f${i}.bin`);
      // Every upload begins while there is room; the commits and the MSGs then race for it.
      const writers = await Promise.all(names.map((f, i) => begin(s, 't', f, `u${i}`, Buffer.from(f))));
      const [commits, posts] = await Promise.all([
        Promise.all(writers.map((w) => w.commit())),
        Promise.all(names.map((_, i) => lines(run(s, `m${i}`, `MSG t from m${i}`, `r${i}`)))),
      ]);
      const committed = names.filter((_, i) => E.isRight(commits[i] ?? E.left(undefined)));
      const postedCount = posts.filter((r) => r[0] === 'Message posted to t thread').length;
      expect(committed.length + postedCount).toBe(room);
      expect(commits.filter(E.isLeft)).toEqual(Array.from({ length: names.length - committed.length }, () => E.left({ kind: 'threadFull', title: 't' })));
      expect(posts.filter((r) => r[0] !== 'Message posted to t thread')).toEqual(Array.from({ length: names.length - postedCount }, () => [full('t')]));
      const rdt = await lines(run(s, 'bob', 'RDT t'));
      expect(rdt).toHaveLength(MAX_THREAD_ENTRIES);
      expect(rdt.filter((l) => l.includes(' uploaded ')).map((l) => l.split(' ').at(-1)).sort()).toEqual(committed);
      for (const f of names) {
        const d = await s.openDownload('t', f)();
        if (committed.includes(f)) expect(E.isRight(d) && (await readAll(d.right.stream)).toString()).toBe(f);
        else expect(d).toEqual(E.left({ kind: 'noFile', title: 't', filename: f }));
      }
    });

    it('UPD approves a transfer; after commit the upload is recorded and a second UPD is refused', async () => {
      const s = await make();
      await run(s, 'alice', 'CRT t1');
      const o = await run(s, 'bob', 'UPD t1 data.bin');
      expect(o.kind).toBe('transfer');
      if (o.kind !== 'transfer') return;
      expect(o.transfer).toEqual({ direction: 'upload', thread: 't1', incarnation: expect.any(String), filename: 'data.bin', username: 'bob', size: null, completionLine: 'data.bin uploaded to t1 thread' });
      expect(o.log).toEqual(['bob issued UPD command']);
      expect(E.isRight(await upload(s, 't1', 'data.bin', 'bob', Buffer.from('payload')))).toBe(true);
      expect(await lines(run(s, 'alice', 'UPD t1 data.bin'))).toEqual(['File already exists in Thread t1']);
      expect(E.isLeft(await upload(s, 't1', 'data.bin', 'bob', Buffer.from('again')))).toBe(true);
    });

    it('checkUpload, which UPD asks before issuing a token, refuses what beginUpload refuses now, and stores nothing', async () => {
      const s = await make();
      await run(s, 'alice', 'CRT t1');
      expect(E.isRight(await upload(s, 't1', 'a.bin', 'bob', Buffer.from('a')))).toBe(true);
      for (const [title, filename] of [['none', 'x.bin'], ['t1', 'a.bin']] as const) {
        const begun = await s.beginUpload(title, filename, 'bob')();
        expect(E.isLeft(begun)).toBe(true);
        expect(await s.checkUpload(title, filename, 'bob')()).toEqual(begun);
      }
      // What it approves, it answers with the thread's incarnation, for the grant to carry.
      expect(await s.checkUpload('t1', 'b.bin', 'bob')()).toEqual(E.right(expect.any(String)));
      expect(await lines(run(s, 'bob', 'RDT t1'))).toEqual(['bob uploaded a.bin']);
      expect(await lines(run(s, 'bob', 'DWN t1 b.bin'))).toEqual(['File does not exist in Thread t1']);
    });

    it('an aborted upload leaves no upload line and no file', async () => {
      const s = await make();
      await run(s, 'alice', 'CRT t1');
      const w = await s.beginUpload('t1', 'half.bin', 'alice')();
      if (E.isLeft(w)) throw new Error('beginUpload failed');
      w.right.stream.write(Buffer.from('partial'));
      await w.right.abort();
      expect(await lines(run(s, 'alice', 'RDT t1'))).toEqual(['Thread t1 is empty']);
      expect(await lines(run(s, 'alice', 'DWN t1 half.bin'))).toEqual(['File does not exist in Thread t1']);
      expect(E.isLeft(await w.right.commit())).toBe(true);
    });

    it('an upload in flight when its thread is removed and made again by another user is refused, and leaves nothing in the new thread', async () => {
      const s = await make();
      await run(s, 'alice', 'CRT t1');
      const w = await begin(s, 't1', 'evil.txt', 'alice', Buffer.from('sent to the old t1'));
      expect(await lines(run(s, 'alice', 'RMV t1'))).toEqual(['Thread t1 removed']);
      expect(await lines(run(s, 'bob', 'CRT t1'))).toEqual(['Thread t1 created']);
      // Refused as for any missing thread (the spec's line), by every store.
      expect(await w.commit()).toEqual(E.left({ kind: 'noThread', title: 't1' }));
      expect(await lines(run(s, 'bob', 'RDT t1'))).toEqual(['Thread t1 is empty']);
      expect(await lines(run(s, 'bob', 'DWN t1 evil.txt'))).toEqual(['File does not exist in Thread t1']);
      // The name stays free for the new thread's own upload.
      expect(E.isRight(await upload(s, 't1', 'evil.txt', 'bob', Buffer.from('mine')))).toBe(true);
      expect(await lines(run(s, 'bob', 'RDT t1'))).toEqual(['bob uploaded evil.txt']);
    });

    it('an upload granted before its thread was removed and made again is refused as it begins, with the spec\'s missing-thread error', async () => {
      const s = await make();
      await run(s, 'alice', 'CRT t1');
      // The order of the race, step by step: the UPD reply (its grant), then RMV and CRT, then the first byte.
      const granted = await run(s, 'alice', 'UPD t1 evil.txt');
      if (granted.kind !== 'transfer') throw new Error('expected a transfer');
      expect(await lines(run(s, 'alice', 'RMV t1'))).toEqual(['Thread t1 removed']);
      expect(await lines(run(s, 'bob', 'CRT t1'))).toEqual(['Thread t1 created']);
      const { thread, filename, username, incarnation } = granted.transfer;
      expect(await s.beginUpload(thread, filename, username, incarnation ?? undefined)()).toEqual(E.left({ kind: 'noThread', title: 't1' }));
      // Also when the new thread holds a file of that name: it is not the thread the upload was granted for.
      expect(E.isRight(await upload(s, 't1', 'evil.txt', 'bob', Buffer.from('mine')))).toBe(true);
      expect(await s.beginUpload(thread, filename, username, incarnation ?? undefined)()).toEqual(E.left({ kind: 'noThread', title: 't1' }));
      expect(await lines(run(s, 'bob', 'RDT t1'))).toEqual(['bob uploaded evil.txt']);
      // A grant for the thread as it is now still begins.
      const now = await run(s, 'bob', 'UPD t1 ok.txt');
      if (now.kind !== 'transfer') throw new Error('expected a transfer');
      const begun = await s.beginUpload('t1', 'ok.txt', 'bob', now.transfer.incarnation ?? undefined)();
      expect(E.isRight(begun)).toBe(true);
      if (E.isRight(begun)) await begun.right.abort();
    });

    it('RMV stops the uploads in flight to the thread at once: each settles `stopped` with the missing-thread error and commits nothing', async () => {
      const s = await make();
      await run(s, 'alice', 'CRT t1');
      await run(s, 'alice', 'CRT t2');
      const doomed = await begin(s, 't1', 'a.bin', 'bob', Buffer.from('half of it'));
      const other = await begin(s, 't2', 'b.bin', 'bob', Buffer.from('elsewhere'));
      let settled: unknown;
      void doomed.stopped.then((reason) => (settled = reason));
      expect(await lines(run(s, 'alice', 'RMV t1'))).toEqual(['Thread t1 removed']);
      // Stopped by the time RMV has answered, not when its sender next writes or commits.
      await Promise.resolve();
      expect(settled).toEqual({ kind: 'noThread', title: 't1' });
      expect(await doomed.commit()).toEqual(E.left({ kind: 'noThread', title: 't1' }));
      // A thread of the title made again meanwhile is not touched by the old one's uploads.
      expect(await lines(run(s, 'carol', 'CRT t1'))).toEqual(['Thread t1 created']);
      expect(await lines(run(s, 'carol', 'RDT t1'))).toEqual(['Thread t1 is empty']);
      // An upload to another thread runs on.
      expect(await other.commit()).toEqual(E.right(undefined));
      expect(await lines(run(s, 'bob', 'RDT t2'))).toEqual(['bob uploaded b.bin']);
    });

    it('DWN of an uploaded file approves a transfer with its size; of another, "File does not exist in Thread X"', async () => {
      const s = await make();
      await run(s, 'alice', 'CRT t1');
      expect(await lines(run(s, 'bob', 'DWN t1 x.bin'))).toEqual(['File does not exist in Thread t1']);
      const bytes = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
      await upload(s, 't1', 'x.bin', 'alice', bytes);
      const o = await run(s, 'bob', 'DWN t1 x.bin');
      if (o.kind !== 'transfer') throw new Error('expected a transfer');
      expect(o.transfer).toEqual({ direction: 'download', thread: 't1', incarnation: expect.any(String), filename: 'x.bin', username: 'bob', size: 5000, completionLine: 'x.bin successfully downloaded' });
      const d = await s.openDownload('t1', 'x.bin')();
      if (E.isLeft(d)) throw new Error('openDownload failed');
      expect(d.right.size).toBe(5000);
      expect((await readAll(d.right.stream)).equals(bytes)).toBe(true);
    });

    it('a download granted before its thread was removed and made again (with a file of that name) is refused as it opens, with the spec\'s missing-thread error', async () => {
      const s = await make();
      await run(s, 'alice', 'CRT t1');
      await upload(s, 't1', 'f.bin', 'alice', Buffer.from('the old thread\'s file'));
      // The order of the race, step by step: the DWN reply (its grant), then RMV, CRT and an upload of the name, then the transfer.
      const granted = await run(s, 'bob', 'DWN t1 f.bin');
      if (granted.kind !== 'transfer') throw new Error('expected a transfer');
      expect(await lines(run(s, 'alice', 'RMV t1'))).toEqual(['Thread t1 removed']);
      const { thread, filename, incarnation } = granted.transfer;
      expect(await s.openDownload(thread, filename, incarnation)()).toEqual(E.left({ kind: 'noThread', title: 't1' }));
      expect(await lines(run(s, 'carol', 'CRT t1'))).toEqual(['Thread t1 created']);
      await upload(s, 't1', 'f.bin', 'carol', Buffer.from('carol\'s file'));
      // Before, the grant named the title only, and carol's file was served for the old thread's.
      expect(await s.openDownload(thread, filename, incarnation)()).toEqual(E.left({ kind: 'noThread', title: 't1' }));
      // A grant for the thread as it is now reads its file.
      const now = await run(s, 'bob', 'DWN t1 f.bin');
      if (now.kind !== 'transfer') throw new Error('expected a transfer');
      expect(now.transfer.incarnation).not.toBe(incarnation);
      const d = await s.openDownload('t1', 'f.bin', now.transfer.incarnation)();
      expect(E.isRight(d) && (await readAll(d.right.stream)).toString()).toBe("carol's file");
    });

    it('RMV stops the downloads in flight from the thread at once: each settles `stopped` with the missing-thread error, its stream destroyed; one read whole, or of another thread, runs on', async () => {
      const s = await make();
      await run(s, 'alice', 'CRT t1');
      await run(s, 'alice', 'CRT t2');
      const bytes = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 253));
      await upload(s, 't1', 'a.bin', 'alice', bytes);
      await upload(s, 't1', 'b.bin', 'alice', bytes);
      await upload(s, 't2', 'c.bin', 'alice', bytes);
      const open = async (title: string, filename: string) => {
        const d = await s.openDownload(title, filename)();
        if (E.isLeft(d)) throw new Error(`openDownload ${filename}`);
        return d.right;
      };
      const doomed = await open('t1', 'a.bin');
      const whole = await open('t1', 'b.bin');
      const other = await open('t2', 'c.bin');
      // Read to its end before RMV: the receiver has the file as it was.
      expect((await readAll(whole.stream)).equals(bytes)).toBe(true);
      const settled: unknown[] = [];
      for (const d of [doomed, whole, other]) void d.stopped.then((reason) => settled.push(reason));
      expect(await lines(run(s, 'alice', 'RMV t1'))).toEqual(['Thread t1 removed']);
      // Stopped by the time RMV has answered, not when its reader next asks for bytes.
      await Promise.resolve();
      expect(settled).toEqual([{ kind: 'noThread', title: 't1' }]);
      expect(doomed.stream.destroyed).toBe(true);
      await expect(readAll(doomed.stream)).rejects.toThrow();
      expect((await readAll(other.stream)).equals(bytes)).toBe(true);
      expect(settled).toHaveLength(1);
    });

    it('RMV: only the creator removes; the thread and its uploads go', async () => {
      const s = await make();
      await run(s, 'alice', 'CRT t1');
      await upload(s, 't1', 'f.txt', 'bob', Buffer.from('x'));
      expect(await lines(run(s, 'bob', 'RMV t1'))).toEqual(['The thread was created by another user and cannot be removed']);
      expect(await lines(run(s, 'alice', 'RMV t1'))).toEqual(['Thread t1 removed']);
      expect(await lines(run(s, 'alice', 'LST'))).toEqual(['No threads to list']);
      const d = await s.openDownload('t1', 'f.txt')();
      expect(E.isLeft(d)).toBe(true);
      // The name is free again, and the old upload does not come back.
      expect(await lines(run(s, 'bob', 'CRT t1'))).toEqual(['Thread t1 created']);
      expect(await lines(run(s, 'bob', 'DWN t1 f.txt'))).toEqual(['File does not exist in Thread t1']);
    });

    it('XIT says Goodbye, logs "U exited" and ends the session', async () => {
      const s = await make();
      const o = await run(s, 'alice', 'XIT');
      expect(o).toEqual({
        kind: 'reply',
        reply: { type: 'reply', id: 'r1', status: 'ok', lines: ['Goodbye'], data: { kind: 'goodbye' } },
        log: ['alice issued XIT command', 'alice exited'],
        logout: true,
      });
    });

    it('bad arguments reaching the server are refused with the grammar’s line', async () => {
      const s = await make();
      const session = { username: 'alice', connectionKey: 'c' };
      const { dispatch } = await import('../src/index.js');
      const tooFew = await dispatch(s, session, 'x', 'CRT', [])();
      expect(replyOf(tooFew).lines).toEqual(['Incorrect syntax for CRT']);
      expect(tooFew.log).toEqual(['alice issued CRT command']);
      expect(replyOf(await dispatch(s, session, 'x', 'CRT', ['../etc'])()).lines).toEqual(["Invalid thread title: must not contain '/'"]);
      expect(replyOf(await dispatch(s, session, 'x', 'MSG', ['t', 'a\nb'])()).lines).toEqual(['Invalid message: must not contain control characters']);
      expect(replyOf(await dispatch(s, session, 'x', 'DLT', ['t', '-1'])()).lines).toEqual(['Incorrect syntax for DLT']);
    });

    it('concurrent commands on one thread never lose or interleave writes', async () => {
      const s = await make();
      await run(s, 'alice', 'CRT busy');
      const users = Array.from({ length: 40 }, (_, i) => `u${i}`);
      await Promise.all(users.map((u) => run(s, u, `MSG busy from ${u}`)));
      const shown = await lines(run(s, 'alice', 'RDT busy'));
      expect(shown).toHaveLength(40);
      expect(shown.map((l) => l.split(' ')[0])).toEqual(users.map((_, i) => String(i + 1)));
      expect(new Set(shown.map((l) => l.replace(/^\d+ /, '')))).toEqual(new Set(users.map((u) => `${u}: from ${u}`)));
    });

    describe('login', () => {
      const req = (id: string, cmd: Request['cmd'], ...args: string[]): Request => ({ id, username: '', cmd, args });
      const step = async (store: ForumStore, registry: SessionRegistry, key: string, state: AuthState, r: Request) =>
        handleRequest({ store, registry, connectionKey: key }, state, r)();

      it('new user: prompts for a new password, creates the account, welcomes', async () => {
        const s = await make();
        const reg = makeRegistry();
        const a = await step(s, reg, 'c1', INITIAL_AUTH_STATE, req('1', 'username', 'carol'));
        expect(a.outcome.log).toEqual(['Client authenticating']);
        expect(a.outcome.kind === 'reply' && a.outcome.reply.data).toEqual({ kind: 'auth', next: 'newPassword' });
        const b = await step(s, reg, 'c1', a.state, req('2', 'newPassword', 'pw1'));
        expect(b.outcome.kind === 'reply' && b.outcome.reply.lines).toEqual(['Welcome to the forum']);
        expect(b.outcome.log).toEqual(['New user', 'carol successfully logged in']);
        expect(b.state).toEqual({ step: 'authenticated', session: { username: 'carol', connectionKey: 'c1' } });
        const acct = await s.getAccount('carol')();
        expect(acct).toEqual(E.right({ _tag: 'Some', value: { username: 'carol', password: 'pw1' } }));
      });

      it('known user: wrong password, then right password; a second client is refused', async () => {
        const s = await make();
        await s.createAccount({ username: 'dave', password: 'secret' })();
        const reg = makeRegistry();
        const a = await step(s, reg, 'c1', INITIAL_AUTH_STATE, req('1', 'username', 'dave'));
        expect(a.outcome.kind === 'reply' && a.outcome.reply.data).toEqual({ kind: 'auth', next: 'password' });
        const wrong = await step(s, reg, 'c1', a.state, req('2', 'password', 'nope'));
        expect(wrong.outcome.kind === 'reply' && wrong.outcome.reply.lines).toEqual(['Invalid password']);
        expect(wrong.outcome.log).toEqual(['Incorrect password']);
        expect(wrong.state).toEqual(INITIAL_AUTH_STATE);
        // Said apart from the other refusals: the server gives the connection its login touches back.
        expect(wrong.passwordRejected).toBe(true);
        const a2 = await step(s, reg, 'c1', wrong.state, req('3', 'username', 'dave'));
        expect(a2.passwordRejected).toBeUndefined();
        const right = await step(s, reg, 'c1', a2.state, req('4', 'password', 'secret'));
        expect(right.outcome.kind === 'reply' && right.outcome.reply.lines).toEqual(['Welcome to the forum']);
        expect(right.passwordRejected).toBeUndefined();
        expect(right.outcome.log).toEqual(['dave successful login']);

        const other = await step(s, reg, 'c2', INITIAL_AUTH_STATE, req('1', 'username', 'dave'));
        expect(other.outcome.kind === 'reply' && other.outcome.reply.lines).toEqual(['dave has already logged in']);
        expect(other.outcome.kind === 'reply' && other.outcome.reply.data).toEqual({ kind: 'auth', next: 'username' });
        expect(other.passwordRejected).toBeUndefined();

        const bye = await step(s, reg, 'c1', right.state, req('5', 'XIT'));
        expect(bye.state).toEqual({ step: 'closed' });
        expect(await reg.holder('dave')()).toEqual(E.right(undefined));
      });

      it('commands before login are refused; the request username is never trusted', async () => {
        const s = await make();
        const reg = makeRegistry();
        const early = await step(s, reg, 'c1', INITIAL_AUTH_STATE, { id: '1', username: 'mallory', cmd: 'CRT', args: ['t'] });
        expect(early.outcome.kind === 'reply' && early.outcome.reply.lines).toEqual(['Please log in first']);
        expect(await lines(run(s, 'x', 'LST'))).toEqual(['No threads to list']);
        const authed: AuthState = { step: 'authenticated', session: { username: 'erin', connectionKey: 'c1' } };
        await step(s, reg, 'c1', authed, { id: '2', username: 'mallory', cmd: 'CRT', args: ['t'] });
        const th = await s.getThread('t')();
        expect(E.isRight(th) && th.right._tag === 'Some' && th.right.value.creator).toBe('erin');
      });
    });
  });
};
