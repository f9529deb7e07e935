import * as E from 'fp-ts/lib/Either.js';
import type { Sql } from 'postgres';
import { toIoError } from '../store/errors.js';
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
  /** Told when a renewal fails (the next one may succeed; a place lapses only after `leaseMs`). */
  readonly onError?: (message: string) => void;
}

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
 * not `perUser` on each: a place is a row taken under a per-user lock (one
 * statement, `forum_upload_slot_take`) and deleted when the upload ends.
 * Rows are leases this server renews; one it could not delete (the database
 * gone meanwhile) or whose server crashed lapses by itself. Cut off from the
 * database longer than the lease, a server's places lapse while its uploads
 * run: others may then start theirs beside them.
 */
export const createPostgresUploadSlots = (sql: Sql, options: PostgresUploadSlotsOptions): PostgresUploadSlots => {
  const { serverId, perUser, leaseMs } = options;
  // Only the places still held are renewed: one whose delete failed lapses instead of living on.
  const held = new Set<string>();
  // A user's places being given back: the user's next take waits for them, so that an upload ending
  // and the next one starting on this server are counted in that order.
  const releasing = new Map<string, Promise<void>>();
  const renew = async (): Promise<void> => {
    const ids = [...held];
    if (ids.length > 0) await sql`UPDATE upload_slots SET expires_at = now() + ${leaseMs} * interval '1 millisecond' WHERE id = ANY (${ids}::bigint[])`;
    // Any server's lapsed places, a crashed one's included, so that the table holds the live ones only.
    await sql`DELETE FROM upload_slots WHERE expires_at < now()`;
  };
  const stopHeartbeat = startHeartbeat(Math.max(10, Math.floor(leaseMs / 3)), renew, (e) => options.onError?.(`upload place renewal failed: ${toIoError(e).message}`));
  return {
    perUser,
    take: (username) => async () => {
      try {
        await releasing.get(username);
        const rows = await sql<{ id: string | null }[]>`SELECT forum_upload_slot_take(${username}, ${serverId}, ${perUser}, ${leaseMs}) AS id`;
        const id = rows[0]?.id ?? null;
        if (id === null) return E.right(undefined);
        held.add(id);
        let given = false;
        return E.right(() => {
          if (given) return releasing.get(username) ?? Promise.resolve();
          given = true;
          held.delete(id);
          const gone = (releasing.get(username) ?? Promise.resolve())
            .then(async () => {
              await sql`DELETE FROM upload_slots WHERE id = ${id}`;
            })
            // Not deleted, the place lapses by itself (it is no longer renewed).
            .catch(() => undefined);
          releasing.set(username, gone);
          void gone.then(() => {
            if (releasing.get(username) === gone) releasing.delete(username);
          });
          return gone;
        });
      } catch (e) {
        return E.left(postgresIoError(e));
      }
    },
    renew,
    close: async () => {
      stopHeartbeat();
      // Its own places only: another process of the same server id holds its own.
      const ids = [...held];
      held.clear();
      if (ids.length > 0) await sql`DELETE FROM upload_slots WHERE id = ANY (${ids}::bigint[])`.catch(() => undefined);
    },
  };
};
