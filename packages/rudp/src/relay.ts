/** `rudp/relay`: a lossy UDP relay for real-network tests and its `rudp-relay` command. */
export { RELAY_USAGE, parseRelayArgs, runRelayCli, startLossyRelay } from './node/lossy-relay.js';
export type { LossyRelay, LossyRelayOptions, LossyRelayStats, RelayArgsResult, RelayCliIo, RelayCommand } from './node/lossy-relay.js';
export type { BurstConfig, LinkConfig, LinkStats } from './testing/impairment.js';
