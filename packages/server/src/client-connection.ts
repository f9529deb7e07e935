import {
  commandErrorText,
  createReplyCache,
  decode,
  encodeServerMessage,
  type EncodedLinesCache,
  endConnection,
  handleRequest,
  hostLevelsOf,
  hostOf,
  idleTimeoutNotice,
  INITIAL_AUTH_STATE,
  MAX_REQUEST_BYTES,
  sessionExporter,
  simpleReply,
  timedOutText,
  transferReply,
  type AccountPolicy,
  type AuthState,
  type ForumStore,
  type HostLevel,
  type Reply,
  type SessionRegistry,
  type StoreError,
  type TransferTokens,
  withCommandDeadline,
} from 'forum-protocol';
import { setTimeout as sleep } from 'node:timers/promises';
import { PROTOCOL_VIOLATION, type CloseReason, type RudpConnection } from 'rudpx';
import { everyStep } from './every-step.js';
import { heldReplies, LARGE_REPLY, LARGE_REPLY_RESERVATION, MESSAGE_OVERHEAD, NO_RESERVATION, SMALL_REPLY_RESERVATION } from './held-replies.js';
import { LARGE_REPLY_MIN_BYTES, largeReplyEstimate, type LargeReplyRate } from './large-reply-rate.js';
import type { LoginRoom } from './login-room.js';
import type { QueueBudget, QueueHolder } from './queue-budget.js';
import { SESSION_RECEIVE_WINDOW, type COMMAND_DEADLINE_MS } from './server-defaults.js';
import { partyOf, type ReplyBudget } from './reply-budget.js';
import { type RequestPacer, WRITE_TURNS } from './request-pacer.js';
import type { TransferActivity } from './transfer-activity.js';

/** What every connection shares: the store, who is logged in, transfer tokens, and settings. */
export interface ServerContext {
  readonly store: ForumStore;
  readonly registry: SessionRegistry;
  /**
   * Unique to this server process among those sharing `registry` (its server id and a random part drawn at its
   * start): it prefixes the process's connection keys. By the server id alone, a process restarted with the
   * same id numbered its connections from 1 again while the old process's session leases still stood: its
   * first login took over the old connection's lease of the account (two live sessions), and its logout
   * released it.
   */
  readonly connectionKeyPrefix: string;
  /**
   * Logged-in connections by key, each with a way to end it from outside: the shared registry calls it
   * when the connection's lease lapsed and the account logged in elsewhere.
   */
  readonly liveSessions: Map<string, () => void>;
  /** How passwords are checked and stored, and login throttling; one per server. */
  readonly accounts: AccountPolicy;
  readonly tokens: TransferTokens;
  readonly activity: TransferActivity;
  /** The TCP port clients are told to use for transfers: the transfer server's, or a load balancer's in front of it. */
  readonly transferPort: number;
  readonly idleTimeoutMs: number;
  /**
   * How long one request's store work may take in all (`withCommandDeadline`; {@link COMMAND_DEADLINE_MS} on
   * PostgreSQL, whose statements keep it); `undefined`: no deadline (the data directory's store keeps none).
   */
  readonly commandDeadlineMs?: number;
  /** Paces each account's requests and its host's logged-in ones (each host's before login); `undefined`: no pacing. */
  readonly pacer: RequestPacer | undefined;
  /** Bytes of requests waiting to run, per connection and per client host. */
  readonly queueBudget: QueueBudget;
  /** Unacknowledged reply bytes per client host and IPv6 prefix, over all its connections, and over the server. */
  readonly replyBudget: ReplyBudget;
  /** The server-wide rate of large reply bytes, shared fairly by party (large-reply-rate.ts); `undefined`: none. */
  readonly largeReplies?: LargeReplyRate;
  /** The encoded lines of threads read lately, shared by every connection: reading an unchanged thread again copies them instead of encoding it. */
  readonly linesCache: EncodedLinesCache;
  /** The connections not logged in, which a newcomer may displace; a connection leaves it at login. */
  readonly loginRoom: LoginRoom<RudpConnection>;
  readonly log: (line: string) => void;
  /** Logs a line the client at `address` (`host:port`) caused by misbehaving, under a limit per host and IPv6 prefix (`LogLimiter`): `kind` names the line for its summary. */
  readonly logFromHost: (address: string, kind: string, line: string) => void;
}

