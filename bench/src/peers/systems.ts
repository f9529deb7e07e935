import type { RandomSource } from '../lib/rudp-imports.js';
import { KcpEndpoint } from './kcp-endpoint.js';
import { kcpDefault, kcpFast, kcpFlush, withWindows, type KcpProfile } from './kcp-profile.js';
import type { MessageEndpoint } from './message-endpoint.js';
import { loadRudp, type RudpModule } from './rudp-endpoint.js';

/** The transports compared in one run. */
/**
 * `rudpx` is rudp as its users get it: encrypted. `rudp-plain` is its explicit
 * plaintext mode, the side-by-side row that shows what encryption costs.
 * `rudp-copy` is rudp with the opt-in `redundancy.previousCopyShare: 1` (a
 * copy of the previous small message beside each repair): latency bought with
 * bytes, a chat-only row.
 */
export const SYSTEMS = ['rudp', 'rudp-plain', 'rudp-copy', 'kcp-flush', 'kcp-fast', 'kcp-default'] as const;
/** One of `SYSTEMS`. */
export type SystemId = (typeof SYSTEMS)[number];

/** Systems only the chat scenario runs (an option that matters for small messages only). */
export const CHAT_ONLY: readonly SystemId[] = ['rudp-copy'];

/** The peer every latency and bulk ratio is taken against: KCP fast driven as kcp-go drives it. */
export const REFERENCE: SystemId = 'kcp-flush';

/**
 * Extra settings for one endpoint. `kcpWindow` overrides KCP's 128/128
 * windows (the bench's window calibration uses it); rudp ignores it.
 */
export interface EndpointTuning {
  readonly kcpWindow?: number;
}

/** The KCP profile a system uses, or `undefined` for rudp. */
export function kcpProfileFor(system: SystemId, tuning: EndpointTuning = {}): KcpProfile | undefined {
  const base = system === 'kcp-flush' ? kcpFlush : system === 'kcp-fast' ? kcpFast : system === 'kcp-default' ? kcpDefault : undefined;
  if (!base) return undefined;
  return tuning.kcpWindow === undefined ? base : withWindows(base, tuning.kcpWindow, tuning.kcpWindow);
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
    return kcpProfileFor(system) !== undefined || this.rudp !== undefined;
  }

  /** A fresh endpoint of `system`. */
  create(system: SystemId, random: RandomSource, acceptIncoming: boolean, tuning: EndpointTuning = {}): MessageEndpoint {
    const profile = kcpProfileFor(system, tuning);
    if (profile) return new KcpEndpoint({ profile, random, acceptIncoming });
    if (!this.rudp) throw new Error('rudp is not available');
    return this.rudp.createEndpoint(random, acceptIncoming, system === 'rudp-plain', system === 'rudp-copy' ? { previousCopyShare: 1 } : {});
  }
}
