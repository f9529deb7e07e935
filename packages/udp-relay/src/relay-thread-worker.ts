/**
 * The worker thread of `startLossyRelayThread`: one `startLossyRelay` relay,
 * driven by the parent's requests, on an event loop of its own.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { startLossyRelay, type LossyRelay, type LossyRelayOptions } from './lossy-relay.js';
import type { RelayThreadMessage, RelayThreadRequest } from './relay-thread-messages.js';

const port = parentPort;
if (port === null) throw new Error('relay-thread-worker runs as a worker thread only');
const post = (m: RelayThreadMessage): void => port.postMessage(m);

const answer = async (relay: LossyRelay, request: RelayThreadRequest): Promise<RelayThreadMessage> => {
  switch (request.op) {
    case 'stats':
      return { type: 'done', id: request.id, stats: relay.stats() };
    case 'partition':
      relay.setPartitioned(request.cut);
      return { type: 'done', id: request.id };
    case 'rebind':
      await relay.rebind();
      return { type: 'done', id: request.id };
    case 'close':
      await relay.close();
      return { type: 'done', id: request.id };
  }
};

startLossyRelay(workerData as LossyRelayOptions).then(
  (relay) => {
    port.on('message', (request: RelayThreadRequest) => {
      answer(relay, request).then(post, (e: unknown) => post({ type: 'error', id: request.id, message: e instanceof Error ? e.message : String(e) }));
    });
    post({ type: 'started', port: relay.port });
  },
  (e: unknown) => post({ type: 'failed', message: e instanceof Error ? e.message : String(e) }),
);
