/** Parameters of the bulk scenario: one large one-way transfer through a bottleneck. */
export interface BulkScenario {
  readonly totalBytes: number;
  /** Size of each application message the transfer is cut into. */
  readonly chunkBytes: number;
  /** Bottleneck rate B, bits per second (both directions). */
  readonly bandwidthBps: number;
  /** Drop-tail queue in front of the bottleneck, bytes. */
  readonly queueBytes: number;
  /** Give up after this much network time. */
  readonly timeLimitMs: number;
}

/** The spec's bulk: 4 MiB over 10 Mbit/s with a 64 KiB queue, sent as 16 KiB messages. */
export const BULK: BulkScenario = {
  totalBytes: 4 * 1024 * 1024,
  chunkBytes: 16 * 1024,
  bandwidthBps: 10_000_000,
  queueBytes: 64 * 1024,
  timeLimitMs: 300_000,
};

/** The `--quick` bulk: 1 MiB. */
export const BULK_QUICK: BulkScenario = { ...BULK, totalBytes: 1024 * 1024 };
