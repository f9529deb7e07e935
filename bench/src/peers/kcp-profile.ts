/** How a KCP control block is tuned (`ikcp_nodelay`, `ikcp_wndsize`, `ikcp_setmtu`). */
export interface KcpProfile {
  readonly name: string;
  /** `nodelay`: 1 halves RTO growth and lowers the minimum RTO to 30 ms. */
  readonly nodelay: 0 | 1 | 2;
  /** Internal update interval in ms: ACKs and new data leave only on these ticks. */
  readonly intervalMs: number;
  /** Fast retransmit after this many duplicate ACKs skip a segment (0 = off). */
  readonly resend: number;
  /** 1 = no congestion window (only the send/receive windows limit). */
  readonly noCongestionWindow: 0 | 1;
  /** Send and receive windows, in segments. */
  readonly sendWindow: number;
  readonly receiveWindow: number;
  /** Largest datagram KCP emits (bytes); the same 1200-byte limit rudp keeps. */
  readonly mtu: number;
  /**
   * How the application drives KCP. `ticks`: data and ACKs leave only on
   * `ikcp_update` ticks (KCP's C README). `flushed`: as kcp-go drives it for
   * low latency: each `send` is flushed at once (kcp-go's write path with
   * write delay off, its default) and every input is followed by a flush so
   * ACKs leave without waiting for the tick (kcp-go's `SetACKNoDelay(true)`).
   * KCP's clock is brought to the present before each, as kcp-go reads the
   * wall clock there.
   */
  readonly drive: 'ticks' | 'flushed';
}

/**
 * KCP's fast profile as its README recommends (`ikcp_nodelay(kcp, 1, 10, 2, 1)`)
 * with the 128/128 windows its fast-mode example uses.
 */
export const kcpFast: KcpProfile = {
  name: 'kcp-fast',
  nodelay: 1,
  intervalMs: 10,
  resend: 2,
  noCongestionWindow: 1,
  sendWindow: 128,
  receiveWindow: 128,
  mtu: 1200,
  drive: 'ticks',
};

/**
 * The fast profile driven as kcp-go users drive it for low latency: data
 * flushed on send, ACKs flushed on input. The reference for every latency
 * target.
 */
export const kcpFlush: KcpProfile = { ...kcpFast, name: 'kcp-flush', drive: 'flushed' };

/** KCP's defaults (`ikcp_nodelay(kcp, 0, 100, 0, 0)`), with the same 128/128 windows as the fast profile. */
export const kcpDefault: KcpProfile = {
  name: 'kcp-default',
  nodelay: 0,
  intervalMs: 100,
  resend: 0,
  noCongestionWindow: 0,
  sendWindow: 128,
  receiveWindow: 128,
  mtu: 1200,
  drive: 'ticks',
};

/** The same profile with other windows (bulk transfer needs more than chat). */
export function withWindows(profile: KcpProfile, sendWindow: number, receiveWindow: number): KcpProfile {
  return { ...profile, sendWindow, receiveWindow };
}
