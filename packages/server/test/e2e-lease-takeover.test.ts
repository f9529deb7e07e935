/**
 * Two servers on one PostgreSQL (in this process): when a server's lease on a session lapses (it
 * could not renew in time) and the account logs in on another server, the first server ends its
 * connection at its next renewal, so the account has one live session.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../../scripts/embedded-postgres.mjs';
import { startForumServer, type ForumServer } from '../src/forum-server.js';
import { rawClient, rawLogin, sealedExchange } from './raw-client.js';

// The advisory lock (one key) that holds the servers' lease renewals in the takeover test below.
const RENEWAL_GATE = 0x686f6c64;

describe('session leases across two servers', () => {
  let pg: EmbeddedPostgresHandle | undefined;
  const servers: ForumServer[] = [];
  const logs: string[][] = [[], []];

  let keyDir = '';

  beforeAll(async () => {
    pg = await startEmbeddedPostgres();
    // The servers share one identity key, kept out of the working tree.
    keyDir = await mkdtemp(join(tmpdir(), 'forum-lease-key-'));
    for (const log of logs) {
      servers.push(
        await startForumServer({
          port: 0,
          host: '127.0.0.1',
          dataDir: keyDir,
          identityFile: join(keyDir, 'identity'),
          databaseUrl: pg.url,
          // Lease = idle timeout (under 15 s), renewed every third of it: a lost lease is noticed within
          // 2.7 s, well before the connection would idle out.
          idleTimeoutMs: 8000,
          transferPort: 0,
          log: (line) => log.push(line),
          warn: () => undefined,
        }),
      );
    }
  }, 60_000);

  afterAll(async () => {
    if (keyDir !== '') await rm(keyDir, { recursive: true, force: true });
    for (const s of servers) await s.close();
    await pg?.stop();
  }, 60_000);

  it('a lapsed lease taken by another server ends the first connection', async () => {
    const [a, b] = servers;
    if (a === undefined || b === undefined || pg === undefined) throw new Error('not started');
    const first = await rawClient(a.udpPort);
    expect((await rawLogin(first, 'erin', 'pw')).lines).toEqual(['Welcome to the forum']);
    const other = await rawClient(b.udpPort);
    expect((await other.request('u1', 'username', ['erin'])).lines).toEqual(['erin has already logged in']);
    // Server a is cut off from the database long enough for the lease to lapse: here, by moving its expiry.
    const sql = postgres(pg.url, { max: 1, onnotice: () => undefined });
    try {
      await sql`UPDATE session_leases SET expires_at = now() - interval '1 second', server_id = 'stalled' WHERE username = 'erin'`;
    } finally {
      await sql.end();
    }
    const second = await rawClient(b.udpPort);
    expect((await rawLogin(second, 'erin', 'pw')).lines).toEqual(['Welcome to the forum']);
    // Not renewed by a (its server id no longer matches), so a's next renewal finds it gone and ends the connection.
    const reason = await first.closed;
    expect(reason.kind).not.toBe('timeout');
    expect(logs[0]).toContain('erin session ended: its lease lapsed and the account logged in elsewhere');
    expect(logs[0]).not.toContain('erin timed out');
    // The account's one session is on b and keeps working.
    expect((await second.request('l', 'LST', [])).lines).toEqual(['No threads to list']);
    await other.close();
    await second.close();
  }, 30_000);

  it("the new session's upload token survives the end of the session it took over (the old server's clean-up revokes only its own)", async () => {
    const [a, b] = servers;
    if (a === undefined || b === undefined || pg === undefined) throw new Error('not started');
    const first = await rawClient(a.udpPort);
    expect((await rawLogin(first, 'frank', 'pw')).lines).toEqual(['Welcome to the forum']);
    const sql = postgres(pg.url, { max: 1, onnotice: () => undefined });
    const blocker = postgres(pg.url, { max: 1, onnotice: () => undefined });
    let unblock: () => void = () => undefined;
    try {
      // a's renewals are held until the new session has its token: a statement trigger makes each renewal wait
      // for an advisory lock this test holds (each gives up at its lock timeout, and the next waits again), so a
      // learns that it lost frank's lease only then, and ends its session after the grant, not before (which
      // would prove nothing). (A renewal touches only the leases its server's connections hold, by account and
      // connection: no other row of a's can hold it up.) b's renewals wait too, harmlessly: its lease is new.
      await sql.unsafe(`CREATE OR REPLACE FUNCTION hold_lease_renewals() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF current_query() LIKE '%UPDATE session_leases SET expires_at = now() +%' THEN PERFORM pg_advisory_xact_lock_shared(${RENEWAL_GATE}); END IF;
          RETURN NULL;
        END $$`);
      await sql`CREATE TRIGGER hold_lease_renewals BEFORE UPDATE ON session_leases FOR EACH STATEMENT EXECUTE FUNCTION hold_lease_renewals()`;
      const locked = new Promise<void>((resolveLocked) => {
        void blocker.begin(async (tx) => {
          await tx`SELECT pg_advisory_xact_lock(${RENEWAL_GATE})`;
          resolveLocked();
          await new Promise<void>((resolve) => (unblock = resolve));
        });
      });
      await locked;
      // a is cut off long enough for frank's lease to lapse, and frank logs in on b and asks to upload.
      await sql`UPDATE session_leases SET expires_at = now() - interval '1 second', server_id = 'stalled' WHERE username = 'frank'`;
      const second = await rawClient(b.udpPort);
      expect((await rawLogin(second, 'frank', 'pw')).lines).toEqual(['Welcome to the forum']);
      expect((await second.request('c', 'CRT', ['frank-t'])).lines).toEqual(['Thread frank-t created']);
      const upd = await second.request('up', 'UPD', ['frank-t', 'f.bin']);
      if (upd.data.kind !== 'transfer') throw new Error(`UPD: ${upd.lines.join(' ')}`);
      expect(logs[0]).not.toContain('frank session ended: its lease lapsed and the account logged in elsewhere');
      // Now a's renewal finds the lease gone and ends its session: its clean-up runs after the grant.
      unblock();
      const reason = await first.closed;
      expect(reason.kind).not.toBe('timeout');
      expect(logs[0]).toContain('frank session ended: its lease lapsed and the account logged in elsewhere');
      // The new session's token is still good: the upload is stored (before, a's clean-up had deleted every token of frank's).
      expect(await sealedExchange(b.tcpPort, second, upd.data.token, '5\nhello')).toBe('OK\n');
      expect((await second.request('r', 'RDT', ['frank-t'])).lines).toEqual(['frank uploaded f.bin']);
      await second.close();
    } finally {
      unblock();
      await sql`DROP TRIGGER IF EXISTS hold_lease_renewals ON session_leases`.catch(() => undefined);
      await blocker.end();
      await sql.end();
    }
  }, 30_000);
});
