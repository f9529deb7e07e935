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
};

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
};

/** The same profile with other windows (bulk transfer needs more than chat). */
export function withWindows(profile: KcpProfile, sendWindow: number, receiveWindow: number): KcpProfile {
  return { ...profile, sendWindow, receiveWindow };
}