/**
 * The line for a UPD/DWN whose token could not be issued (`e`), as any command's failure reads: a database past
 * its time limit or silent says so (it read "could not complete the command"). A token whose storing was not
 * confirmed is no change of the user's (the reply that would carry it was never sent): timed out, not "may or
 * may not be stored".
 */
const tokenIssueErrorText = (e: StoreError): string => (e.kind === 'io' && e.outcomeUnknown !== undefined ? timedOutText('command') : commandErrorText(e));

/** How long a UPD/DWN token stays valid. */
const TOKEN_TTL_MS = 60_000;
/** Requests queued behind the running one; a peer that floods beyond this is cut off (their bytes: {@link QueueBudget}). */
const MAX_QUEUED = 32;
const REPLY_CACHE_SIZE = 64;

/** Commands that change nothing, so a repeat may simply run again. */
const READ_ONLY: ReadonlySet<string> = new Set(['LST', 'RDT']);
/** Requests that write the data directory: they cost their account (and host) `WRITE_TURNS` turns (request-pacer.ts). */
const WRITES: ReadonlySet<string> = new Set(['MSG', 'EDT', 'DLT', 'CRT', 'RMV', 'UPD']);

const GENERIC_ERROR = 'The server could not complete the command, please try again';

/**
 * A request waiting to run. One over MAX_REQUEST_BYTES keeps only its id and
 * size: it can only be answered `Malformed request`, so its bytes are not held
 * while it waits its turn. `bytes` is emptied when the connection is evicted.
 */
interface Queued {
  bytes: Uint8Array | undefined;
  readonly tooLarge?: { readonly id: string; readonly size: number };
  /** Bytes it counts in the queue budget. */
  readonly cost: number;
}

/** Best effort: the id of a request that failed to decode, so the client can match the error. */
const guessId = (bytes: Uint8Array): string => {
  try {
    const v: unknown = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof v === 'object' && v !== null && 'id' in v && typeof v.id === 'string' && v.id.length <= 64) return v.id;
  } catch {
    // not JSON: no id to give back
  }
  return '';
};

let nextKey = 0;

const EMPTY = new Uint8Array(0);

/** How long a refused connection is kept to deliver its refusal. */
const REFUSAL_LINGER_MS = 5_000;

/**
 * Serves a connection the server will not take (it is over its memory
 * budget): its first request is answered with `Server busy: REASON, try
 * again later` and the connection closed; one that sends nothing is closed
 * after a few seconds. (Closing at once would leave the client mid-handshake
 * with no reason.)
 */
export const refuseConnection = (conn: RudpConnection, reason: string): void => {
  const timer = setTimeout(() => conn.destroy(`server busy: ${reason}`), REFUSAL_LINGER_MS);
  conn.once('close', () => clearTimeout(timer));
  conn.once('message', (bytes) => {
    clearTimeout(timer);
    conn
      .send(encodeServerMessage(simpleReply(guessId(bytes), 'error', [`Server busy: ${reason}, try again later`], { kind: 'auth', next: 'username' })))
      .catch(() => undefined)
      .finally(() => void conn.close());
  });
};

/** What a request was paced by (request-pacer.ts): the account's key (the host's before login), and the host levels a logged-in one also counts against. */
interface Pace {
  readonly key: string;
  readonly hosts: readonly HostLevel[];
}

/**
 * `host:port` (`[v6]:port`) of the peer, as the handshake validated it: the key for per-host login throttling.
 * Only its host counts there (`hostOf`, `hostLevelsOf`), and it is taken once: rudpx may follow the client to a
 * new port (NAT rebinding) or a new IP address ('migrate'), and this connection's per-host state stays counted
 * at the address it proved at the handshake (rudpx counts its own connection limit at the new host).
 */
