import type { Sql } from 'postgres';
import { cleanUpOutsideDeadline, RELEASE_DEADLINE_MS, untilAnswerDue } from './postgres-abandon.js';
import { withCommandDeadline } from '../store/command-deadline.js';
import { answeredByDatabase, backendPidOf, createClaimUndoer, newClaimMark, type GivenUpClaim, type GivenUpUndo } from './postgres-claim-undo.js';
import { toIoError } from '../store/errors.js';
import { startHeartbeat } from './postgres-heartbeat.js';
import { attempt } from './postgres-timeouts.js';
import type { SessionRegistry } from '../store/session.js';

/** Options for {@link createPostgresSessionRegistry}. */
export interface PostgresSessionOptions {
  /** This server's id: unique among the servers sharing the database. */
  readonly serverId: string;
  /**
   * How long a lease lives without renewal, ms. The server renews the leases it holds
   * every third of it (only those: one it took for a login that failed lapses), so a crashed server's accounts are free again
   * at most this long after it died. Keep it at most the forum's idle timeout.
   */
  readonly leaseMs: number;
  /** Told when a renewal fails (the next one may succeed; a lease lapses only after `leaseMs`). */
  readonly onError?: (message: string) => void;
  /**
   * Told when a renewal finds that a lease of this server is gone: it lapsed (this server could not
   * renew it in time, e.g. cut off from the database) and another connection took the account. The
   * server should end that connection: the account's one live session is now elsewhere.
   */
  readonly onLeaseLost?: (username: string, connectionKey: string) => void;
  /** How long the undo of a given-up lease claim keeps asking, ms. Default `UNDO_CLAIM_FOR_MS` (60 s); tests shorten it. */
  readonly undoClaimForMs?: number;
  /** How long `close` waits for the pending undos, ms. Default `UNDO_AT_CLOSE_MS` (2.5 s). */
  readonly undoAtCloseMs?: number;
}

/** A lease claim given up unanswered: whose, by which connection (postgres-claim-undo.ts). */
interface GivenUpLease extends GivenUpClaim {
  readonly username: string;
  readonly connectionKey: string;
}

/** The most accounts a line about undos given up names (the rest counted). */
const NAMED_IN_LINE = 5;

/** The one line for the lease undos that gave up together (a round's, or those a close cut short). */
const notUndoneLine = (given: readonly GivenUpUndo<GivenUpLease>[], atClose: boolean, leaseMs: number): string => {
  const when = atClose ? ' at close' : '';
  const first = given[0];
  if (given.length === 1 && first !== undefined) {
    return `a given-up login's session lease of ${first.claim.username} was not undone${when} (it lapses within ${leaseMs} ms): ${first.why}`;
  }
  const names = given.slice(0, NAMED_IN_LINE).map((g) => g.claim.username);
  const more = given.length > NAMED_IN_LINE ? `, and ${given.length - NAMED_IN_LINE} more` : '';
  const whys = [...new Set(given.map((g) => g.why))];
  return `${given.length} given-up logins' session leases (of ${names.join(', ')}${more}) were not undone${when} (they lapse within ${leaseMs} ms): ${whys.slice(0, 2).join('; ')}${whys.length > 2 ? '; …' : ''}`;
};

/** A lease-based {@link SessionRegistry} with its heartbeat. */
export interface PostgresSessionRegistry extends SessionRegistry {
  /** Renews this server's leases now (the heartbeat does it every `leaseMs / 3`), and reports those it lost. */
  renew(): Promise<void>;
  /** Stops the heartbeat and frees the leases this registry holds (a graceful stop; a crash leaves them to expire). */
  close(): Promise<void>;
}

/**
 * One live session per account across every server sharing the database:
 * a row in `session_leases` per logged-in account, claimed atomically
 * (`INSERT … ON CONFLICT DO UPDATE … WHERE` the old lease expired or is the
 * same connection's) and renewed by this server's heartbeat. Times are the
 * database's, so the servers' clocks do not matter.
 */
