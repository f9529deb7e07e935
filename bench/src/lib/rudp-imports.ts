/**
 * The one place the bench names rudp's modules (the built package, so
 * `pnpm bench` measures what `pnpm build` produced).
 */
export { SimNetwork, createRandom, deriveRandom } from 'rudpx/testing';
export type { LinkConfig, LinkStats, PeerAddress, RandomSource, SansIoEndpoint, Transmit } from 'rudpx/testing';
