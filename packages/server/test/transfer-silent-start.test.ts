/**
 * A transfer's store steps before its body at a database gone silent (its processes stopped: nothing answered,
 * the kernel still taking bytes): redeeming its token, taking its user's place among uploads, starting the
 * upload, opening a download; and the place given back after an upload. Before, none had a deadline: the transfer waited for the database as
 * long as TCP did, told nothing, holding its connection, the user's "transferring" mark and (from the take on)
 * its place. Real loopback sockets and an embedded PostgreSQL, the deadlines scaled down from 6 s and 2 s.
 */
import net from 'node:net';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { deriveTransferKeys, SecureTransferChannel, uploadSlotsOf, type TransferGrant, type TransferTokens, type UploadSlots } from 'forum-protocol';
import { createPostgresTransferTokens, createPostgresUploadSlots, type PostgresStore } from 'forum-protocol/postgres';
import type { TransferActivity } from '../src/transfer-activity.js';
import { suitePostgres, transferScope } from './transfer-server-fixture.js';

/** The store steps' deadline here (6 s in a server). */
const STEP_DEADLINE_MS = 1_000;
/** The abandon rule's wait past a deadline (postgres-abandon.ts). */
const ABANDON_MS = 500;
/** A loaded machine's timers. */
const SLACK_MS = 1_000;
/** How long a test waits for an answer before calling it "still waiting": far past every answer expected. */
const WAIT_MS = 6_000;
const session = { exportKeyingMaterial: (_label: string, _context: Buffer, length: number) => new Uint8Array(length) };
const FIXED_TOKEN = 'ab'.repeat(32);
const keys = deriveTransferKeys(session, FIXED_TOKEN);

const TIMED_OUT = (what: string): string => `ERR The server's database did not answer in time, so the ${what} was cancelled: please try again\n`;

/**
 * What one block of the file's tests has: a PostgreSQL of its own (each test freezes its block's), the transfer scope
 * over it, and the helpers.
 */
const silentStartFixture = () => {
  const pg = suitePostgres();
  const { freeze } = pg;
  const { sockets, closers, log, ...scope } = transferScope(pg);

  /** A store of its own schema with thread `t`, and the grant of an upload of `f` to it by `u`. */
  const open = async (name: string): Promise<{ readonly store: PostgresStore; readonly grant: TransferGrant }> => {
    const { store, incarnation } = await scope.openUploadStore(name);
    return { store, grant: { direction: 'upload', thread: 't', incarnation, filename: 'f', username: 'u', expiresAt: Date.now() + 60_000, keys } };
  };

  /** Tokens that grant `grant` for any token, without the database. */
  const fixedTokens = (grant: TransferGrant): TransferTokens => ({
    issue: () => async () => ({ _tag: 'Left', left: { kind: 'io', message: 'not in this test' } }),
    redeem: () => async () => ({ _tag: 'Right', right: { _tag: 'Some', value: grant } }),
    revokeSession: () => async () => undefined,
  });

  /** The transfer server over `store`, with `tokens` and `uploadSlots`, its steps under {@link STEP_DEADLINE_MS}; its "transferring" marks. */
  const serve = async (store: PostgresStore, tokens: TransferTokens, uploadSlots: UploadSlots): Promise<{ readonly port: number; readonly activity: TransferActivity }> => {
    const { server, activity } = await scope.serve({ dir: await scope.tempDir('silent-start'), store, tokens, uploadSlots, storeDeadlineMs: STEP_DEADLINE_MS });
    return { port: server.port, activity };
  };

  /** Sends `token`'s line (and, sealed, `sizeLine` and `body` if given); what the server answers, in clear or sealed, once it ends its side. */
  const connect = (port: number, token: string, sealed: boolean, sizeLine?: string, body?: Buffer): Promise<string> => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.on('error', () => undefined);
    sockets.push(socket);
    socket.write(`${token}\n`);
    let text = '';
    if (!sealed) {
      socket.on('data', (d: Buffer) => void (text += d.toString('utf8')));
      return new Promise((resolve) => socket.once('end', () => resolve(text)).once('close', () => resolve(text)));
    }
    const channel = new SecureTransferChannel(socket, keys, 'client');
    channel.on('error', () => undefined);
    channel.on('data', (d: Buffer) => void (text += d.toString('utf8')));
    if (sizeLine !== undefined) channel.write(sizeLine);
    if (body !== undefined) channel.end(body);
    return new Promise((resolve) => channel.once('end', () => resolve(text)).once('close', () => resolve(text)));
  };

  /** `p`'s value and when it came (ms from now), or 'still waiting' after {@link WAIT_MS}. */
  const timed = <A>(p: Promise<A>): Promise<{ readonly value: A; readonly ms: number } | 'still waiting'> => {
    const from = performance.now();
    return Promise.race([p.then((value) => ({ value, ms: performance.now() - from })), new Promise<'still waiting'>((resolve) => setTimeout(() => resolve('still waiting'), WAIT_MS))]);
  };

  /** Waits until no backend of the database runs a statement or holds a transaction open (its own watcher's aside). */
  const databaseSettled = async (): Promise<void> => {
    const watcher = postgres(pg.url(), { max: 1, onnotice: () => undefined });
    try {
      for (let i = 0; i < 250; i++) {
        const busy = await watcher`SELECT 1 FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_type = 'client backend' AND state <> 'idle'`;
        if (busy.length === 0) return;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      throw new Error('the database never settled');
    } finally {
      await watcher.end();
    }
  };

  return { closers, connect, databaseSettled, fixedTokens, freeze, log, open, serve, timed };
};

