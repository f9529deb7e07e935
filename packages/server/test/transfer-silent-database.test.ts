/**
 * An upload on PostgreSQL whose chunk is at the database when the database goes silent (its processes
 * stopped: a stalled disk, a paused machine; nothing answered, the kernel still taking bytes), or whose sender
 * leaves while a chunk is being stored. Before, a chunk's statements had no deadline: the upload waited until
 * the database came back, its sender told nothing until its own 30 s inactivity limit, its place among its
 * user's uploads held; and a sender gone mid-chunk held that place until the chunk was stored. Real loopback
 * sockets and an embedded PostgreSQL, the chunk's deadline scaled down from 6 s.
 */
import net from 'node:net';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { deriveTransferKeys, SecureTransferChannel, uploadSlotsOf, type TransferGrant, type TransferTokens } from 'forum-protocol';
import { suitePostgres, transferScope } from './transfer-server-fixture.js';
import { until } from './until.js';

/** The chunk's deadline here (6 s in a server). */
const CHUNK_DEADLINE_MS = 1_500;
/** The abandon rule's wait past a deadline (postgres-abandon.ts), and its discard's, each. */
const ABANDON_MS = 500;
/** A loaded machine's timers. */
const SLACK_MS = 1_000;
/** How long a test waits for an answer before calling it "still waiting": far past every answer expected. */
const WAIT_MS = 12_000;
const MiB = 1024 * 1024;
const TOKEN = 'cd'.repeat(32);
const keys = deriveTransferKeys({ exportKeyingMaterial: (_label, _context, length) => new Uint8Array(length) }, TOKEN);

/**
 * The tests of one block of the file: a PostgreSQL of its own, the transfer scope over it, and the helpers. The
 * tests that freeze their database run in one block, one after another; the one that slows it down (an 8 s trigger,
 * most of its 9 s a wait) in another, beside them: a frozen database would stall it, and it theirs.
 */
const silentDatabaseFixture = () => {
  const pg = suitePostgres();
  const { sockets, closers, log, ...scope } = transferScope(pg);

  /** A store of its own schema with thread `t`, the transfer server over it, and its upload slots' count. */
  const start = async (name: string, maxStoredUploadBytes?: number, chunkDeadlineMs = CHUNK_DEADLINE_MS) => {
    const { store, incarnation } = await scope.openUploadStore(name, {
      uploadChunkDeadlineMs: chunkDeadlineMs,
      ...(maxStoredUploadBytes === undefined ? {} : { maxStoredUploadBytes }),
    });
    const tokens: TransferTokens = {
      issue: () => async () => ({ _tag: 'Left', left: { kind: 'io', message: 'not in this test' } }),
      redeem: () => async () => {
        const grant: TransferGrant = { direction: 'upload', thread: 't', incarnation, filename: 'f', username: 'u', expiresAt: Date.now() + 60_000, keys };
        return { _tag: 'Right', right: { _tag: 'Some', value: grant } };
      },
      revokeSession: () => async () => undefined,
    };
    let running = 0;
    const uploadSlots = uploadSlotsOf(1, () => {
      running++;
      return () => void running--;
    });
    const { server, activity } = await scope.serve({ dir: await scope.tempDir('silent-db'), store, tokens, uploadSlots });
    /** Chunks stored of the upload, and its rows: read once the database answers. */
    const rows = async (): Promise<{ readonly uploads: number; readonly committed: number; readonly chunks: number }> => {
      const [r] = await store.sql<{ uploads: number; committed: number; chunks: number }[]>`
        SELECT (SELECT count(*)::int FROM uploads WHERE filename = 'f') AS uploads,
               (SELECT count(*)::int FROM uploads WHERE filename = 'f' AND committed) AS committed,
               (SELECT count(*)::int FROM upload_chunks) AS chunks`;
      return r ?? { uploads: -1, committed: -1, chunks: -1 };
    };
    /** The rows once `ok` holds of them, or as they are after 5 s. */
    const rowsWhen = async (ok: (r: Awaited<ReturnType<typeof rows>>) => boolean): Promise<Awaited<ReturnType<typeof rows>>> => {
      let r = await rows();
      for (let i = 0; i < 250 && !ok(r); i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        r = await rows();
      }
      return r;
    };
    return { store, port: server.port, running: () => running, activity, rows, rowsWhen };
  };

  /** A sender of `size` bytes that writes as fast as its socket takes them; its answer's text once the server ends its side. */
  const send = (port: number, size: number) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.on('error', () => undefined);
    socket.write(`${TOKEN}\n`);
    sockets.push(socket);
    const channel = new SecureTransferChannel(socket, keys, 'client');
    channel.on('error', () => undefined);
    let text = '';
    channel.on('data', (d: Buffer) => void (text += d.toString('utf8')));
    const answer = new Promise<string>((resolve) => channel.once('end', () => resolve(text)).once('close', () => resolve(text)));
    channel.write(`${size}\n`);
    const block = Buffer.alloc(64 * 1024, 1);
    void (async () => {
      for (let sent = 0; sent < size && !channel.destroyed; sent += block.length) {
        if (!channel.write(block)) await new Promise((resolve) => channel.once('drain', resolve).once('close', resolve));
      }
    })();
    return { socket, channel, answer };
  };

  return { pg, log, start, send };
};

