import { SimNetwork } from '../lib/rudp-imports.js';
import { IntegrityChecker, sumIntegrity, type IntegrityCounts } from '../integrity/integrity-checker.js';
import { makePayload } from '../integrity/payload.js';
import type { MessageConnection, MessageEndpoint } from '../peers/message-endpoint.js';
import type { SystemFactory, SystemId } from '../peers/systems.js';
import { BASE_LINK } from '../scenarios/link-variants.js';
import type { ManyScenario } from '../scenarios/many.js';
import { TimedEndpoint } from '../sim/timed-endpoint.js';

/** Figures of one many-peers run. */
export interface ManyResult {
  readonly system: SystemId;
  readonly seed: number;
  readonly connections: number;
  /**
   * V8 heap growth from opening every connection (after GC), divided by 2N:
   * each connection has a client side and a server side and both are in
   * this process. `NaN` when GC is not exposed (run node with --expose-gc).
   */
  readonly heapPerConnectionBytes: number;
  /** The same for resident set size: it also sees native memory (KCP's C structures). Noisy. */
  readonly rssPerConnectionBytes: number;
  /** Time inside the server endpoint per message it delivered, µs. */
  readonly serverUsPerMessage: number;
  /** Whole-process CPU (simulator and all clients included) per delivered message, µs. */
  readonly processUsPerMessage: number;
  readonly delivered: number;
  readonly integrity: IntegrityCounts;
  readonly completed: boolean;
}

const SERVER = 'server:1';

/** Collects garbage if node runs with --expose-gc; reports whether it could. */
export function collectGarbage(): boolean {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return false;
  gc();
  gc();
  return true;
}

/**
 * Collects the young generation only (a scavenge) if node runs with
 * --expose-gc; reports whether it could. Between runs of one benchmark it
 * clears one run's short-lived garbage before the next without a full,
 * memory-reducing GC, which also discards the optimized code of whatever
 * is not running at that moment (rudp's, between its runs: each run after
 * one started partly cold, 1.5–3× its warm CPU per byte on loopback).
 */
export function collectYoungGarbage(): boolean {
  const gc = (globalThis as { gc?: (options: { readonly type: 'minor' }) => void }).gc;
  if (!gc) return false;
  gc({ type: 'minor' });
  return true;
}

/**
 * Opens `count` connections (one client endpoint each) to one server
 * endpoint, measures memory once they are idle, then has every client send
 * one message per period and measures the time spent per delivered message.
 */
export function runMany(factory: SystemFactory, system: SystemId, count: number, seed: number, scenario: ManyScenario): ManyResult {
  const link = { ...BASE_LINK, loss: scenario.loss };
  const sim = new SimNetwork({ seed, defaultLink: link });
  const server = new TimedEndpoint(factory.create(system, sim.random('server'), true));
  const addresses = Array.from({ length: count }, (_, i) => `c${i}:1`);
  const checkers = new Map<string, IntegrityChecker>(addresses.map((a) => [a, new IntegrityChecker()]));
  const clients: MessageEndpoint[] = [];
  const conns: (MessageConnection | undefined)[] = new Array<MessageConnection | undefined>(count).fill(undefined);
  let connected = 0;
  let greeted = 0;
  let delivered = 0;
  const expectedMessages = count * Math.floor(scenario.durationMs / scenario.periodMs);

  sim.addNode(SERVER, server, {
    onActivity: () => {
      for (let ev = server.pollEvent(); ev; ev = server.pollEvent()) {
        if (ev.type !== 'message') continue;
        const verdict = checkers.get(ev.connection.remote)?.deliver(ev.data);
        if (verdict?.kind === 'ok' || verdict?.kind === 'out-of-order') {
          if (verdict.seq === 0) greeted++;
          else delivered++;
        }
      }
    },
  });
  for (let i = 0; i < count; i++) {
    const address = addresses[i] as string;
    const client = factory.create(system, sim.random(address), false);
    clients.push(client);
    sim.setLinks(address, SERVER, link);
    sim.addNode(address, client, {
      onActivity: () => {
        for (let ev = client.pollEvent(); ev; ev = client.pollEvent()) if (ev.type === 'connected') connected++;
      },
    });
  }

  const gcExposed = collectGarbage();
  const heap0 = process.memoryUsage().heapUsed;
  const rss0 = process.memoryUsage().rss;

  // Connections open over one second, as a crowd of users would arrive.
  for (let i = 0; i < count; i++) {
    sim.schedule((i * 1000) / count, (now) => {
      const address = addresses[i] as string;
      const client = clients[i] as MessageEndpoint;
      const conn = client.connect(now, SERVER);
      conns[i] = conn;
      for (let ev = client.pollEvent(); ev; ev = client.pollEvent()) if (ev.type === 'connected') connected++;
      (checkers.get(address) as IntegrityChecker).noteSent();
      conn.send(makePayload(0, scenario.messageBytes));
      sim.wake(address);
    });
  }
  while ((connected < count || greeted < count) && sim.now < 60_000) sim.runFor(500);
  sim.runFor(2_000);
  collectGarbage();
  const heap1 = process.memoryUsage().heapUsed;
  const rss1 = process.memoryUsage().rss;

  const t0 = sim.now;
  const rounds = Math.floor(scenario.durationMs / scenario.periodMs);
  for (let i = 0; i < count; i++) {
    const address = addresses[i] as string;
    const checker = checkers.get(address) as IntegrityChecker;
    for (let k = 0; k < rounds; k++) {
      sim.schedule(t0 + k * scenario.periodMs + (i * scenario.periodMs) / count, () => {
        const conn = conns[i];
        if (!conn) return;
        conn.send(makePayload(checker.noteSent(), scenario.messageBytes));
        sim.wake(address);
      });
    }
  }
  const serverMs0 = server.elapsedMs;
  const cpu0 = process.cpuUsage();
  while (delivered < expectedMessages && sim.now < t0 + scenario.durationMs + 30_000) sim.runFor(500);
  const cpu = process.cpuUsage(cpu0);
  const serverMs = server.elapsedMs - serverMs0;

  return {
    seed,
    system,
    connections: count,
    heapPerConnectionBytes: gcExposed ? (heap1 - heap0) / (2 * count) : Number.NaN,
    rssPerConnectionBytes: (rss1 - rss0) / (2 * count),
    serverUsPerMessage: (serverMs * 1000) / Math.max(1, delivered),
    processUsPerMessage: (cpu.user + cpu.system) / Math.max(1, delivered),
    delivered,
    integrity: sumIntegrity([...checkers.values()].map((c) => c.counts())),
    completed: delivered === expectedMessages && greeted === count,
  };
}