describe.runIf(process.platform === 'linux')("transfer server on PostgreSQL: a transfer's store steps before its body at a database gone silent", () => {
  // Side by side (describe.concurrent), each on a PostgreSQL of its own, as each stops its database (SIGSTOP): one
  // after the other on one PostgreSQL they took 8 s, each mostly a step's deadline waited out.
  describe.concurrent('on a PostgreSQL of its own', () => {
    const { connect, databaseSettled, freeze, open, serve, timed } = silentStartFixture();
    it("redeeming a token: refused 'try again' in clear at the step's deadline, and the token is granted to nobody later", async () => {
      const { store, grant } = await open('silent_redeem');
      const tokens = createPostgresTransferTokens(store.sql, { randomBytes: (n) => new Uint8Array(n).fill(7) });
      const issued = await tokens.issue({ ...grant, connectionKey: 'c1' }, session)();
      if (issued._tag === 'Left') throw new Error(issued.left.kind);
      const { port, activity } = await serve(store, tokens, uploadSlotsOf(1, () => () => undefined));
      freeze(true);
      const answered = await timed(connect(port, issued.right, false));
      // Before: 'still waiting' (the redeem waited for the database).
      expect(answered).not.toBe('still waiting');
      if (answered === 'still waiting') return;
      process.stderr.write(`silent-start: redeem refused ${answered.ms.toFixed(0)} ms after the database went silent (deadline ${STEP_DEADLINE_MS} ms)\n`);
      expect(answered.value).toBe(TIMED_OUT('transfer'));
      expect(answered.ms).toBeLessThan(STEP_DEADLINE_MS + ABANDON_MS + SLACK_MS);
      expect(activity.busy('u')).toBe(false);
      freeze(false);
      // The DELETE given up may still have run once the database read it: spent either way, it grants once at most.
      await databaseSettled();
      const again = await Promise.all([tokens.redeem(issued.right, Date.now())(), tokens.redeem(issued.right, Date.now())()]);
      expect(again.filter((r) => r._tag === 'Right' && r.right._tag === 'Some').length).toBeLessThanOrEqual(1);
    }, 30_000);
  });

  describe.concurrent('on a PostgreSQL of its own', () => {
    const { closers, connect, databaseSettled, fixedTokens, freeze, log, open, serve, timed } = silentStartFixture();
    it("taking the user's place among uploads: refused 'try again' at the step's deadline, its mark let go, and no place left once the database answers", async () => {
      const { store, grant } = await open('silent_take');
      const slots = createPostgresUploadSlots(store.sql, { serverId: 's', perUser: 1, leaseMs: 15_000 });
      closers.push(() => slots.close());
      const { port, activity } = await serve(store, fixedTokens(grant), slots);
      freeze(true);
      const answered = await timed(connect(port, FIXED_TOKEN, true, '10\n'));
      // Before: 'still waiting', the "transferring" mark held (and, had the take landed, its place).
      expect(answered).not.toBe('still waiting');
      if (answered === 'still waiting') return;
      process.stderr.write(`silent-start: take refused ${answered.ms.toFixed(0)} ms after the database went silent\n`);
      expect(answered.value).toBe(TIMED_OUT('upload'));
      expect(answered.ms).toBeLessThan(STEP_DEADLINE_MS + ABANDON_MS + SLACK_MS);
      expect(log).toEqual([expect.stringMatching(/^Upload of f by u refused: The server's database did not answer in time, so the upload was cancelled/)]);
      freeze(false);
      await databaseSettled();
      expect(await store.sql`SELECT 1 FROM upload_slots WHERE username = 'u'`).toEqual([]);
      expect(activity.busy('u')).toBe(false);
    }, 30_000);
  });

  describe.concurrent('on a PostgreSQL of its own', () => {
    const { connect, fixedTokens, freeze, open, serve, timed } = silentStartFixture();
    it("starting the upload: refused 'try again' at the step's deadline, its place given back, nothing stored", async () => {
      const { store, grant } = await open('silent_begin');
      let running = 0;
      const slots = uploadSlotsOf(1, () => {
        running++;
        return () => void running--;
      });
      const { port } = await serve(store, fixedTokens(grant), slots);
      freeze(true);
      const answered = await timed(connect(port, FIXED_TOKEN, true, '10\n'));
      // Before: 'still waiting', the user's one place held.
      expect(answered).not.toBe('still waiting');
      if (answered === 'still waiting') return;
      process.stderr.write(`silent-start: upload's start refused ${answered.ms.toFixed(0)} ms after the database went silent\n`);
      expect(answered.value).toBe(TIMED_OUT('upload'));
      expect(answered.ms).toBeLessThan(STEP_DEADLINE_MS + ABANDON_MS + SLACK_MS);
      expect(running).toBe(0);
      freeze(false);
      expect(await store.statUpload('t', 'f')()).toMatchObject({ _tag: 'Left', left: { kind: 'noFile' } });
    }, 30_000);
  });

  describe.concurrent('on a PostgreSQL of its own', () => {
    const { connect, fixedTokens, freeze, open, serve, timed } = silentStartFixture();
    it("opening a download: refused 'try again' at the step's deadline", async () => {
      const { store, grant } = await open('silent_download');
      // A file stored through the store itself, then granted for download.
      const begun = await store.beginUpload('t', 'f', 'u')();
      if (begun._tag === 'Left') throw new Error(begun.left.kind);
      await new Promise<void>((resolve) => begun.right.stream.write(Buffer.alloc(10, 2), () => resolve()));
      expect(await begun.right.commit()).toEqual({ _tag: 'Right', right: undefined });
      const stat = await store.statUpload('t', 'f')();
      if (stat._tag === 'Left') throw new Error(stat.left.kind);
      const { port, activity } = await serve(store, fixedTokens({ ...grant, direction: 'download', incarnation: stat.right.incarnation }), uploadSlotsOf(1, () => () => undefined));
      freeze(true);
      const answered = await timed(connect(port, FIXED_TOKEN, true));
      // Before: 'still waiting' (the open waited for the database, the "transferring" mark held).
      expect(answered).not.toBe('still waiting');
      if (answered === 'still waiting') return;
      process.stderr.write(`silent-start: download's open refused ${answered.ms.toFixed(0)} ms after the database went silent\n`);
      expect(answered.value).toBe(TIMED_OUT('download'));
      expect(answered.ms).toBeLessThan(STEP_DEADLINE_MS + ABANDON_MS + SLACK_MS);
      expect(activity.busy('u')).toBe(false);
    }, 30_000);
  });

  describe.concurrent('on a PostgreSQL of its own', () => {
    const { closers, connect, databaseSettled, fixedTokens, freeze, open, serve, timed } = silentStartFixture();
    it('giving the place back after a stored upload, the database gone silent: the transfer ends at the release\'s deadline, its mark let go', async () => {
      const { store, grant } = await open('silent_release');
      const RELEASE_MS = 500;
      const places = createPostgresUploadSlots(store.sql, { serverId: 's', perUser: 1, leaseMs: 15_000, releaseDeadlineMs: RELEASE_MS });
      closers.push(() => places.close());
      // The database goes silent as the upload gives its place back (stored, answered OK): the DELETE meets it.
      let releasing = false;
      const slots: UploadSlots = {
        perUser: 1,
        take: (username) => async () => {
          const taken = await places.take(username)();
          if (taken._tag === 'Left' || taken.right === undefined) return taken;
          const release = taken.right;
          return {
            _tag: 'Right',
            right: () => {
              releasing = true;
              freeze(true);
              return release();
            },
          };
        },
      };
      const { port, activity } = await serve(store, fixedTokens(grant), slots);
      const answer = await connect(port, FIXED_TOKEN, true, '10\n', Buffer.alloc(10, 1));
      expect(answer).toBe('OK\n');
      expect(releasing).toBe(true);
      const from = performance.now();
      const ended = await timed(
        new Promise<void>((resolve) => {
          const check = (): void => void (activity.busy('u') ? setTimeout(check, 20) : resolve());
          check();
        }),
      );
      // Before: 'still waiting' (the DELETE waited for the database, and the transfer's end, its mark, and the user's next take with it).
      expect(ended).not.toBe('still waiting');
      process.stderr.write(`silent-start: place given back at a silent database, transfer ended ${(performance.now() - from).toFixed(0)} ms after its OK\n`);
      expect(performance.now() - from).toBeLessThan(RELEASE_MS + ABANDON_MS + SLACK_MS);
      freeze(false);
      expect(await store.statUpload('t', 'f')()).toMatchObject({ _tag: 'Right' });
      // Gone once the database answers: the DELETE given up ran as the database read it, or the next renewal deletes it.
      await places.renew();
      await databaseSettled();
      expect(await store.sql`SELECT 1 FROM upload_slots WHERE username = 'u'`).toEqual([]);
    }, 30_000);
  });
});
