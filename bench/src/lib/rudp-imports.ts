/**
 * The one place the bench names rudp's modules, so switching between the
 * built package and the source tree is a one-file change.
 */
export { SimNetwork, createRandom, deriveRandom } from '../../../packages/rudp/src/testing.js';
export type { LinkConfig, LinkStats, PeerAddress, RandomSource, SansIoEndpoint, Transmit } from '../../../packages/rudp/src/testing.js';
