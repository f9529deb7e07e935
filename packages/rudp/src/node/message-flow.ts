/**
 * Flow control between a `RudpConnection`'s consumers and its transport:
 * messages are taken from the core only while something consumes them (a
 * `'message'` listener, iteration, `stream()`) and nothing holds them back
 * (`pause()`, a full iterator queue or stream buffer). Otherwise the core is
 * paused, unread messages count against the receive window, and the peer
 * stalls instead of the wrapper buffering without bound.
 */
import type { RudpConnection } from './rudp-connection.js';

/** Why the wrapper stops taking messages from the core: `'user'` for `pause()`, a symbol of its own for each iterator or stream. */
export type Hold = 'user' | symbol;

/** Follows `c`'s `'message'` listeners coming and going (once each): messages are taken from the transport only while someone consumes them. */
export function watchListeners(c: RudpConnection): void {
  // Shared functions, not closures: a server holds one of these objects per connection.
  if (!c.listeners('newListener').includes(onNewListener)) c.on('newListener', onNewListener);
  if (!c.listeners('removeListener').includes(onRemoveListener)) c.on('removeListener', onRemoveListener);
}

/** Takes (`on`) or releases hold `key` on `c`'s messages. */
export function setMessageHold(c: RudpConnection, key: Hold, on: boolean): void {
  if (on) (c.holds ??= new Set()).add(key);
  else c.holds?.delete(key);
  updateFlow(c, 0);
}

/** Pauses `c`'s core while anything holds it or nothing consumes messages (`extra`: a listener about to be added). */
export function updateFlow(c: RudpConnection, extra: number): void {
  if (c.closedWith) return;
  const pause = (c.holds?.size ?? 0) > 0 || c.listenerCount('message') + extra === 0;
  if (pause === c.core.isPaused) return;
  if (pause) {
    c.core.pause();
  } else {
    c.core.resume();
    c.io.changed(c.core);
  }
}

// 'newListener' runs before the listener is added; 'removeListener' after it is gone.
function onNewListener(this: RudpConnection, event: string | symbol): void {
  if (event === 'message') updateFlow(this, 1);
}

function onRemoveListener(this: RudpConnection, event: string | symbol): void {
  if (event === 'message') updateFlow(this, 0);
}