const peerAddressOf = (conn: RudpConnection): string =>
  conn.remoteAddress.includes(':') ? `[${conn.remoteAddress}]:${conn.remotePort}` : `${conn.remoteAddress}:${conn.remotePort}`;

/**
 * Serves one rudp connection: its login state, reply cache and idle timer.
 * Requests of this connection run one after another; other connections are
 * never waited for.
 */
export const serveConnection = (conn: RudpConnection, ctx: ServerContext): void => {
  const connectionKey = `${ctx.connectionKeyPrefix}/c${++nextKey}`;
  // From the connection, never from a request: the request's fields are the peer's to choose.
  const peerAddress = peerAddressOf(conn);
  const host = hostOf(peerAddress);
  const levels = hostLevelsOf(peerAddress);
  // What shares the server's reply budget as one: an IPv4 address, an IPv6 /48 (reply-budget.ts).
  const partyKey = partyOf(levels);
  const waiting = new Set<Queued>();
  // Aborted as the connection ends (finish(), or 'close' when the peer went first): a reply waiting for its turn
  // at the large reply rate leaves the line then, not when the close handshake of an idle or taken-over
  // connection ends (seconds later with a peer that does not answer it).
  const closing = new AbortController();
  const cache = createReplyCache<Reply>(REPLY_CACHE_SIZE);
  let state: AuthState = INITIAL_AUTH_STATE;
  let chain: Promise<void> = Promise.resolve();
  let queued = 0;
  let finished = false;
  // Durations on the monotonic clock: the wall clock stepped by NTP ended sessions early (ahead) or kept them long (back).
  let lastActive = performance.now();
  let timer: NodeJS.Timeout | undefined;

  const user = (): string | undefined => (state.step === 'authenticated' ? state.session.username : undefined);
  // Who logged in on this connection, kept after XIT has moved `state` to `closed` so finish() can still revoke its session's tokens.
  let sessionUser: string | undefined;
  // The user this connection's session counts as live in `ctx.activity` until finish() (from login).
  let activityUser: string | undefined;

  const replies = heldReplies(conn, ctx, { peerAddress, host, levels, partyKey }, () => finished);
  const { send, hostRoom, backlogDrained, releaseCharges } = replies;
  const replyHolder = replies.holder;

  /** Ends a flooding connection. What it queued is dropped, not run (nor paced): the peer would never see the replies. */
  const cutOff = (reason: string): void => {
    for (const q of waiting) q.bytes = undefined;
    waiting.clear();
    ctx.queueBudget.forget(holder);
    conn.destroy(reason);
  };

  const holder: QueueHolder = {
    host,
    evict: (reason) => {
      ctx.logFromHost(peerAddress, 'has too many requests queued', `Client host ${host} has too many requests queued, disconnecting its largest queue (${ctx.queueBudget.bytesOf(holder)} bytes)`);
      cutOff(reason);
    },
  };

  /** Logs an exception of a step that must not stop the ones after it; never throws (a log that throws is ignored). */
  const internalError = (e: unknown): void => {
    try {
      ctx.log(`Internal error: ${e instanceof Error ? e.message : String(e)}`);
    } catch {
      // Nowhere left to say it.
    }
  };

  const finish = (): void => {
    finished = true;
    if (timer !== undefined) clearTimeout(timer);
    const u = user() ?? sessionUser;
    // Each step whatever the others do: finish() runs in the close handler, a timer and a takeover, where
    // one step's exception skipped the rest (the session's counts and marks kept for good) and ended the process.
    everyStep(
      [
        () => closing.abort(),
        () => ctx.loginRoom.leave(conn),
        () => ctx.queueBudget.forget(holder),
        () => ctx.liveSessions.delete(connectionKey),
        () => {
          // This session's tokens only: the account's next session (a takeover's, maybe on another server) keeps its own.
          if (u !== undefined) void ctx.tokens.revokeSession({ username: u, connectionKey })().catch(internalError);
        },
        () => {
          // Once: finish() runs again when a request ends after a takeover closed the session, and a second
          // forget would count the successor's session as ended.
          const a = activityUser;
          activityUser = undefined;
          if (a !== undefined) ctx.activity.forget(a);
        },
      ],
      internalError,
    );
  };

  const armIdle = (ms: number): void => {
    timer = setTimeout(checkIdle, Math.max(ms, 10));
  };

  function checkIdle(): void {
    if (finished) return;
    const u = user();
    if (u !== undefined && ctx.activity.busy(u)) return armIdle(ctx.idleTimeoutMs);
    const last = Math.max(lastActive, u === undefined ? 0 : (ctx.activity.lastFinished(u) ?? 0));
    const left = last + ctx.idleTimeoutMs - performance.now();
    if (left > 0 || queued > 0) return armIdle(Math.max(left, 50));
    const ended = state;
    // In a timer: an exception here ends the process, and a step skipped keeps the session held.
    everyStep(
      [
        () => {
          if (u !== undefined) ctx.log(`${u} timed out`);
        },
        finish,
      ],
      internalError,
    );
    state = { step: 'closed' };
    // The notice goes once the session is released: a client that logs in again at once (maybe on
    // another server sharing the registry) is not told it is still logged in.
    // A failed release too: skipped, the connection stayed open (finished, every request ignored) while its client talked.
    void endConnection(ctx.registry, ended)()
      .catch(internalError)
      .then(() => everyStep([() => void send(idleTimeoutNotice(ctx.idleTimeoutMs / 1000)), () => void conn.close()], internalError));
  }

  /** The lease of this session lapsed and another connection holds the account now: one live session, so this one ends. */
  function endTakenOver(): void {
    if (finished) return;
    const u = user();
    everyStep(
      [
        () => {
          if (u !== undefined) ctx.log(`${u} session ended: its lease lapsed and the account logged in elsewhere`);
        },
        finish,
      ],
      internalError,
    );
    state = { step: 'closed' };
    void conn.close();
  }

  /**
   * Waits for this request's turn: the account's and its host's (and IPv6 prefixes') once logged in, the client
   * host's before. Returns what it was paced by, for the reply's charge.
   */
  const paced = async (): Promise<Pace> => {
    const u = user();
    const pace: Pace = u === undefined ? { key: `host ${host}`, hosts: [] } : { key: `user ${u}`, hosts: levels };
    const wait = ctx.pacer?.reserve(pace.key, performance.now()) ?? 0;
    if (wait > 0) await sleep(wait);
    // The host's turn once the account's has come: a request waiting for its account does not hold its neighbours up.
    const hostWait = pace.hosts.length === 0 ? 0 : (ctx.pacer?.reserveHosts(pace.hosts, performance.now()) ?? 0);
    if (hostWait > 0) await sleep(hostWait);
    return pace;
  };

  const execute = async (item: Queued, pacedBy: Pace): Promise<void> => {
    if (!(await backlogDrained())) {
      ctx.logFromHost(peerAddress, 'Client is not acknowledging replies', `Client is not acknowledging replies (${conn.bufferedAmount} bytes held), disconnecting`);
      conn.destroy('reply backlog not acknowledged');
      return;
    }
    const bytes = item.bytes;
    if (finished || bytes === undefined) return;
    // Decoded before its turn at the budget, which depends on what it asks for (and a malformed one is answered in a line).
    const decoded = item.tooLarge === undefined ? decode(bytes) : undefined;
    const cmd = decoded?._tag === 'Right' ? decoded.right.cmd : undefined;
    const large = cmd !== undefined && LARGE_REPLY.has(cmd);
    // Every other request waits for its party's turn at the server's rate of request work (large-reply-rate.ts)
    // before it runs, a write for its WRITE_TURNS; an LST or RDT after it, once its reply's size is known. Paced per
    // account and host only, N addresses of cheap requests took N hosts' pace: 8 got 4,189–4,241 replies a second,
    // 54–69 % of a core (618–642 and 25–35 % now), and more addresses more, while an honest MSG waited.
    // Not XIT: it ends the session (one a login, and logins take their turns), and behind its party's queue a user
    // behind a busy NAT address who typed it stayed logged in for the party's turns (7 s and more), past the client's wait.
    const xit = cmd === 'XIT';
    if (!large && !xit && ctx.largeReplies !== undefined) {
      const turns = cmd !== undefined && WRITES.has(cmd) ? WRITE_TURNS : 1;
      const turn = ctx.largeReplies.request(partyKey, turns, closing.signal);
      if (turn !== undefined) await turn;
      if (finished || conn.closed) return;
    }
    // XIT waits for no room: its reply is a line, and it ends the session that holds replies (refused with
    // "Server busy", a user who typed XIT stayed logged in at the prompt).
    const reservation =
      xit ? NO_RESERVATION : await hostRoom(large ? LARGE_REPLY_RESERVATION : SMALL_REPLY_RESERVATION, large);
    if (reservation === 'closed') return;
    if (reservation === 'timeout' && !ctx.replyBudget.isStale(replyHolder, performance.now())) {
      // Not a holder itself: its request is refused, its connection kept (the holders are the ones closed).
      const id = decoded?._tag === 'Right' ? decoded.right.id : (item.tooLarge?.id ?? guessId(bytes));
      send(simpleReply(id, 'error', [`Server busy: too many replies waiting to be acknowledged, try again later`]));
      return;
    }
    if (reservation === 'timeout') {
      ctx.logFromHost(
        peerAddress,
        'Client is not acknowledging replies',
        `Client host ${host} is not acknowledging replies (${ctx.replyBudget.bytesOf(host)} bytes held by its connections), disconnecting`,
      );
      conn.destroy('host reply budget not acknowledged');
      return;
    }
    let held = reservation;
    // A reply built and waiting for its turn at the large reply rate holds what it is, not the most a reply may be.
    const holdOnly = (n: number): void => {
      if (n >= held.bytes) return;
      const smaller = ctx.replyBudget.charge(levels, n);
      held.release();
      held = smaller;
    };
    try {
      await executeReserved(item, bytes, decoded, pacedBy, holdOnly);
    } finally {
      // After the reply was sent (and charged on its own): the reservation covered it until then.
      held.release();
    }
  };

  const executeReserved = async (
    item: Queued,
    bytes: Uint8Array,
    decoded: ReturnType<typeof decode> | undefined,
    pacedBy: Pace,
    holdOnly: (bytes: number) => void,
  ): Promise<void> => {
    if (finished || item.bytes === undefined) return;
    if (item.tooLarge !== undefined || decoded === undefined) {
      const size = item.tooLarge?.size ?? bytes.length;
      ctx.logFromHost(peerAddress, 'Malformed request', `Malformed request: message of ${size} bytes exceeds the limit of ${MAX_REQUEST_BYTES}`);
      send(simpleReply(item.tooLarge?.id ?? guessId(bytes), 'error', ['Malformed request']));
      return;
    }
    if (decoded._tag === 'Left') {
      ctx.logFromHost(peerAddress, 'Malformed request', `Malformed request: ${decoded.left.reason}`);
      send(simpleReply(guessId(bytes), 'error', ['Malformed request']));
      return;
    }
    const request = decoded.right;
    lastActive = performance.now();
    let reply: Reply;
    try {
      const run = async (): Promise<Reply> => {
        // Wall time: the login throttle's windows may be shared by the servers of a database.
        const deps = { store: ctx.store, registry: ctx.registry, connectionKey, accounts: ctx.accounts, peerAddress, now: Date.now() };
        const r = await handleRequest(deps, state, request)();
        state = r.state;
        if (r.passwordRejected === true) ctx.loginRoom.refundTouches(conn);
        if (state.step === 'authenticated' && sessionUser === undefined) {
          sessionUser = state.session.username;
          activityUser = sessionUser;
          ctx.activity.opened(sessionUser);
          ctx.loginRoom.leave(conn);
          ctx.liveSessions.set(connectionKey, endTakenOver);
          // Before the reply, so the WINDOW (and MAX_DATA) that tells the client goes first: its next request may be large.
          conn.raiseReceiveWindow(SESSION_RECEIVE_WINDOW);
        }
        r.outcome.log.forEach(ctx.log);
        if (r.outcome.kind === 'transfer') {
          const t = r.outcome.transfer;
          // The keys are derived now, from this connection's session: the token may be redeemed by another server
          // (so its expiry is wall time, compared there).
          const token = await ctx.tokens.issue(
            { direction: t.direction, thread: t.thread, incarnation: t.incarnation, filename: t.filename, username: t.username, expiresAt: Date.now() + TOKEN_TTL_MS, connectionKey },
            sessionExporter(conn),
          )();
          if (token._tag === 'Left') {
            ctx.log(`Store error: ${token.left.kind === 'io' ? token.left.message : token.left.kind}`);
            return simpleReply(r.outcome.id, 'error', [tokenIssueErrorText(token.left)]);
          }
          return transferReply(r.outcome.id, t, ctx.transferPort, token.right);
        }
        return r.outcome.reply;
      };
      // Reads are answered afresh: caching them would pin up to 64 copies of a large thread per
      // connection, and running one twice changes nothing.
      // Each run held to the command's deadline (PostgreSQL: no statement starts past it, the one running is cancelled).
      const deadline = ctx.commandDeadlineMs;
      const deadlined = (): Promise<Reply> => (deadline === undefined ? run() : withCommandDeadline(deadline, run));
      reply = READ_ONLY.has(request.cmd) ? await deadlined() : (await cache.runOnce(request.id, deadlined)).value;
    } catch (e) {
      ctx.log(`Internal error: ${e instanceof Error ? e.message : String(e)}`);
      reply = simpleReply(request.id, 'error', [GENERIC_ERROR]);
    }
    lastActive = performance.now();
    // A large LST or RDT reply waits for its party's turn at the server's rate of large reply bytes before it is
    // encoded and sealed (large-reply-rate.ts): paced per account and host only, many hosts' reads of full
    // threads kept the core busy and an honest MSG waited.
    // Every LST or RDT reply takes the rate's charge for a request; one of LARGE_REPLY_MIN_BYTES or more its bytes too.
    const rated = LARGE_REPLY.has(request.cmd) ? ctx.largeReplies : undefined;
    const estimate = rated === undefined ? 0 : largeReplyEstimate(reply.lines);
    if (rated !== undefined) {
      // Its lines, at most two bytes a character (a string of other than Latin-1 ones), and the encoding's buffer
      // charged when it is sent: before, each waiting reply held the whole LARGE_REPLY_RESERVATION (8 MiB), so a
      // party's replies of 64 KiB queued behind the rate held 128 times their bytes of the reply budget, and
      // the others' reads of whole threads waited for room. A reply under the mark is under it in bytes.
      const turn = rated.turn(partyKey, estimate, closing.signal);
      if (turn !== undefined) {
        holdOnly(2 * Math.max(estimate, LARGE_REPLY_MIN_BYTES) + MESSAGE_OVERHEAD);
        await turn;
      }
      if (finished || conn.closed) return;
    }
    // Sent first, outside the optional call: `pacer?.replied(…, send(reply), …)` skips its arguments
    // too, so with pacing off (`--request-rate 0`) no reply was ever sent.
    const replyBytes = send(reply);
    // What the estimate missed (escapes, the reply's head): taken now, so the rate counts what was sent.
    if (estimate > 0) rated?.charge(replyBytes - estimate, partyKey);
    // A large reply (an RDT of a full thread is 4 MiB of JSON) costs its key more turns than a small one.
    ctx.pacer?.replied(pacedBy.key, replyBytes, performance.now(), pacedBy.hosts);
    // A write's file work and syncs cost several cheap requests' CPU: its account's next requests wait for the rest.
    if (WRITES.has(request.cmd)) ctx.pacer?.charge(pacedBy.key, WRITE_TURNS - 1, performance.now(), pacedBy.hosts);
    if (state.step === 'closed') {
      finish();
      void conn.close();
    }
  };

  conn.on('message', (bytes) => {
    if (finished) return;
    if (queued >= MAX_QUEUED) {
      ctx.logFromHost(peerAddress, 'Client sent too many requests at once', 'Client sent too many requests at once, disconnecting');
      cutOff('too many queued requests');
      return;
    }
    // Too large to decode: refused now, answered in turn, and only its id kept meanwhile.
    const item: Queued =
      bytes.length > MAX_REQUEST_BYTES ? { bytes: EMPTY, tooLarge: { id: guessId(bytes), size: bytes.length }, cost: 0 } : { bytes, cost: bytes.length };
    const charged = ctx.queueBudget.charge(holder, item.cost, state.step === 'authenticated');
    if (charged === 'evicted') return;
    if (charged === 'connectionFull') {
      ctx.logFromHost(peerAddress, 'Client queued too many request bytes at once', `Client queued too many request bytes at once (${ctx.queueBudget.bytesOf(holder) + item.cost}), disconnecting`);
      cutOff('too many queued request bytes');
      return;
    }
    queued++;
    waiting.add(item);
    if (state.step !== 'authenticated') ctx.loginRoom.touch(conn);
    chain = chain
      .then(async () => {
        if (finished || item.bytes === undefined) return;
        const key = await paced();
        if (!finished) await execute(item, key);
      })
      .catch((e: unknown) => ctx.log(`Internal error: ${e instanceof Error ? e.message : String(e)}`))
      .finally(() => {
        queued--;
        // Held until it ran: the bytes stay referenced while the request waits for its pace.
        if (waiting.delete(item)) ctx.queueBudget.release(holder, item.cost);
        item.bytes = undefined;
      });
  });

  // Every step runs whatever another throws, and nothing escapes: an exception here is the emitter's, and ends the
  // process; one in the wait below an unhandled rejection, which ends it too, the session held until then.
  conn.on('close', (reason: CloseReason) => {
    everyStep(
      [
        () => closing.abort(),
        // At once, not after a request still running: a closed connection is not one to shed.
        () => ctx.loginRoom.leave(conn),
        // The transport let go of whatever was unacknowledged (the sends reject too; releasing twice does nothing).
        releaseCharges,
      ],
      internalError,
    );
    if (finished) return;
    const end = async (): Promise<void> => {
      if (finished) return;
      const last = state;
      everyStep(
        [
          finish,
          () => {
            // The transport ended it because the peer broke its rules (an optimistic ACK, forged packets): said
            // apart, so that an operator tells a hostile account from one that logged out (attack round 16).
            if (last.step === 'authenticated' && reason.kind === 'local' && reason.code === PROTOCOL_VIOLATION) {
              ctx.log(`${last.session.username}'s connection ended by the transport: ${reason.message}`);
            }
            // A client gone silent (a path cut, a killed process) said apart from one that logged out: both were
            // `U exited` alone, and an operator could not tell an outage from users leaving (attack round 21).
            if (last.step === 'authenticated' && reason.kind === 'timeout') {
              ctx.log(`${last.session.username}'s connection timed out: ${reason.message}`);
            }
          },
        ],
        internalError,
      );
      const lines = await endConnection(ctx.registry, last)();
      everyStep(lines.map((line) => () => ctx.log(line)), internalError);
    };
    // Wait for a request still running (settled either way), so its session is released after it.
    void chain.then(end, end).catch(internalError);
  });

  armIdle(ctx.idleTimeoutMs);
};
