/**
 * A TCP proxy in front of PostgreSQL that partitions connections one way on demand (postgres-claim-undo tests):
 * what the client sends, and its close, are held until healed, as TCP retransmits them through a partition.
 */
import type { Socket } from 'node:net';
import { loopbackProxy, type LoopbackProxy } from './loopback-proxy.js';
import { frontendMessages } from './postgres-wire.js';

/** What a test drives of {@link holdingProxy}. */
export interface HoldingProxy extends LoopbackProxy {
  /** The connection that next carries `statement` holds the database's answers from its run on. */
  holdAnswersAfter(statement: string): void;
  /** From now on, the other connections open now carry nothing the client sends (nor its close) to the database. */
  hold(): void;
  /** Lets what `hold` held through, then the clients' closes. */
  heal(): void;
}

/** One client's connection through {@link holdingProxy}. */
interface Flow {
  readonly upstream: Socket;
  /** What the client sent since `hold`, not yet delivered. */
  held?: Buffer[];
  answersHeld: boolean;
  clientClosed: boolean;
}

/**
 * A TCP proxy in front of the database whose `hold` partitions the connections open then, one way: the
 * client's bytes and its close wait (as TCP retransmits them) until `heal` delivers them to the database.
 * Connections opened later pass.
 */
export const holdingProxy = async (url: string): Promise<HoldingProxy> => {
  const open = new Set<Flow>();
  const heldFlows: Flow[] = [];
  let armed: string | undefined;
  const proxy = await loopbackProxy(url, (client, upstream) => {
    const flow: Flow = { upstream, answersHeld: false, clientClosed: false };
    open.add(flow);
    // Armed by the statement's Parse; held from its Execute (postgres.js describes a statement before its first run).
    let armedHere = false;
    client.on('data', (chunk: Buffer) => {
      const messages = frontendMessages(chunk);
      const statement = armed;
      if (statement !== undefined && messages.some((m) => m.query.includes(statement))) {
        armed = undefined;
        armedHere = true;
        open.delete(flow);
      }
      if (flow.held === undefined) upstream.write(chunk);
      else flow.held.push(chunk);
      if (armedHere && messages.some((m) => m.type === 'E')) flow.answersHeld = true;
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!flow.answersHeld) client.write(chunk);
    });
    return {
      clientClosed: () => {
        flow.clientClosed = true;
        open.delete(flow);
        if (flow.held === undefined) upstream.destroy();
      },
    };
  });
  return {
    ...proxy,
    holdAnswersAfter: (statement) => {
      armed = statement;
    },
    hold: () => {
      for (const flow of open) {
        flow.held ??= [];
        heldFlows.push(flow);
      }
      open.clear();
    },
    heal: () => {
      for (const flow of heldFlows.splice(0)) {
        for (const chunk of flow.held ?? []) flow.upstream.write(chunk);
        flow.held = undefined;
        if (flow.clientClosed) flow.upstream.end();
      }
    },
  };
};

