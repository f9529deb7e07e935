/** Parameters of the chat scenario: small messages at a steady rate, both ways. */
export interface ChatScenario {
  readonly messageBytes: number;
  readonly intervalMs: number;
  /** Network time during which both sides send. */
  readonly durationMs: number;
  /** Give up this long after the last send if messages are still missing. */
  readonly drainLimitMs: number;
}

/** The spec's chat: 64 bytes every 20 ms for 60 s, each way. */
export const CHAT: ChatScenario = { messageBytes: 64, intervalMs: 20, durationMs: 60_000, drainLimitMs: 60_000 };

/** The `--quick` chat: the same rate for 10 s. */
export const CHAT_QUICK: ChatScenario = { ...CHAT, durationMs: 10_000 };
