import {
  INITIAL_AUTH_STATE,
  createMemoryStore,
  createSessionRegistry,
  decode,
  decodeServerMessage,
  encodeRequest,
  encodeServerMessage,
  handleRequest,
  transferReply,
  type AuthState,
  type Request,
} from 'forum-protocol';
import { SimNetwork } from '../lib/rudp-imports.js';
import type { MessageConnection, MessageEndpoint } from '../peers/message-endpoint.js';
import type { SystemFactory, SystemId } from '../peers/systems.js';
import { forumScript, type ForumScenario } from '../scenarios/forum.js';
import type { LinkVariant } from '../scenarios/link-variants.js';
import { summarize, type Summary } from '../stats/summary.js';

/** Figures of one forum-sessions run. */
export interface ForumResult {
  readonly system: SystemId;
  readonly variant: LinkVariant;
  readonly seed: number;
  /** The scenario's shape: `sessions` and `commands` tell a first-reply run from a full one. */
  readonly scenario: ForumScenario;
  /** Command round trip (request send call → reply delivered), ms. */
  readonly rtt: Summary;
  /** Round trip of each session's first request, sent at connect (so the handshake is in it), ms. */
  readonly firstReply: Summary;
  readonly commands: number;
  /** Every reply decoded, answered the request in flight and succeeded. */
  readonly clean: boolean;
  /** Connections that closed before their session finished, with the reason. */
  readonly closed: readonly string[];
  readonly completed: boolean;
}

const SERVER = 'server:1';
/** The TCP port a UPD reply names; nothing listens there, the transfer itself is outside the simulated link. */
const SIMULATED_TRANSFER_PORT = 4000;

interface ClientState {
  readonly address: string;
  readonly endpoint: MessageEndpoint;
  readonly script: readonly { readonly cmd: string; readonly args: readonly string[] }[];
  conn: MessageConnection | undefined;
  next: number;
  inFlight: { readonly id: string; readonly sentAt: number } | undefined;
}

/**
 * Runs scripted forum sessions over one simulated link: the server side is
 * forum-protocol's real request path (`handleRequest` over a memory store);
 * UPD is answered with its transfer reply (the file itself goes over TCP in
 * the real forum, outside this link).
 */
export async function runForum(factory: SystemFactory, system: SystemId, variant: LinkVariant, seed: number, scenario: ForumScenario): Promise<ForumResult> {
  const sim = new SimNetwork({ seed, defaultLink: variant.link });
  const users = Array.from({ length: scenario.sessions }, (_, i) => ({ username: `user${i}`, password: `pw${i}` }));
  const store = createMemoryStore({ accounts: users });
  const registry = createSessionRegistry();
  const server = factory.create(system, sim.random('server'), true);
  const states = new Map<MessageConnection, AuthState>();
  const rtts: number[] = [];
  const firstRtts: number[] = [];
  let clean = true;
  let pending = 0;
  let finished = 0;
  const closed: string[] = [];

  const serve = (conn: MessageConnection, request: Request): void => {
    pending++;
    const deps = { store, registry, connectionKey: conn.remote };
    void handleRequest(deps, states.get(conn) ?? INITIAL_AUTH_STATE, request)().then((result) => {
      pending--;
      states.set(conn, result.state);
      const o = result.outcome;
      const reply = o.kind === 'reply' ? o.reply : transferReply(o.id, o.transfer, SIMULATED_TRANSFER_PORT, 'simulated');
      conn.send(encodeServerMessage(reply));
      sim.wake(SERVER);
    });
  };
  sim.addNode(SERVER, server, {
    onActivity: () => {
      for (let ev = server.pollEvent(); ev; ev = server.pollEvent()) {
        if (ev.type !== 'message') continue;
        const request = decode(ev.data);
        // fp-ts is not a bench dependency; its Either is discriminated by `_tag`.
        if (request._tag === 'Left') clean = false;
        else serve(ev.connection, request.right);
      }
    },
  });

  const sendNext = (c: ClientState, now: number): void => {
    const step = c.script[c.next];
    if (!step || !c.conn) return;
    const id = `${c.address}-${c.next}`;
    c.inFlight = { id, sentAt: now };
    // The script only holds valid commands; a request the codec rejects shows up as an error reply.
    c.conn.send(encodeRequest({ id, username: '', cmd: step.cmd, args: step.args } as Request));
    sim.wake(c.address);
  };

  const clients: ClientState[] = users.map((u, i) => {
    const address = `forum-client-${i}:1`;
    const c: ClientState = {
      address,
      endpoint: factory.create(system, sim.random(address), false),
      script: forumScript(u.username, u.password, scenario.messages).slice(0, scenario.commands),
      conn: undefined,
      next: 0,
      inFlight: undefined,
    };
    sim.addNode(address, c.endpoint, {
      onActivity: (now) => {
        for (let ev = c.endpoint.pollEvent(); ev; ev = c.endpoint.pollEvent()) {
          if (ev.type === 'closed' && c.next < c.script.length) closed.push(`${c.address} after ${c.next} commands (${ev.reason})`);
          if (ev.type !== 'message') continue;
          const msg = decodeServerMessage(ev.data);
          const flight = c.inFlight;
          if (msg._tag === 'Left' || msg.right.type !== 'reply' || !flight || msg.right.id !== flight.id || msg.right.status !== 'ok') {
            clean = false;
            if (process.env['FORUM_DEBUG']) process.stderr.write(`${new TextDecoder().decode(ev.data)}\n`);
            continue;
          }
          rtts.push(now - flight.sentAt);
          if (c.next === 0) firstRtts.push(now - flight.sentAt);
          c.inFlight = undefined;
          c.next++;
          if (c.next === c.script.length) finished++;
          else sendNext(c, now);
        }
      },
    });
    return c;
  });

  for (const c of clients) {
    c.conn = c.endpoint.connect(sim.now, SERVER);
    sendNext(c, sim.now);
  }
  // The handlers are promise-based, so the simulator is stepped one event at a
  // time and the microtask queue is flushed whenever a request is being served;
  // virtual time does not move meanwhile, so service time counts as zero.
  while (finished < clients.length && sim.now < scenario.timeLimitMs) {
    if (!sim.step()) break;
    while (pending > 0) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return {
    system,
    variant,
    seed,
    scenario,
    rtt: summarize(rtts),
    firstReply: summarize(firstRtts),
    commands: rtts.length,
    clean,
    closed,
    completed: finished === clients.length,
  };
}
