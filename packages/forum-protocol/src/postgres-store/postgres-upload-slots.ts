import * as E from 'fp-ts/lib/Either.js';
import type { Sql } from 'postgres';
import { withCommandDeadline } from '../store/command-deadline.js';
import { toIoError, type IoError } from '../store/errors.js';
import { RELEASE_DEADLINE_MS, untilAnswerDue } from './postgres-abandon.js';
import { answeredByDatabase, backendPidOf, createClaimUndoer, newClaimMark, type GivenUpClaim } from './postgres-claim-undo.js';
import { failedBeforeCommit } from './postgres-deadline.js';
import { startHeartbeat } from './postgres-heartbeat.js';
import { postgresIoError } from './postgres-timeouts.js';
import type { UploadSlots } from '../transfer/upload-slots.js';

/** Options for {@link createPostgresUploadSlots}. */
export interface PostgresUploadSlotsOptions {
  /** This server's id: unique among the servers sharing the database. */
  readonly serverId: string;
  /** Most uploads one user may have running at once, over all servers. */
  readonly perUser: number;
  /**
   * How long a place lives without renewal, ms; the server renews its places
   * every third of it, so a crashed server's places are free again at most
   * this long after it died.
   */
  readonly leaseMs: number;
  /** Told when a renewal fails (the next one may succeed; a place lapses only after `leaseMs`), and of places taken and not undone. */
  readonly onError?: (message: string) => void;
  /**
   * How long giving a place back may take, ms: its DELETE runs under a deadline of its own (the abandon rule
   * after it, postgres-abandon.ts). Default {@link SLOT_RELEASE_DEADLINE_MS}.
   */
  readonly releaseDeadlineMs?: number;
  /** How long the undo of a place taken and not confirmed keeps asking, ms. Default `UNDO_CLAIM_FOR_MS` (60 s); tests shorten it. */
  readonly undoForMs?: number;
  /** How long `close` waits for the pending undos, ms. Default `UNDO_AT_CLOSE_MS` (2.5 s). */
  readonly undoAtCloseMs?: number;
}

/**
 * How long giving an upload's place back may take, ms, before it is left to the heartbeat (which deletes it at
 * its next renewal) or to its lease: at a silent database the DELETE waited for as long as TCP did, and with it
 * the end of the upload's connection (its user's "transferring" mark) and the user's next upload on this server
 * (which waits for the user's places being given back).
 */
export const SLOT_RELEASE_DEADLINE_MS = RELEASE_DEADLINE_MS;

/** A place taken by a transaction whose COMMIT went unanswered: its row's `id` (postgres-claim-undo.ts). */
interface GivenUpPlace extends GivenUpClaim {
  readonly id: string;
}

/**
 * A take's failure as the refusal its upload reads: "please try again" whatever failed, since no upload has
 * started. A COMMIT unanswered is "may or may not be stored" for a command's change; here the place it may
 * have taken is undone (or lapses), and the upload itself stores nothing.
 */
const takeError = (e: unknown): IoError => {
  const failed = postgresIoError(e);
  return failed.outcomeUnknown === undefined ? failed : { kind: 'io', message: failed.message, timedOut: true };
};


/** {@link UploadSlots} in the database, with the heartbeat that renews them. */
export interface PostgresUploadSlots extends UploadSlots {
  /** Renews this server's places now (the heartbeat does it every `leaseMs / 3`) and sweeps lapsed ones. */
  renew(): Promise<void>;
  /** Stops the heartbeat and frees the places it holds (another process of the same server id keeps its own). */
  close(): Promise<void>;
}

/**
 * Each user's uploads in progress counted in `upload_slots` (schema 6), so
 * that a user runs at most `perUser` over every server sharing the database,
 * not `perUser` on each: a place is a row taken under a per-user lock
 * (`forum_upload_slot_take`, in a transaction of its own) and deleted when the
 * upload ends. Rows are leases this server renews; one it could not delete
 * (the database gone meanwhile) is deleted at the next renewal, and one whose
 * server crashed lapses by itself. Cut off from the database longer than the
 * lease, a server's places lapse while its uploads run: others may then start
 * theirs beside them.
 *
 * A take runs under the deadline of the command that asks (the transfer's); a
 * take whose COMMIT went unanswered at that deadline (a silent database) may
 * still commit when the database reads it: its place, whose id the take's
 * answered statement told, is deleted once the database tells that the
 * backend has ended or has run it (postgres-claim-undo.ts), not held until it
 * lapses. Before the COMMIT is written, the transaction cannot commit.
 */
