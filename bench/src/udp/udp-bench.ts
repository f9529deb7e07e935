import type { Summary } from '../stats/summary.js';

/** One connection's throughput against raw dgram for one message size. */
export interface UdpThroughput {
  readonly messageBytes: number;
  readonly rawMessagesPerSec: number;
  readonly rudpMessagesPerSec: number;
  readonly rawMBps: number;
  readonly rudpMBps: number;
  /** rudp ÷ raw messages per second. */
  readonly ratio: number;
}

/** Chat through the lossy relay on loopback. */
export interface UdpChatResult {
  readonly system: string;
  readonly loss: number;
  readonly latency: Summary;
  readonly wirePerPayload: number;
  readonly clean: boolean;
  readonly completed: boolean;
}

/** What the real-UDP part measured. */
export interface UdpReport {
  readonly throughput: UdpThroughput[];
  readonly chat: UdpChatResult[];
}

/** Runs the real-UDP part; a string explains why it was skipped. */
export async function runUdp(_quick: boolean, _seed: number): Promise<UdpReport | string> {
  return 'real UDP part skipped: rudp\'s Node adapter (listen/connect from rudp) is not available yet.';
}
