/**
 * One seeded run of the flow-control property test (transport-flow-fuzz.test.ts): a server under a small
 * receive budget, several clients (some sharing an address, so a party's share of first grants binds),
 * each sending reliable messages of random sizes (1 B to its largest) on random channels, over a link
 * with random loss, reordering and duplication, to a server application that pauses connections and
 * stops reading at random for a while. Returns what was sent, what arrived, and the server's accounting
 * once every connection ended, so the test can check every message arrived, in order per channel, and
 * nothing stayed charged.
 */
import type { Connection } from '../../src/core/connection.js';
import { Endpoint } from '../../src/core/endpoint.js';
import { RECEIVE_FLOOR } from '../../src/core/receive/receive-pool.js';
import { SimNetwork } from '../../src/testing/sim-network.js';
import { createRandom, randomChance, randomInt } from '../../src/testing/prng.js';
import type { LinkConfig } from '../../src/testing/impairment.js';

const SERVER = '10.0.0.2:4000';

/** One message a client sent: its channel, whether ordered, and its bytes. */
export interface Sent {
  readonly channel: number;
  readonly ordered: boolean;
  readonly data: Uint8Array;
}

/** What one run did. */
export interface FuzzRun {
  readonly seed: number;
  /** Budget, window and link of the run (to reproduce a failure). */
  readonly setup: string;
  /** Per client: what it sent, in send order. */
  readonly sent: readonly (readonly Sent[])[];
  /** Per client: what the server application read (channel and bytes), in read order. */
  readonly received: readonly { readonly channel: number; readonly data: Uint8Array }[][];
  /** Virtual ms from the first send until every message was read (`Infinity`: not within the bound). */
  readonly tookMs: number;
  /**
   * The run did not finish and every peer still waiting needs more credit than the budget and its
   * overcommit have left: connections whose peers went idle hold the credit their grants grew to.
   */
  readonly budgetBound: boolean;
  /** The server's receive budget once every connection ended: granted (charged) and waiting. */
  readonly after: { readonly granted: number; readonly waiting: number; readonly parties: number };
  /** Smallest credit, charge or reservation seen during the run (never negative). */
  readonly leastSeen: number;
  /** Most credit the server's budget had charged at once during the run. */
  readonly mostCharged: number;
  /** What it may charge at most: the budget less its sixteenth, the overcommit (the window) and the clients' floors. */
  readonly chargeBound: number;
}

/** Messages of a random size, mostly small, some up to `most` bytes. */
function sizeOf(rnd: () => number, most: number): number {
  const r = rnd() % 8;
  if (r < 4) return 1 + (rnd() % Math.min(most, 1_400));
  if (r < 6) return 1 + (rnd() % Math.min(most, 16_384));
  return 1 + (rnd() % most);
}

