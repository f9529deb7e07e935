import * as TE from 'fp-ts/lib/TaskEither.js';
import type * as T from 'fp-ts/lib/Task.js';
import type { StoreError } from './errors.js';

/** An authenticated connection: the server's word for who is issuing commands (never the request's `username`). */
export interface Session {
  readonly username: string;
  /** Identifies the connection that owns the session (e.g. the rudp connection id); unique across servers sharing a registry. */
  readonly connectionKey: string;
}

/**
 * Who is logged in: at most one live session per account. Asynchronous
 * because the registry may be shared by several servers (a lease table in
 * PostgreSQL, see `createPostgresSessionRegistry`); the in-memory one
 * ({@link createSessionRegistry}) answers at once.
 */
export interface SessionRegistry {
  /** Claims `username` for `connectionKey`; `false` if another connection holds it. Idempotent for the holder. */
  tryAcquire(username: string, connectionKey: string): TE.TaskEither<StoreError, boolean>;
  /** Frees `username` if `connectionKey` holds it (a stale release by another connection does nothing). Best effort: never fails. */
  release(username: string, connectionKey: string): T.Task<void>;
  /** The connection holding `username`, if any. */
  holder(username: string): TE.TaskEither<StoreError, string | undefined>;
}

/** The in-memory {@link SessionRegistry} of one server, which can also count its sessions. */
export interface LocalSessionRegistry extends SessionRegistry {
  /** Number of logged-in accounts. */
  size(): number;
}

/** Creates an empty in-memory {@link SessionRegistry} (one server). */
export const createSessionRegistry = (): LocalSessionRegistry => {
  const holders = new Map<string, string>();
  return {
    tryAcquire: (username, connectionKey) =>
      TE.fromIO(() => {
        const current = holders.get(username);
        if (current !== undefined && current !== connectionKey) return false;
        holders.set(username, connectionKey);
        return true;
      }),
    release: (username, connectionKey) => async () => {
      if (holders.get(username) === connectionKey) holders.delete(username);
    },
    holder: (username) => TE.fromIO(() => holders.get(username)),
    size: () => holders.size,
  };
};
