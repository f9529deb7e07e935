/**
 * The relay process `RelayHost` forks: it runs `startLossyRelay` relays on
 * request and answers with their counters; it exits when the parent
 * disconnects.
 */
import { startLossyRelay, type LossyRelay, type LossyRelayOptions } from 'udp-relay';
import type { RelaySnapshot } from './relay-host.js';
import { udpSocketDrops } from './socket-drops.js';

/** A request from the parent; `id` pairs it with its reply. */
export type RelayRequest =
  | { readonly type: 'ping'; readonly id: number }
  | { readonly type: 'start'; readonly id: number; readonly options: LossyRelayOptions }
  | { readonly type: 'stats' | 'close'; readonly id: number; readonly relay: number };

/** The answer to a `RelayRequest` of the same `id`. */
export type RelayReply =
  | { readonly type: 'pong' | 'closed'; readonly id: number }
  | { readonly type: 'started'; readonly id: number; readonly relay: number; readonly port: number }
  | { readonly type: 'stats'; readonly id: number; readonly stats: RelaySnapshot }
  | { readonly type: 'error'; readonly id: number; readonly message: string };

const relays = new Map<number, LossyRelay>();
let nextRelay = 1;

async function answer(m: RelayRequest): Promise<RelayReply> {
  switch (m.type) {
    case 'ping':
      return { type: 'pong', id: m.id };
    case 'start': {
      const relay = await startLossyRelay(m.options);
      const n = nextRelay++;
      relays.set(n, relay);
      return { type: 'started', id: m.id, relay: n, port: relay.port };
    }
    case 'stats': {
      const relay = relays.get(m.relay);
      if (!relay) return { type: 'error', id: m.id, message: `no relay ${m.relay}` };
      const cpu = process.cpuUsage();
      // Every UDP socket of this process is a relay's, and one relay runs at a time.
      return { type: 'stats', id: m.id, stats: { ...relay.stats(), kernelDrops: udpSocketDrops(), cpuSeconds: (cpu.user + cpu.system) / 1e6 } };
    }
    case 'close':
      await relays.get(m.relay)?.close();
      relays.delete(m.relay);
      return { type: 'closed', id: m.id };
  }
}

process.on('message', (m: RelayRequest) => {
  answer(m).then(
    (reply) => process.send?.(reply),
    (e: unknown) => process.send?.({ type: 'error', id: m.id, message: e instanceof Error ? e.message : String(e) }),
  );
});
process.on('disconnect', () => {
  void Promise.all([...relays.values()].map((r) => r.close())).then(() => process.exit(0));
});