export const createPostgresSessionRegistry = (sql: Sql, options: PostgresSessionOptions): PostgresSessionRegistry => {
  const { serverId, leaseMs } = options;
  // The leases this server holds (connection key → user) and when each was taken, by renewal round:
  // a lease taken while a renewal is in flight is not in that renewal's answer, and is not lost.
  const held = new Map<string, { readonly username: string; readonly round: number }>();
  let round = 0;
  const renew = async (): Promise<void> => {
    const started = ++round;
    // Only the leases this server knows it holds: a claim whose answer was lost (its connection cut as it
    // committed) left a lease that no connection of this server holds or will release, and renewed with the
    // rest (every lease of this server id) it kept the account "already logged in" until the server stopped.
    // Each by account and connection: that connection may log in as another account after the lost claim
    // (or, after a restart with the same server id, a new connection has an old one's key), and renewed by
    // its key alone, the orphan lease kept its account held for as long as that connection lived.
    const leases = [...held];
    if (leases.length === 0) return;
    const rows = await sql<{ connection_key: string }[]>`
      UPDATE session_leases SET expires_at = now() + ${leaseMs} * interval '1 millisecond'
      WHERE server_id = ${serverId}
        AND (username, connection_key) IN (
          SELECT * FROM unnest(${leases.map(([, l]) => l.username)}::text[], ${leases.map(([k]) => k)}::text[]))
      RETURNING connection_key`;
    const renewed = new Set(rows.map((r) => r.connection_key));
    for (const [key, lease] of held) {
      if (lease.round >= started || renewed.has(key)) continue;
      held.delete(key);
      options.onLeaseLost?.(lease.username, key);
    }
  };
  // Claims given up unanswered being undone, by connection key, all in one poll (postgres-claim-undo.ts).
  const undoer = createClaimUndoer<GivenUpLease>(sql, {
    remove: (settled) => sql`
      DELETE FROM session_leases WHERE (username, connection_key) IN (
        SELECT * FROM unnest(${settled.map((c) => c.username)}::text[], ${settled.map((c) => c.connectionKey)}::text[]))`,
    // One line a round (or at close), not one an undo: an outage's burst of given-up logins gave up together.
    onGivenUp: (given, atClose) => options.onError?.(notUndoneLine(given, atClose, leaseMs)),
    ...(options.undoClaimForMs === undefined ? {} : { undoForMs: options.undoClaimForMs }),
  });
  const undoings = new Map<string, Promise<void>>();
  const undoClaim = (claim: GivenUpLease): void => {
    const before = undoings.get(claim.connectionKey) ?? Promise.resolve();
    const undone = before.then(() => undoer.undo(claim));
    undoings.set(claim.connectionKey, undone);
    void undone.then(() => {
      if (undoings.get(claim.connectionKey) === undone) undoings.delete(claim.connectionKey);
    });
  };
  const stopHeartbeat = startHeartbeat(Math.max(10, Math.floor(leaseMs / 3)), renew, (e) => options.onError?.(`lease renewal failed: ${toIoError(e).message}`));
  return {
    tryAcquire: (username, connectionKey) =>
      attempt(async () => {
        // A claim of this connection given up earlier is undone first: undone after this one, it would delete this one's lease.
        const undoing = undoings.get(connectionKey);
        if (undoing !== undefined && !(await untilAnswerDue(undoing.then(() => true), false))) {
          throw new Error('the database has not answered since a login on this connection was given up, and its session lease is not yet undone');
        }
        const mark = newClaimMark();
        // The mark, in the claim's own transaction: a claim that failed leaves its backend's name as it was.
        const claim = sql`
          WITH marked AS (SELECT set_config('application_name', ${mark}, false))
          INSERT INTO session_leases (username, server_id, connection_key, expires_at)
          SELECT ${username}, ${serverId}, ${connectionKey}, now() + ${leaseMs} * interval '1 millisecond' FROM marked
          ON CONFLICT (username) DO UPDATE
            SET server_id = EXCLUDED.server_id, connection_key = EXCLUDED.connection_key, expires_at = EXCLUDED.expires_at
            WHERE session_leases.expires_at < now() OR session_leases.connection_key = EXCLUDED.connection_key
          RETURNING username`;
        try {
          const rows = await claim;
          if (rows.length === 1) held.set(connectionKey, { username, round });
          return rows.length === 1;
        } catch (e) {
          // Written and not answered (given up at the deadline of a silent database, or its connection lost): it may
          // still land. Undone once the database can tell (postgres-claim-undo.ts), keyed by the connection's key,
          // unique to this process: the login is answered a failure, and its lease held the account meanwhile.
          const pid = backendPidOf(claim);
          if (pid !== undefined && !answeredByDatabase(e)) undoClaim({ username, connectionKey, pid, mark });
          throw e;
        }
      }),
    release: (username, connectionKey) => async () => {
      held.delete(connectionKey);
      // Best effort: a lease left behind expires by itself. Past the deadline of the command that released it
      // (XIT) too: the account would stay held for a lease's time. Awaited only until the command must be answered.
      await cleanUpOutsideDeadline(async () => {
        await sql`DELETE FROM session_leases WHERE username = ${username} AND connection_key = ${connectionKey}`.catch((e: unknown) =>
          options.onError?.(`lease release failed: ${toIoError(e).message}`),
        );
      });
    },
    holder: (username) =>
      attempt(async () => {
        const rows = await sql<{ connection_key: string }[]>`
          SELECT connection_key FROM session_leases WHERE username = ${username} AND expires_at >= now()`;
        return rows[0]?.connection_key;
      }),
    renew,
    close: async () => {
      stopHeartbeat();
      // The pending undos go on for a moment (UNDO_AT_CLOSE_MS): a claim that lands meanwhile is still undone, not
      // left held for the lease. Those left are told in one line. Awaited with the deletion below, not before it:
      // that is sent at once, as the close is called.
      const undosClosed = undoer.close(options.undoAtCloseMs);
      // Those its connections hold, not every lease of its server id: another process of the same id (the one
      // restarted in its place) holds its own, which it would have freed for a second login.
      const leases = [...held];
      held.clear();
      // Under a deadline of its own (RELEASE_DEADLINE_MS): at a silent database the server's stop waited for it as
      // long as TCP did. Not deleted, they lapse within the lease.
      if (leases.length > 0) {
        await withCommandDeadline(
          RELEASE_DEADLINE_MS,
          () => sql`
            DELETE FROM session_leases WHERE server_id = ${serverId}
              AND (username, connection_key) IN (
                SELECT * FROM unnest(${leases.map(([, l]) => l.username)}::text[], ${leases.map(([k]) => k)}::text[]))`,
        ).catch(() => undefined);
      }
      await undosClosed;
    },
  };
};
