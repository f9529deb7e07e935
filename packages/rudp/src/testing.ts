/**
 * `rudpx/testing`: the seeded, deterministic network simulator that drives
 * any `SansIoEndpoint`, its impairment model and PRNG helpers.
 */
export { SimNetwork } from './testing/sim-network.js';
export type { SimNetworkOptions, SimNodeOptions } from './testing/sim-network.js';
export { LinkImpairment, addLinkStats, checkedLinkConfig, emptyLinkStats, validateLinkConfig } from './testing/impairment.js';
export type { BurstConfig, Delivery, JitterMode, LinkConfig, LinkStats, MutableLinkStats } from './testing/impairment.js';
export { createRandom, deriveRandom, fillRandomBytes, hashString, randomChance, randomFloat, randomInt } from './testing/prng.js';
export { EventHeap } from './testing/event-heap.js';
export type { HeapItem } from './testing/event-heap.js';
export type { PeerAddress, RandomSource, SansIoEndpoint, Transmit } from './core/sans-io.js';
export { deterministicCrypto } from './testing/deterministic-crypto.js';