/** Runs seed `seed` for at most `boundMs` virtual ms after the sends begin. */
export function runFlowFuzz(seed: number, boundMs: number, roomy: boolean): FuzzRun {
  const rnd = createRandom(seed);
  const budgets = [0, 48 * 1024, 256 * 1024, 1024 * 1024, 3 * 1024 * 1024];
  let budget = budgets[rnd() % budgets.length] as number;
  const windows = [64 * 1024, 512 * 1024, 2 * 1024 * 1024, 4 * 1024 * 1024];
  const window = windows[rnd() % windows.length] as number;
  const link: LinkConfig = {
    delayMs: 5 + (rnd() % 30),
    jitterMs: rnd() % 5,
    jitterMode: rnd() % 2 === 0 ? 'fifo' : 'independent',
    loss: [0, 0.01, 0.05][rnd() % 3] as number,
    reorder: [0, 0.02, 0.1][rnd() % 3] as number,
    duplicate: [0, 0.02][rnd() % 2] as number,
  };
  const clients = 2 + (rnd() % 4);
  // Roomy: the budget, less its sixteenth, holds every connection's whole window (each may grow its grant
  // to it by reading, and holds it once its peer is idle); a party's share of first grants still binds.
  if (roomy) budget = Math.ceil((clients * window * 16) / 15) + 16 * 1024;
  const setup = `budget ${budget}, window ${window}, ${clients} clients, link ${JSON.stringify(link)}`;
  const sim = new SimNetwork({ seed, defaultLink: link });
  const server = new Endpoint({ random: sim.random('server'), acceptIncoming: true, plaintext: true, receiveWindow: window, maxReceiveBufferBytes: budget });
  const received: { channel: number; data: Uint8Array }[][] = Array.from({ length: clients }, () => []);
  const byCid = new Map<number, number>();
  const accepted: Connection[] = [];
  let reading = true;
  let leastSeen = 0;
  let mostCharged = 0;
  // The overcommit follows the windows of the connections open, so it is 0 once all have closed: the
  // bound takes the largest it was while they ran.
  let mostOvercommit = 0;
  const note = (v: number): void => {
    if (v < leastSeen) leastSeen = v;
  };
  sim.addNode(SERVER, server, {
    onActivity: () => {
      if (!reading) return;
      for (let e = server.pollEvent(); e !== undefined; e = server.pollEvent()) {
        if (e.type === 'incoming') accepted.push(e.connection);
        if (e.type === 'message') received[byCid.get(e.connection.localCid) as number]?.push({ channel: e.channel, data: e.data });
      }
      const pool = server.receivePool;
      note(pool.committed);
      if (pool.committed > mostCharged) mostCharged = pool.committed;
      if (pool.overcommit > mostOvercommit) mostOvercommit = pool.overcommit;
      for (const c of accepted) {
        note(c.flow.credit);
        note(c.flow.reserved);
      }
    },
  });
  const conns: Connection[] = [];
  const addresses: string[] = [];
  for (let i = 0; i < clients; i++) {
    // Every other client shares 10.0.1.1 (another port): that party's share binds first.
    const address = i % 2 === 0 ? `10.0.1.1:${5000 + i}` : `10.0.1.${i + 1}:5000`;
    const client = new Endpoint({ random: sim.random(`client-${i}`), plaintext: true });
    sim.addNode(address, client, { onActivity: () => void drain(client) });
    conns.push(client.connect(sim.now, SERVER));
    addresses.push(address);
    sim.wake(address);
  }
  const end = sim.now + 5_000;
  while (sim.now < end && !conns.every((c) => c.state === 'established')) sim.runFor(50);
  for (const [i, c] of conns.entries()) byCid.set(c.remoteCid, i);
  sim.runFor(100);
  const serverRnd = createRandom(seed ^ 0x5a5a5a5a);
  const sent: Sent[][] = conns.map((c, i) => {
    const most = c.maxMessageSize();
    const count = 5 + (rnd() % 40);
    const list: Sent[] = [];
    for (let k = 0; k < count; k++) {
      const data = new Uint8Array(sizeOf(rnd, most));
      for (let b = 0; b < data.length; b += 97) data[b] = (b + k * 13 + i) & 0xff;
      // Channels 0-3 carry ordered messages, 4-5 unordered ones (their order is not checked).
      const ordered = rnd() % 5 !== 0;
      const channel = ordered ? rnd() % 4 : 4 + (rnd() % 2);
      list.push({ channel, ordered, data });
    }
    return list;
  });
  const start = sim.now;
  // Sends spread over the first two seconds, in bursts.
  for (const [i, list] of sent.entries()) {
    let at = start;
    for (const m of list) {
      at += randomChance(serverRnd, 0.3) ? randomInt(serverRnd, 0, 300) : 0;
      sim.schedule(at, () => {
        const c = conns[i] as Connection;
        c.send(m.data, { channel: m.channel, ordered: m.ordered });
        sim.wake(addresses[i] as string);
      });
    }
  }
  // The application stops reading for a while, and pauses single connections.
  for (let t = start + randomInt(serverRnd, 0, 500); t < start + 4_000; t += randomInt(serverRnd, 100, 900)) {
    const kind = serverRnd() % 3;
    const hold = randomInt(serverRnd, 50, 1_500);
    if (kind === 0) {
      sim.schedule(t, () => {
        reading = false;
      });
      sim.schedule(t + hold, () => {
        reading = true;
        sim.wake(SERVER);
      });
    } else {
      const which = serverRnd() % clients;
      sim.schedule(t, () => {
        accepted.find((c) => byCid.get(c.localCid) === which)?.pause();
      });
      sim.schedule(t + hold, () => {
        accepted.find((c) => byCid.get(c.localCid) === which)?.resume();
        sim.wake(SERVER);
      });
    }
  }
  const total = sent.reduce((n, l) => n + l.length, 0);
  const done = (): boolean => received.reduce((n, l) => n + l.length, 0) === total;
  while (!done() && sim.now < start + boundMs) sim.runFor(50);
  const tookMs = done() ? sim.now - start : Number.POSITIVE_INFINITY;
  let budgetBound = false;
  if (!done()) {
    const pool = server.receivePool;
    const room = pool.budget - Math.floor(pool.budget / 16) + pool.overcommit - pool.committed;
    // A peer waits for more than the budget has left, or (`shareWaiting`) for its address's share, held
    // by a reservation of another of its connections that itself waits for the budget.
    const waiting = accepted.filter((c) => c.flow.peerWaiting);
    const short = (c: Connection): boolean => ((c.flow as unknown as { blocked?: { peerWants: number } }).blocked?.peerWants ?? 0) - c.flow.limit > room;
    budgetBound = waiting.some((c) => short(c) && !c.flow.shareWaiting) && waiting.every((c) => short(c) || c.flow.shareWaiting);
  }
  // A run that finished closes gracefully; one that did not, abruptly (what it queued cannot leave).
  for (const [i, c] of conns.entries()) {
    if (done()) c.close(sim.now);
    else c.destroy(sim.now);
    sim.wake(addresses[i] as string);
  }
  const closeBy = sim.now + 40_000;
  while (server.connectionCount > 0 && sim.now < closeBy) sim.runFor(100);
  const stats = server.stats().receiveBuffer;
  const parties = (server.receivePool as unknown as { firstGrants?: Map<string, number> }).firstGrants?.size ?? 0;
  const pool = server.receivePool;
  const chargeBound = Math.max(0, pool.budget - Math.floor(pool.budget / 16)) + mostOvercommit + clients * RECEIVE_FLOOR;
  return { seed, setup, sent, received, tookMs, budgetBound, after: { granted: stats.granted, waiting: stats.waiting, parties }, leastSeen, mostCharged, chargeBound };
}

function drain(e: Endpoint): void {
  while (e.pollEvent() !== undefined);
}
