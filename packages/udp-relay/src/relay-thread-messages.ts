import type { LossyRelayStats } from './lossy-relay.js';

/** What `startLossyRelayThread` asks of its relay thread. */
export type RelayThreadCall = { readonly op: 'stats' | 'rebind' | 'close' } | { readonly op: 'partition'; readonly cut: boolean };

/** A call with the `id` that pairs it with its reply. */
export type RelayThreadRequest = RelayThreadCall & { readonly id: number };

/** The relay thread's messages: once `started` (or `failed`), then one reply per request. */
export type RelayThreadMessage =
  | { readonly type: 'started'; readonly port: number }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'done'; readonly id: number; readonly stats?: LossyRelayStats }
  | { readonly type: 'error'; readonly id: number; readonly message: string };
