import { Worker } from 'node:worker_threads';
import type { LossyRelayOptions, LossyRelayStats } from './lossy-relay.js';
import type { RelayThreadCall, RelayThreadMessage, RelayThreadRequest } from './relay-thread-messages.js';

/** A relay running on a worker thread of its own; the same controls as `LossyRelay`, answered asynchronously. */
export interface LossyRelayThread {
  /** The port clients send to. */
  readonly port: number;
  /** The relay's counters, as `LossyRelay.stats()`. */
  stats(): Promise<LossyRelayStats>;
  /** As `LossyRelay.setPartitioned`; resolves once the relay thread has applied it. */
  setPartitioned(cut: boolean): Promise<void>;
  /** True while the link is cut (as last set through `setPartitioned`). */
  readonly partitioned: boolean;
  /** As `LossyRelay.rebind`: resolves once the new upstream sockets are bound. */
  rebind(): Promise<void>;
  /**
   * Closes the relay and ends its thread. Rejects with why the thread failed, if it did before (an uncaught
   * error, an exit of its own): the relay had stopped forwarding, and the peers saw only a dead link.
   */
  close(): Promise<void>;
}

/**
 * Starts `startLossyRelay(options)` on a worker thread: the relay then
 * forwards on time while the caller's event loop is held (long synchronous
 * work in a test), where a relay in the caller's thread forwards nothing
 * until it is free, and the peers take the silence for a dead link.
 */
export async function startLossyRelayThread(options: LossyRelayOptions): Promise<LossyRelayThread> {
  // The worker is the sibling build file of this module's (dist/relay-thread-worker.js or .cjs).
  const file = import.meta.url.endsWith('.cjs') ? './relay-thread-worker.cjs' : './relay-thread-worker.js';
  const worker = new Worker(new URL(file, import.meta.url), { workerData: options });
  const waiting = new Map<number, { resolve: (m: RelayThreadMessage) => void; reject: (e: Error) => void }>();
  let failure: Error | undefined;
  const fail = (e: Error): void => {
    failure ??= e;
    for (const w of waiting.values()) w.reject(e);
    waiting.clear();
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`the relay thread exited (code ${code})`)));

  const started = await new Promise<RelayThreadMessage>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the relay thread exited (code ${code}) before it started`)));
  });
  if (started.type !== 'started') {
    await worker.terminate();
    throw new Error(started.type === 'failed' ? started.message : `the relay thread said ${started.type} first`);
  }
  worker.on('message', (m: RelayThreadMessage) => {
    if (m.type !== 'done' && m.type !== 'error') return;
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (m.type === 'done') w?.resolve(m);
    else w?.reject(new Error(m.message));
  });

  let nextId = 1;
  const ask = (call: RelayThreadCall): Promise<RelayThreadMessage> => {
    if (failure !== undefined) return Promise.reject(failure);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      const request: RelayThreadRequest = { ...call, id };
      worker.postMessage(request);
    });
  };
  let partitioned = false;
  let closed: Promise<void> | undefined;
  return {
    port: started.port,
    stats: async () => {
      const m = await ask({ op: 'stats' });
      if (m.type !== 'done' || m.stats === undefined) throw new Error('the relay thread sent no stats');
      return m.stats;
    },
    setPartitioned: async (cut) => {
      await ask({ op: 'partition', cut });
      partitioned = cut;
    },
    get partitioned() {
      return partitioned;
    },
    rebind: async () => {
      await ask({ op: 'rebind' });
    },
    close: () =>
      (closed ??= (async () => {
        const failedBefore = failure;
        // The relay's sockets closed first (as LossyRelay.close), then the thread; a thread already gone has nothing to close.
        const closing = await ask({ op: 'close' }).then(
          () => undefined,
          (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
        );
        await worker.terminate();
        // Told here, or never: a test that failed on the dead link reads only its peers' timeouts.
        if (failedBefore !== undefined) throw failedBefore;
        if (closing !== undefined && closing !== failure) throw closing;
      })()),
  };
}