/** `p`'s value and when it came (ms from `from`), or 'still waiting' after {@link WAIT_MS}. */
const timed = <A>(p: Promise<A>, from: number): Promise<{ readonly value: A; readonly ms: number } | 'still waiting'> =>
  Promise.race([p.then((value) => ({ value, ms: performance.now() - from })), new Promise<'still waiting'>((resolve) => setTimeout(() => resolve('still waiting'), WAIT_MS))]);

describe.runIf(process.platform === 'linux')('transfer server on PostgreSQL: an upload whose database goes silent, or whose sender leaves mid-chunk', () => {
  // Side by side (describe.concurrent), each block's tests one after another (it.sequential).
  describe.concurrent('its database frozen (SIGSTOP)', () => {
    const { pg, log, start, send } = silentDatabaseFixture();
    const { freeze } = pg;

    for (const limit of [undefined, 1024 * MiB]) {
      const how = limit === undefined ? 'a plain insert' : 'an insert counted under maxStoredUploadBytes (a transaction)';
      it.sequential(`a chunk at a database gone silent (${how}): the sender is refused at the chunk's deadline and the abandon rule, its slot freed, nothing stored`, async () => {
        const s = await start(limit === undefined ? 'silent_plain' : 'silent_counted', limit);
        const { answer } = send(s.port, 64 * MiB);
        // A few chunks stored: the upload is under way, a chunk at the database at any moment.
        expect(await until(() => log.length > 0 || s.running() === 1, 5_000)).toBe(true);
        await s.rowsWhen((r) => r.chunks >= 2);
        freeze(true);
        const frozenAt = performance.now();
        const answered = await timed(answer, frozenAt);
        // Before: 'still waiting' (the upload waited for the database; forum-client gave up at its 30 s stall limit).
        expect(answered).not.toBe('still waiting');
        if (answered === 'still waiting') return;
        process.stderr.write(`silent-database: upload refused ${answered.value.trim()} ${answered.ms.toFixed(0)} ms after the database went silent (chunk deadline ${CHUNK_DEADLINE_MS} ms)\n`);
        expect(answered.value).toBe("ERR The server's database did not answer in time, so the upload was cancelled: please try again\n");
        expect(answered.ms).toBeLessThan(CHUNK_DEADLINE_MS + 2 * ABANDON_MS + SLACK_MS);
        // Its place among its user's uploads and its "transferring" mark are given back with the refusal.
        expect(s.running()).toBe(0);
        expect(s.activity.busy('u')).toBe(false);
        expect(log).toEqual([expect.stringMatching(/^Upload of f by u refused: The server's database did not answer in time, so the upload was cancelled/)]);
        freeze(false);
        // Nothing of it is a file, and its row goes once the database answers (the discard, or its retry).
        expect(await s.store.statUpload('t', 'f')()).toMatchObject({ _tag: 'Left', left: { kind: 'noFile' } });
        expect(await s.rowsWhen((r) => r.uploads === 0)).toMatchObject({ uploads: 0, committed: 0 });
      }, 30_000);
    }

    it.sequential('a sender gone while its chunk is at a silent database: its slot is freed within the abandon rule, not when the database answers, and no file appears', async () => {
      const s = await start('silent_gone');
      const { socket } = send(s.port, 64 * MiB);
      await s.rowsWhen((r) => r.chunks >= 2);
      freeze(true);
      // Well inside the chunk's deadline: the server waits for the chunk when its sender leaves.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(s.running()).toBe(1);
      const leftAt = performance.now();
      socket.resetAndDestroy();
      const freed = await timed(
        new Promise<void>((resolve) => void until(() => s.running() === 0, WAIT_MS).then(() => resolve())).then(() => (s.running() === 0 ? 'freed' : 'held')),
        leftAt,
      );
      // Before: held until the database answered (here, never while the test waited).
      expect(freed).toMatchObject({ value: 'freed' });
      if (freed !== 'still waiting') {
        process.stderr.write(`silent-database: sender gone mid-chunk, slot freed ${freed.ms.toFixed(0)} ms after\n`);
        expect(freed.ms).toBeLessThan(2 * ABANDON_MS + SLACK_MS);
      }
      freeze(false);
      expect(await s.store.statUpload('t', 'f')()).toMatchObject({ _tag: 'Left', left: { kind: 'noFile' } });
      expect(await s.rowsWhen((r) => r.uploads === 0)).toMatchObject({ uploads: 0, committed: 0 });
    }, 30_000);

  });

  describe.concurrent('its database slowed down', () => {
    const { pg, start, send } = silentDatabaseFixture();

    it.sequential('a sender gone while its chunk waits on a slow database (an 8 s trigger): its slot is freed at once, the chunk cancelled, and nothing lands later', async () => {
      // The chunk's deadline past the insert's 8 s: what ends it is the sender's leaving.
      const s = await start('slow_gone', undefined, 20_000);
      const { socket } = send(s.port, 64 * MiB);
      await s.rowsWhen((r) => r.chunks >= 2);
      // Every chunk's insert from now on takes 8 s (a busy disk): the one after this waits at the database. 8 s, not 3:
      // the bounds below then sit halfway to the old wait, past a loaded machine's stalls (1.5 s of 3 s did not).
      await s.store.sql.unsafe(`CREATE FUNCTION slow_chunk() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(8); RETURN NEW; END $$`);
      await s.store.sql.unsafe(`CREATE TRIGGER slow_chunk BEFORE INSERT ON upload_chunks FOR EACH ROW EXECUTE FUNCTION slow_chunk()`);
      const watcher = postgres(pg.url(), { max: 1, onnotice: () => undefined });
      try {
        // The server's insert sleeps at the database.
        const sleeping = async (): Promise<boolean> => (await watcher<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event = 'PgSleep'`)[0]?.n === 1;
        for (let i = 0; i < 250 && !(await sleeping()); i++) await new Promise((resolve) => setTimeout(resolve, 20));
        expect(await sleeping()).toBe(true);
        const chunksBefore = (await s.rows()).chunks;
        const leftAt = performance.now();
        socket.resetAndDestroy();
        expect(await until(() => s.running() === 0, 5_000)).toBe(true);
        const ms = performance.now() - leftAt;
        process.stderr.write(`slow-database: sender gone mid-chunk (an 8 s insert), slot freed ${ms.toFixed(0)} ms after\n`);
        // Before: 8 s, the insert's whole sleep.
        expect(ms).toBeLessThan(4_000);
        // Cancelled at the database: nothing sleeps there for it any more, well before its 8 s. Waited for: the
        // cancel goes on a connection of its own, and the row's delete need not wait for it (the sleep is in a
        // BEFORE trigger, ahead of the foreign key's lock), so the slot may be freed first.
        let still = await sleeping();
        while (still && performance.now() - leftAt < 6_000) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          still = await sleeping();
        }
        expect(still).toBe(false);
        expect(performance.now() - leftAt).toBeLessThan(6_000);
        // Past when the insert would have landed (it began before leftAt): no chunk more, no row, no file.
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, leftAt + 8_500 - performance.now())));
        const after = await s.rows();
        expect(after.uploads).toBe(0);
        expect(after.chunks).toBeLessThanOrEqual(chunksBefore);
        expect(await s.store.statUpload('t', 'f')()).toMatchObject({ _tag: 'Left', left: { kind: 'noFile' } });
      } finally {
        await watcher.end();
      }
    }, 45_000);
  });
});
