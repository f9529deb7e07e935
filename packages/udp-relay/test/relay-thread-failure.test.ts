/**
 * A relay thread that fails while a test runs (an uncaught error in it, an exit of its own) stops forwarding, and
 * its peers see only a dead link: `close()` says why it failed. The worker here is a stand-in (node:worker_threads
 * mocked), so that the thread can fail on cue; relay-thread.test.ts runs the real one.
 */
import { describe, expect, it, vi } from 'vitest';
import type { RelayThreadMessage, RelayThreadRequest } from '../src/relay-thread-messages.js';

/** The stand-in workers made, newest last. */
const made = vi.hoisted((): { workers: { emit(event: string, ...args: unknown[]): boolean }[] } => ({ workers: [] }));

vi.mock('node:worker_threads', async () => {
  // Imported here: the factory runs before this file's imports.
  const { EventEmitter } = await import('node:events');
  /** Starts at once, answers every request, and exits with code 1 when terminated (as a real worker does). */
  class StandInWorker extends EventEmitter {
    constructor() {
      super();
      made.workers.push(this);
      setImmediate(() => this.emit('message', { type: 'started', port: 40_000 } satisfies RelayThreadMessage));
    }
    postMessage(request: RelayThreadRequest): void {
      setImmediate(() => this.emit('message', { type: 'done', id: request.id } satisfies RelayThreadMessage));
    }
    terminate(): Promise<number> {
      setImmediate(() => this.emit('exit', 1));
      return Promise.resolve(1);
    }
  }
  return { Worker: StandInWorker };
});

const { startLossyRelayThread } = await import('../src/relay-thread.js');

describe('startLossyRelayThread: a thread that failed', () => {
  it('close() rejects with the error the thread failed with', async () => {
    const relay = await startLossyRelayThread({ targetPort: 9, seed: 1 });
    made.workers.at(-1)?.emit('error', new Error('boom in the relay thread'));
    await expect(relay.close()).rejects.toThrow('boom in the relay thread');
  });

  it('close() rejects when the thread exited on its own', async () => {
    const relay = await startLossyRelayThread({ targetPort: 9, seed: 1 });
    made.workers.at(-1)?.emit('exit', 0);
    await expect(relay.close()).rejects.toThrow('the relay thread exited (code 0)');
  });

  it('close() of a thread that ran well resolves (its own exit at the end is no failure)', async () => {
    const relay = await startLossyRelayThread({ targetPort: 9, seed: 1 });
    await expect(relay.stats()).rejects.toThrow('no stats');
    await expect(relay.close()).resolves.toBeUndefined();
  });
});
