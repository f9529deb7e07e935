/** How long the client waits on the server, all from `--timeout`. */
export interface Timings {
  /** rudp settings: the handshake limit, and the silence after which the connection is dead (noticed even when the client sends nothing). */
  readonly transport: { readonly handshakeTimeoutMs: number; readonly idleTimeoutMs: number; readonly keepAliveMs: number };
  /** A request with no reply by then means the server is unreachable. */
  readonly requestTimeoutMs: number;
}

/** The timings for `--timeout SECONDS`: connecting waits SECONDS, a reply 1.6 × and silence 2 × (5, 8 and 10 s by default). */
export const timingsFor = (timeoutSeconds: number): Timings => {
  const ms = Math.round(timeoutSeconds * 1000);
  return {
    transport: { handshakeTimeoutMs: ms, idleTimeoutMs: 2 * ms, keepAliveMs: Math.min(2_000, Math.max(50, Math.round(ms / 2))) },
    requestTimeoutMs: Math.round(1.6 * ms),
  };
};
