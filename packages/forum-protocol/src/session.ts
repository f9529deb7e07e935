/** An authenticated connection: the server's word for who is issuing commands (never the request's `username`). */
export interface Session {
  readonly username: string;
  /** Identifies the connection that owns the session (e.g. the rudp connection id). */
  readonly connectionKey: string;
}

/** Who is logged in: at most one live session per account. */
export interface SessionRegistry {
  /** Claims `username` for `connectionKey`; `false` if another connection holds it. Idempotent for the holder. */
  tryAcquire(username: string, connectionKey: string): boolean;
  /** Frees `username` if `connectionKey` holds it (a stale release by another connection does nothing). */
  release(username: string, connectionKey: string): void;
  /** The connection holding `username`, if any. */
  holder(username: string): string | undefined;
  /** Number of logged-in accounts. */
  size(): number;
}

/** Creates an empty {@link SessionRegistry}. */
export const createSessionRegistry = (): SessionRegistry => {
  const holders = new Map<string, string>();
  return {
    tryAcquire: (username, connectionKey) => {
      const current = holders.get(username);
      if (current !== undefined && current !== connectionKey) return false;
      holders.set(username, connectionKey);
      return true;
    },
    release: (username, connectionKey) => {
      if (holders.get(username) === connectionKey) holders.delete(username);
    },
    holder: (username) => holders.get(username),
    size: () => holders.size,
  };
};