export const createPostgresUploadSlots = (sql: Sql, options: PostgresUploadSlotsOptions): PostgresUploadSlots => {
  const { serverId, perUser, leaseMs } = options;
  const releaseDeadlineMs = options.releaseDeadlineMs ?? SLOT_RELEASE_DEADLINE_MS;
  // Only the places still held are renewed: one whose delete failed lapses instead of living on.
  const held = new Set<string>();
  // Places given back whose DELETE failed or was given up: deleted again by the next renewal.
  const unreleased = new Set<string>();
  // A user's places being given back: the user's next take waits for them, so that an upload ending and the
  // next one starting on this server are counted in that order (each bounded by its deadline).
  const releasing = new Map<string, Promise<void>>();
  const undoer = createClaimUndoer<GivenUpPlace>(sql, {
    remove: (settled) => sql`DELETE FROM upload_slots WHERE id = ANY (${settled.map((p) => p.id)}::bigint[])`,
    onGivenUp: (given, atClose) =>
      options.onError?.(
        `${given.length === 1 ? 'an upload place whose take was given up was' : `${given.length} upload places whose takes were given up were`} not undone${atClose ? ' at close' : ''} (${given.length === 1 ? 'it lapses' : 'they lapse'} within ${leaseMs} ms): ${given[0]?.why ?? ''}`,
      ),
    ...(options.undoForMs === undefined ? {} : { undoForMs: options.undoForMs }),
  });
  /** Deletes places `ids` under the release's deadline; resolves to whether the database answered. */
  const deleted = (ids: readonly string[]): Promise<boolean> =>
    withCommandDeadline(releaseDeadlineMs, async () => {
      await sql`DELETE FROM upload_slots WHERE id = ANY (${ids}::bigint[])`;
    }).then(
      () => true,
      () => false,
    );
  const renew = async (): Promise<void> => {
    const ids = [...held];
    if (ids.length > 0) await sql`UPDATE upload_slots SET expires_at = now() + ${leaseMs} * interval '1 millisecond' WHERE id = ANY (${ids}::bigint[])`;
    // Any server's lapsed places, a crashed one's included, so that the table holds the live ones only; and this
    // server's places whose release failed.
    const again = [...unreleased];
    await sql`DELETE FROM upload_slots WHERE expires_at < now() OR id = ANY (${again}::bigint[])`;
    for (const id of again) unreleased.delete(id);
  };
  const stopHeartbeat = startHeartbeat(Math.max(10, Math.floor(leaseMs / 3)), renew, (e) => options.onError?.(`upload place renewal failed: ${toIoError(e).message}`));
  return {
    perUser,
    take: (username) => async () => {
      try {
        // Awaited only until the take's answer is due: each release is bounded, but a user's few chain.
        await untilAnswerDue(releasing.get(username) ?? Promise.resolve(), undefined);
        const mark = newClaimMark('upload place');
        // What the take's statement answered (the place's id), and the backend it ran on: known before the COMMIT is written.
        let taken: { readonly id: string | null; readonly pid: number | undefined } | undefined;
        let id: string | null;
        try {
          id = await sql.begin(async (tx) => {
            // The mark, in the take's transaction: a take rolled back leaves its backend's name as it was.
            const statement = tx<{ id: string | null }[]>`
              SELECT set_config('application_name', ${mark}, false), forum_upload_slot_take(${username}, ${serverId}, ${perUser}, ${leaseMs}) AS id`;
            const rows = await statement;
            taken = { id: rows[0]?.id ?? null, pid: backendPidOf(statement) };
            return taken.id;
          });
        } catch (e) {
          // Its COMMIT written and not answered (given up at the deadline of a silent database, or its connection
          // lost): it may still land, holding a place nobody gives back. Undone once the database can tell.
          if (taken?.id != null && taken.pid !== undefined && !failedBeforeCommit(e) && !answeredByDatabase(e)) {
            void undoer.undo({ id: taken.id, pid: taken.pid, mark });
          }
          throw e;
        }
        if (id === null) return E.right(undefined);
        const placeId = id;
        held.add(placeId);
        let given = false;
        return E.right(() => {
          if (given) return releasing.get(username) ?? Promise.resolve();
          given = true;
          held.delete(placeId);
          const gone = (releasing.get(username) ?? Promise.resolve()).then(async () => {
            // Not deleted in time (a silent database): the next renewal deletes it, and failing that it lapses
            // (it is no longer renewed). A DELETE given up that lands later deletes what it was meant to.
            if (!(await deleted([placeId]))) unreleased.add(placeId);
          });
          releasing.set(username, gone);
          void gone.then(() => {
            if (releasing.get(username) === gone) releasing.delete(username);
          });
          return gone;
        });
      } catch (e) {
        return E.left(takeError(e));
      }
    },
    renew,
    close: async () => {
      stopHeartbeat();
      const undosClosed = undoer.close(options.undoAtCloseMs);
      // Its own places only: another process of the same server id holds its own. Under the release's deadline:
      // a silent database held the server's stop.
      const ids = [...held, ...unreleased];
      held.clear();
      unreleased.clear();
      if (ids.length > 0) await deleted(ids);
      await undosClosed;
    },
  };
};
