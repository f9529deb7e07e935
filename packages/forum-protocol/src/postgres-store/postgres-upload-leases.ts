import type { PendingQuery, Row, Sql } from 'postgres';
import { outsideCommandDeadline } from '../store/command-deadline.js';
import { toIoError } from '../store/errors.js';
import { startHeartbeat } from './postgres-heartbeat.js';

/** How long a pending upload's lease lives without renewal by default, ms: a session's (15 s). */
export const DEFAULT_UPLOAD_LEASE_MS = 15_000;

/**
 * The condition (for `deleteUploads`) of the pending uploads whose lease lapsed (schema 12): their server stopped renewing them (killed, or
 * cut off from the database for longer than the lease), so no chunk or commit of theirs will come.
 * Rows of a server of schema 11 have no lease (NULL) and are left to the sweep of stale uploads.
 */
export const lapsedUploads = (sql: Sql): PendingQuery<Row[]> => sql`NOT committed AND lease_expires_at < now()`;

/**
 * The bytes stored for pending uploads (other than `except`, the asker's own): room that is not free
 * now but will be once they commit or end. Read when an upload is refused for want of room, so that the
 * refusal says so (a dead server's upload held it for 10 minutes, "remove threads to make room" the only
 * advice given: attack round 18).
 */
export const bytesInProgress = async (sql: Sql, except?: string): Promise<number> => {
  const rows = await sql<{ bytes: string }[]>`
    SELECT COALESCE(sum(octet_length(c.data)), 0) AS bytes FROM uploads u JOIN upload_chunks c ON c.upload_id = u.id
    WHERE NOT u.committed AND u.id <> ${except ?? '0'}`;
  return Number(rows[0]?.bytes ?? 0);
};

/**
 * This server's pending uploads' leases (`uploads.lease_expires_at`, schema 12): set as a row is
 * inserted, renewed with each chunk and by a heartbeat every third of `ms` (a slow sender may send no
 * chunk for longer), so that a row whose lease lapsed belongs to a server that is gone. Any server
 * deletes such a row as soon as its room is needed ({@link lapsedUploads}), not 10 minutes after its
 * last chunk; a server cut off longer than the lease loses its uploads so, as it loses its sessions.
 */
export class UploadLeases {
  readonly #sql: Sql;
  readonly #held = new Set<string>();
  readonly #stopHeartbeat: () => void;

  constructor(
    sql: Sql,
    /** How long a lease lives without renewal, ms. */
    readonly ms: number,
    onError?: (message: string) => void,
  ) {
    this.#sql = sql;
    this.#stopHeartbeat = startHeartbeat(Math.max(10, Math.floor(ms / 3)), () => this.renew(), (e) =>
      onError?.(`upload lease renewal failed (a lease lapses only after ${ms} ms): ${toIoError(e).message}`),
    );
  }

  /** Renews the lease of pending upload `id` from now on, until {@link drop}. */
  hold(id: string): void {
    this.#held.add(id);
  }

  /** Stops renewing `id`'s lease (its upload committed, failed or was given up). */
  drop(id: string): void {
    this.#held.delete(id);
  }

  /** Renews every held lease now (the heartbeat does it every third of `ms`). Outside any command's deadline: a heartbeat is no command's. */
  async renew(): Promise<void> {
    const ids = [...this.#held];
    if (ids.length === 0) return;
    // Locked in the order of their ids first, as deleteUploads locks the rows it deletes: in its plan's order
    // (by id here, by lease expiry there) the two deadlocked over the uploads of a server back from a cut-off.
    await outsideCommandDeadline(
      () => this.#sql`
        UPDATE uploads SET lease_expires_at = now() + ${this.ms} * interval '1 millisecond'
        WHERE id IN (SELECT id FROM uploads WHERE id = ANY (${ids}::bigint[]) AND NOT committed ORDER BY id FOR NO KEY UPDATE)`,
    );
  }

  /** Stops the heartbeat: the uploads still held lapse (the store is closing; their rows are left to any server). */
  close(): void {
    this.#stopHeartbeat();
    this.#held.clear();
  }
}
