import type { RandomSource } from '../lib/rudp-imports.js';
import { KcpEndpoint } from './kcp-endpoint.js';
import { kcpDefault, kcpFast, withWindows, type KcpProfile } from './kcp-profile.js';
import type { MessageEndpoint } from './message-endpoint.js';
import { loadRudp, type RudpModule } from './rudp-endpoint.js';

/** The transports compared in one run. */
export const SYSTEMS = ['rudp', 'kcp-fast', 'kcp-default'] as const;
/** One of `SYSTEMS`. */
export type SystemId = (typeof SYSTEMS)[number];

/** What an endpoint is for: bulk transfer gets larger KCP windows so KCP is not window-bound. */
export type Workload = 'interactive' | 'bulk';

/** KCP windows (segments) used for bulk: about two bandwidth-delay products plus the queue at 10 Mbit/s, 70 ms. */
export const KCP_BULK_WINDOW = 512;

/** The KCP profile a system uses for a workload, or `undefined` for rudp. */
export function kcpProfileFor(system: SystemId, workload: Workload): KcpProfile | undefined {
  const base = system === 'kcp-fast' ? kcpFast : system === 'kcp-default' ? kcpDefault : undefined;
  if (!base) return undefined;
  return workload === 'bulk' ? withWindows(base, KCP_BULK_WINDOW, KCP_BULK_WINDOW) : base;
}

/** Creates endpoints of every system; rudp only when its core is importable. */
export class SystemFactory {
  private constructor(private readonly rudp: RudpModule | undefined) {}

  /** Loads rudp (if present) once. */
  static async load(): Promise<SystemFactory> {
    return new SystemFactory(await loadRudp());
  }

  /** Why rudp is missing, or `undefined` when it loaded. */
  get rudpUnavailable(): string | undefined {
    return this.rudp ? undefined : 'rudp core (Endpoint from rudp/core) is not importable yet';
  }

  /** Whether `system` can run. */
  available(system: SystemId): boolean {
    return system !== 'rudp' || this.rudp !== undefined;
  }

  /** A fresh endpoint of `system`. */
  create(system: SystemId, workload: Workload, random: RandomSource, acceptIncoming: boolean): MessageEndpoint {
    const profile = kcpProfileFor(system, workload);
    if (profile) return new KcpEndpoint({ profile, random, acceptIncoming });
    if (!this.rudp) throw new Error('rudp is not available');
    return this.rudp.createEndpoint(random, acceptIncoming);
  }
}
