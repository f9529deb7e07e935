/**
 * forum-server's defaults that the command line, the server's assembly
 * (forum-server.ts) and the tests share: limits per host and per connection,
 * the reply and lines-cache shares of the memory budget, and the rudp and
 * QUIC-LB settings every server runs with.
 */
import { MAX_REQUEST_BYTES } from 'forum-protocol';
import { DEFAULT_MAX_RECEIVE_BUFFER_BYTES, type QuicLbConfig } from 'rudpx/core';
import { LIMIT_DEFAULTS } from './args.js';
import type { QueueBudgetLimits } from './queue-budget.js';
import { DEFAULT_MAX_REPLY_BYTES, MIN_MAX_REPLY_BYTES, REPLY_BUDGET_MEMORY_DIVISOR } from './reply-budget.js';

/**
 * Default of {@link ForumServerOptions.maxConnectionsPerHost} (the command
 * line's): room for a NAT full of users, each holding one connection. Before
 * login each connection may hold an unfinished message as large as its 8 KiB
 * receive window (`TRANSPORT`) beside its idle state: 256 connections of one
 * host, each holding one, added about 2.2 MiB of RSS on the built server
 * (with the 128 KiB window of every connection before, 33 MiB: a few dozen
 * hosts reached the default memory budget). See SECURITY.md, Known weaknesses.
 */
export const DEFAULT_MAX_CONNECTIONS_PER_HOST: number = LIMIT_DEFAULTS.connectionsPerHost;

/**
 * Default of {@link ForumServerOptions.handshakeRate} (the command line's):
 * rudp's own default, which a NAT of 128 users reconnecting at once, or a
 * host reopening all its 256 places, does not reach (the burst takes them),
 * while one host churning connections costs the server at most 64 key
 * exchanges a second. See SECURITY.md, Known weaknesses.
 */
export const DEFAULT_HANDSHAKE_RATE: number = LIMIT_DEFAULTS.handshakeRate;

/**
 * Default of {@link ForumServerOptions.maxConnectionsBeforeLogin}: far more
 * than there are people at the login prompt at once, while what they may
 * hold stays a small part of the default 1 GiB budget: before login a
 * connection holds at most its 8 KiB receive window and 8 KiB of queued
 * requests beside its idle state (2.2 KiB measured), some 75 MiB for 4,096.
 * So connections that never log in cannot reach the budget on their own,
 * nor fill rudp's 100,000 connections.
 */
export const DEFAULT_MAX_CONNECTIONS_BEFORE_LOGIN: number = LIMIT_DEFAULTS.connectionsBeforeLogin;

/**
 * Default of {@link ForumServerOptions.requestRate}: far above a person's pace. Measured (attack round 10) an
 * account at this pace costs about 9 % of a core with cheap reads and, writes counting `WRITE_TURNS` each, 9-11 %
 * with MSGs (26-33 % at one turn a write); a host's accounts together four times that.
 */
export const DEFAULT_REQUEST_RATE: number = LIMIT_DEFAULTS.requestRate;

/**
 * Default of {@link ForumServerOptions.maxReplyBytes}: a quarter of the
 * memory budget (256 MiB at the default 1 GiB), or 256 MiB without one, and
 * never under {@link MIN_MAX_REPLY_BYTES}. See reply-budget.ts.
 */
export const defaultMaxReplyBytes = (memoryBudgetBytes: number | undefined): number =>
  memoryBudgetBytes === undefined ? DEFAULT_MAX_REPLY_BYTES : Math.max(MIN_MAX_REPLY_BYTES, Math.floor(memoryBudgetBytes / REPLY_BUDGET_MEMORY_DIVISOR));

/**
 * How long one request's database work may take in all, ms, over all its statements and transactions
 * (a login step runs up to five, each under PostgreSQL's `statement_timeout` of 5 s and `lock_timeout`
 * of 2 s): past it no statement more starts, the one running is cancelled and its transaction rolled
 * back, and the client reads that the database did not answer in time (forum-protocol's
 * command-deadline.ts). A database that answers neither the statement nor the cancel (hung, or cut off
 * with the connection held) gets 0.5 s more (`ABANDON_AFTER_MS`), then the statement is given up and its
 * connection closed: answered by 6.5 s whatever the database does, "may or may not be stored" if its
 * COMMIT was sent (postgres-abandon.ts). The client waits 8 s for a reply (1.6 × its default `--timeout`
 * of 5 s), and the request and its reply cross the network in that time too: 2 s is left for them (1.5 s
 * at a silent database; a lost datagram resent, a busy server's encoding), while one statement still gets
 * its whole 5 s. Deleting uploads
 * adds 6 ms a chunk (256 KiB), as it does to the statement's limit: RMV of a thread holding GiBs may
 * answer after the client stopped waiting, but is not cancelled at every try.
 */
export const COMMAND_DEADLINE_MS = 6_000;

