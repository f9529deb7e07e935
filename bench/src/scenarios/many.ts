/** Parameters of the many-peers scenario: one server endpoint, many client connections. */
export interface ManyScenario {
  /** Connection counts to measure. */
  readonly counts: readonly number[];
  readonly messageBytes: number;
  /** Each client sends one message per this many ms. */
  readonly periodMs: number;
  /** Network time of the messaging phase. */
  readonly durationMs: number;
  /** Loss per direction on every client link. */
  readonly loss: number;
}

/** The spec's many peers: 1,000 and 10,000 connections, one 64-byte message a second each. */
export const MANY: ManyScenario = { counts: [1_000, 10_000], messageBytes: 64, periodMs: 1_000, durationMs: 5_000, loss: 0 };

/** The `--quick` many peers: 1,000 connections only. */
export const MANY_QUICK: ManyScenario = { ...MANY, counts: [1_000] };
