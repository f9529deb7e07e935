/** The constant in Mathis et al. (1997) for TCP Reno with delayed ACKs off: √(3/2) ≈ 1.22. */
export const MATHIS_C = 1.22;

/**
 * Steady-state TCP throughput by the Mathis model, (MSS/RTT)·C/√p in bits per
 * second, capped at the bottleneck rate (and equal to it at p = 0).
 */
export function mathisThroughputBps(mssBytes: number, rttMs: number, loss: number, capBps: number): number {
  if (loss <= 0) return capBps;
  const bps = ((mssBytes * 8) / (rttMs / 1000)) * (MATHIS_C / Math.sqrt(loss));
  return Math.min(capBps, bps);
}
