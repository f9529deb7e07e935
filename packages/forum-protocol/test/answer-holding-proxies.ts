/** Proxies in front of PostgreSQL that hold the database's answers after an armed statement (a partition that opened just then). */
import { loopbackProxy, type LoopbackProxy } from './loopback-proxy.js';
import { commitSpotter, frontendMessages } from './postgres-wire.js';

/**
 * A proxy in front of the database that, once armed with a statement's text, lets it and its transaction's
 * COMMIT through and then partitions that connection: every byte after the COMMIT, both ways, held until
 * `heal` (the database committed; its answer is held, as on a network that drops everything).
 */
export const partitionAfterCommit = async (url: string): Promise<LoopbackProxy & { arm(statement: string): void; partitioned(): number; heal(): void }> => {
  let armed: string | undefined;
  let partitioned = 0;
  const heals: (() => void)[] = [];
  const proxy = await loopbackProxy(url, (client, upstream) => {
    const isCommit = commitSpotter();
    let stage: 'none' | 'statement' | 'held' = 'none';
    const held: { readonly to: typeof client; readonly chunk: Buffer }[] = [];
    const pass = (to: typeof client, chunk: Buffer): void => {
      if (stage === 'held') held.push({ to, chunk });
      else to.write(chunk);
    };
    client.on('data', (chunk: Buffer) => {
      let commitSeen = false;
      for (const m of frontendMessages(chunk)) {
        // Every message read: a COMMIT bound by name was prepared earlier on the connection.
        const commit = isCommit(m);
        if (armed !== undefined && stage === 'none' && m.query.includes(armed)) {
          armed = undefined;
          stage = 'statement';
        } else if (stage === 'statement' && commit) commitSeen = true;
      }
      pass(upstream, chunk);
      if (!commitSeen) return;
      stage = 'held';
      partitioned++;
      heals.push(() => {
        stage = 'none';
        for (const h of held.splice(0)) h.to.write(h.chunk);
      });
    });
    upstream.on('data', (chunk: Buffer) => pass(client, chunk));
  });
  return {
    ...proxy,
    arm: (statement) => {
      armed = statement;
    },
    partitioned: () => partitioned,
    heal: () => {
      for (const h of heals.splice(0)) h();
    },
  };
};

/**
 * A proxy in front of the database that, once armed with a statement's text, lets that statement through and
 * runs it (its Execute and Sync written), then holds every answer of the database on that connection: a
 * partition that opened just after the statement reached the database, which ran it (committed, outside a
 * transaction) with nobody to tell.
 */
export const holdAnswersAfter = async (url: string): Promise<LoopbackProxy & { arm(statement: string): void }> => {
  let armed: string | undefined;
  const proxy = await loopbackProxy(url, (client, upstream) => {
    let stage: 'none' | 'parsed' | 'held' = 'none';
    client.on('data', (chunk: Buffer) => {
      for (const m of frontendMessages(chunk)) {
        if (armed !== undefined && stage === 'none' && m.type === 'P' && m.query.includes(armed)) {
          armed = undefined;
          stage = 'parsed';
        } else if (stage === 'parsed' && m.type === 'S') stage = 'held';
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (stage !== 'held') client.write(chunk);
    });
  });
  return {
    ...proxy,
    arm: (statement) => {
      armed = statement;
    },
  };
};
