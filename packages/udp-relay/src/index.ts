/**
 * `udp-relay`: a userspace impairing UDP relay. It forwards datagrams between
 * clients and one target through rudp's seeded impairment model (loss,
 * Gilbert–Elliott bursts, delay, jitter, reordering, duplication, bottleneck)
 * with real time, for real-socket tests and the benchmark; `udp-relay` is its
 * command.
 */
export { startLossyRelay } from './lossy-relay.js';
export type { LossyRelay, LossyRelayOptions, LossyRelayStats } from './lossy-relay.js';
export { RELAY_USAGE, parseRelayArgs, runRelayCli } from './relay-cli.js';
export type { RelayArgsResult, RelayCliIo, RelayCommand } from './relay-cli.js';
export type { BurstConfig, LinkConfig, LinkStats } from 'rudpx/testing';
export { startLossyRelayThread } from './relay-thread.js';
export type { LossyRelayThread } from './relay-thread.js';
