import type { PeerAddress, Transmit } from '../lib/rudp-imports.js';
import type { MessageConnection, MessageEndpoint, MessageEvent } from '../peers/message-endpoint.js';

/**
 * Wraps an endpoint and adds up the wall time spent inside its calls, so the
 * cost of one endpoint can be told apart from the simulator's and the other
 * peers' (the benchmark is single-threaded, so this is its CPU time).
 */
export class TimedEndpoint implements MessageEndpoint {
  /** Milliseconds spent inside the wrapped endpoint. */
  elapsedMs = 0;

  constructor(private readonly inner: MessageEndpoint) {}

  connect(now: number, to: PeerAddress): MessageConnection {
    const t = performance.now();
    try {
      return this.inner.connect(now, to);
    } finally {
      this.elapsedMs += performance.now() - t;
    }
  }

  pollEvent(): MessageEvent | undefined {
    const t = performance.now();
    const ev = this.inner.pollEvent();
    this.elapsedMs += performance.now() - t;
    return ev;
  }

  handleDatagram(now: number, data: Uint8Array, from: PeerAddress): void {
    const t = performance.now();
    this.inner.handleDatagram(now, data, from);
    this.elapsedMs += performance.now() - t;
  }

  pollTransmit(now: number): Transmit | undefined {
    const t = performance.now();
    const tx = this.inner.pollTransmit(now);
    this.elapsedMs += performance.now() - t;
    return tx;
  }

  pollTimeout(): number | undefined {
    const t = performance.now();
    const at = this.inner.pollTimeout();
    this.elapsedMs += performance.now() - t;
    return at;
  }

  handleTimeout(now: number): void {
    const t = performance.now();
    this.inner.handleTimeout(now);
    this.elapsedMs += performance.now() - t;
  }
}
