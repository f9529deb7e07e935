import type { RandomSource } from '../lib/rudp-imports.js';
import type { MessageEndpoint } from './message-endpoint.js';

/** How the bench builds rudp endpoints once rudp's core is loaded. */
export interface RudpModule {
  createEndpoint(random: RandomSource, acceptIncoming: boolean): MessageEndpoint;
}

/** Loads rudp's core; `undefined` while it does not exist yet. */
export async function loadRudp(): Promise<RudpModule | undefined> {
  return undefined;
}