/**
 * The same for an upload's commit on the transfer port (the last chunk stored, the upload made visible
 * and its line appended): the client waits 60 s there for the answer line from its last byte on
 * (forum-client's `COMMIT_WAIT_MS`; its 30 s inactivity limit is off meanwhile), so a commit is never
 * cut off where the client would still have read its `OK`, with room for the last bytes still buffered
 * to cross a slow link. A client that gives up sooner says the upload may or may not be stored.
 */
export const UPLOAD_COMMIT_DEADLINE_MS = 25_000;

/**
 * A transfer connection that has not sent its whole header (token line, and for an upload the size
 * line) this long after connecting is closed: a deadline, not an idle timer, so a byte now and then
 * does not keep it open (`--transfer-header-timeout`, whose default it is: 10 s).
 */
export const HEADER_TIMEOUT_MS: number = LIMIT_DEFAULTS.transferHeaderTimeoutSeconds * 1000;

/** The memory budget's share the encoded lines cache gets by default: 32 MiB of the default 1 GiB, seven or eight full threads. */
export const LINES_CACHE_MEMORY_DIVISOR = 32;

/**
 * Default of {@link ForumServerOptions.linesCacheBytes}: a 32nd of the
 * memory budget, or 32 MiB without one. Measured (SECURITY.md, Reads of
 * large threads), an RDT of a full thread took 11–17 ms of the main thread to
 * encode and takes 0.3–2.7 ms to copy from the cache.
 */
export const defaultLinesCacheBytes = (memoryBudgetBytes: number | undefined): number =>
  Math.floor((memoryBudgetBytes ?? 1024 ** 3) / LINES_CACHE_MEMORY_DIVISOR);

/** Default of {@link ForumServerOptions.maxUploadBytes}: 1 GiB. */
export const DEFAULT_MAX_UPLOAD_BYTES = 1024 ** 3;

/**
 * rudp settings: a vanished client is noticed within 10 s, far below the
 * forum's idle timeout. The receive window before login is 8 KiB, room for a
 * few login requests (names and passwords are at most 64 bytes, 6 × that
 * escaped): what an unauthenticated peer may make the server hold for a
 * connection. With the session's 128 KiB from the first packet, 40 hosts of
 * 256 connections that never logged in, each holding one unfinished message,
 * took a server 456 MiB past its 1 GiB memory budget and every honest login
 * was refused (SECURITY.md).
 */
export const TRANSPORT = { idleTimeoutMs: 10_000, keepAliveMs: 2_000, receiveWindow: 8 * 1024 } as const;

/**
 * A logged-in connection's receive window (which also caps the largest
 * message a peer may send): the largest request the forum accepts plus room
 * for a few small ones behind it, instead of rudp's 32 MiB default. A peer
 * that sends unfinished large messages can make the server hold at most this
 * much per connection. Raised to at login (`raiseReceiveWindow`).
 */
export const SESSION_RECEIVE_WINDOW = MAX_REQUEST_BYTES + 32 * 1024;

/** The most connections the server's rudp endpoint holds (rudp's own default, said here so the server's limits are in one place). */
export const MAX_TRANSPORT_CONNECTIONS = 100_000;

/**
 * rudp's endpoint-wide receive budget for the server: rudp's default (1 GiB),
 * so what peers can make the server hold in unfinished messages stays within
 * it however many accounts log in (the budget less its sixteenth plus one
 * window of overcommit). rudp counts the credit a connection was granted, not
 * what it holds, and a logged-in connection is granted its 128 KiB whether
 * it sends or not: past some 7,680 sessions the next ones are granted a
 * 4 KiB floor. Their peers still learn the raised window at once (rudp's
 * WINDOW frame, protocol version 5), so a request larger than the floor
 * waits a round trip for credit (BLOCKED, answered from the budget's
 * overcommit) and arrives (`transport-receive-budget.test.ts`: 7,800
 * sessions of one client, the last one's 96 KiB request). Until rudp
 * announced the window apart from the credit, those peers kept the 8 KiB
 * window and `send` refused any request over 7,936 bytes (the rudpx review
 * of session 32), so this was 100,000 connections × 128 KiB (13 GB of
 * credit), and what hostile logged-in accounts could make the server hold
 * grew as N × 128 KiB without bound (past 1 GiB at some 8,200 accounts).
 */
export const TRANSPORT_RECEIVE_BUDGET = DEFAULT_MAX_RECEIVE_BUFFER_BYTES;

/**
 * The QUIC-LB configuration of the forum's connection ids (config rotation
 * 0, one octet of server id, length self-encoded): a balancer reads the
 * server id from the second byte of a datagram's destination connection id.
 */
export const QUIC_LB_CONFIG: QuicLbConfig = { configRotation: 0, serverIdBytes: 1, selfEncodeLength: true };

/**
 * Bytes of requests one client host may have waiting to run (all its
 * connections), one logged-in connection, and one before login (its receive
 * window: a few login requests). See queue-budget.ts.
 */
export const QUEUE_LIMITS: QueueBudgetLimits = { perHost: 4 * 1024 * 1024, perConnection: 1024 * 1024, perConnectionBeforeLogin: TRANSPORT.receiveWindow };
