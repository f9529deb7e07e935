/**
 * Handshake admission: what a server does with a client's INITIAL. Without
 * a cookie it gets a RETRY (statelessly: an address that cannot receive
 * keeps nothing here); with a valid one it gets a connection, unless a limit
 * refuses it (`maxConnections`, `maxConnectionsPerHost`,
 * `handshakesPerHostPerSecond`, a spent cookie, a
 * plaintext hello to an encrypting server or an encrypted one to a
 * plaintext server) or its hello does not authenticate. A repeated INITIAL goes to the
 * connection it already opened. The per-host tally of live server
 * connections is kept here too.
 *
 * Functions of the endpoint's state, not an object of their own, as the
 * connection's parts are (see connection.ts).
 */
import { Connection } from '../connection.js';
import type { Endpoint } from '../endpoint.js';
import { firstGrantOf, partyOf, windowWithin } from '../credit.js';
import { windowsValid } from '../connect-attempt.js';
import { HANDSHAKE_COPIES } from '../handshake.js';
import { hostLevels } from '../host-key.js';
import type { PeerAddress } from '../sans-io.js';
import { resetHost } from './stateless-reset.js';
import { type ConnectionSecurity, type ServerParams, encodeServerParams, handshakePrologue, keyLimits } from '../security.js';
import { answerClientHello, resetToken } from '../../crypto/index.js';
import { AcceptKind, BusyReason, type InitialPayload, MAX_DATAGRAM, decodeInitial, encodeAccept, encodeRetry } from '../../wire/packet.js';

/** Server `e` received an INITIAL of `size` bytes (`payload` its body) from `from`. */
export function handleInitial(e: Endpoint, now: number, size: number, payload: Uint8Array, from: PeerAddress): void {
  if (!e.acceptIncoming) return void e.drops.unexpected++;
  // A short INITIAL could make our reply an amplifier; the client pads to the full size.
  if (size < MAX_DATAGRAM) return void e.drops.short++;
  const init = decodeInitial(payload);
  // A window no message fits is no window: a broken or hostile client's.
  if (!init || init.scid === 0 || !windowsValid(init.params.receiveWindow, init.params.initialLimit)) return void e.drops.malformed++;
  if (init.token.length === 0) {
    if (e.stateless.length >= e.maxStatelessQueue) return void e.drops.statelessQueueFull++;
    const token = e.cookies.mint(now, from, init.scid);
    const retry = encodeRetry(new Uint8Array(64), init.scid, token);
    // Copies as for every handshake packet (handshake.ts); together still a small fraction of the
    // padded INITIAL, so no amplifier.
    for (let i = 0; i <= HANDSHAKE_COPIES && e.stateless.length < e.maxStatelessQueue; i++) e.stateless.push({ to: from, data: retry.slice() });
    e.counters.retriesSent++;
    return;
  }
  if (!e.cookies.verify(now, from, init.scid, init.token)) return void e.drops.badToken++;
  const key = `${from}/${init.scid}`;
  const existing = e.byClient.get(key);
  if (existing) {
    if (!existing.handleInitialAgain(now)) return void e.drops.replay++;
    e.touch(existing);
    return;
  }
  if (e.spentCookies.has(now, key)) return void e.drops.badToken++;
  // A client that does not encrypt as we do would only time out: tell it at once (counted as before).
  const encrypts = e.crypto !== undefined && e.identity !== undefined;
  if (encrypts !== init.hello.length > 0) {
    if (encrypts) e.drops.unprotected++;
    else e.drops.unexpected++;
    return refuse(e, from, init.scid, encrypts ? BusyReason.EncryptionRequired : BusyReason.NoEncryption);
  }
  const levels = hostLevels(from);
  const serverFull = e.connections.size >= e.maxConnections;
  if (serverFull && e.drainingServed.size === 0) return refuseBusy(e, from, init.scid, BusyReason.ServerFull);
  // A full /56 or /48 is refused as a full host is: to its client it is one.
  if (e.hosts.full(levels) !== undefined) return refuseBusy(e, from, init.scid, BusyReason.HostFull);
  // Charged here, past every cheap refusal and before the key exchange (and so before a drain is ended
  // for the newcomer): only what would cost a handshake, and only from an address that proved itself.
  // Not refunded when the provider then throws (`dropped.pluginFault`): the work was done, and a provider
  // that throws on what a client sends would otherwise run key exchanges for it past the rate.
  if (e.handshakeRate?.take(now, levels) !== undefined) return refuseBusy(e, from, init.scid, BusyReason.HostRate);
  const cid = e.newCid();
  if (cid === undefined) return refuseBusy(e, from, init.scid, BusyReason.ServerFull);
  const security = answerHello(e, from, init, cid);
  if (security === undefined) return;
  // Room made only for a connection that is made: a hello refused, or one whose answer threw (the provider's
  // fault, `dropped.pluginFault`), ended a drain for a newcomer that never came. Nothing above reads what the
  // drain holds (its receive credit went back when it began).
  if (serverFull) endOldestDrain(e);
  const conn = new Connection(e, e.config, 'server', cid, init.scid, from, now, init.params, security);
  e.add(conn);
  e.hosts.add(levels);
  conn.hostCounted = true;
  e.byClient.set(key, conn);
  e.spentCookies.spend(now, key);
  e.counters.connectionsAccepted++;
  e.emit({ type: 'incoming', connection: conn });
  e.touch(conn);
}

/** Server: refuses a client that proved its address at a connection limit (see `refuse`). Counted. */
function refuseBusy(e: Endpoint, to: PeerAddress, clientCid: number, reason: BusyReason): void {
  if (reason === BusyReason.HostFull) e.drops.hostFull++;
  else if (reason === BusyReason.HostRate) e.drops.hostRate++;
  else e.drops.full++;
  refuse(e, to, clientCid, reason);
}

/**
 * Server: refuses a client that proved its address, statelessly, so its
 * connect fails at once as refused instead of timing out. The reply is a
 * few dozen bytes to a padded 1200-byte INITIAL: no amplifier.
 */
function refuse(e: Endpoint, to: PeerAddress, clientCid: number, reason: BusyReason): void {
  if (e.stateless.length >= e.maxStatelessQueue) return void e.drops.statelessQueueFull++;
  const accept = { scid: 0, params: { receiveWindow: 0, initialLimit: 0 }, kind: AcceptKind.Busy, handshake: Uint8Array.of(reason) };
  e.stateless.push({ to, data: encodeAccept(new Uint8Array(64), clientCid, accept).slice() });
}

/**
 * Server: runs the handshake for a client that proved its address; the
 * connection's security, or `undefined` if the hello was refused (counted;
 * a hello pinned to another key gets our key back, statelessly).
 */
function answerHello(e: Endpoint, from: PeerAddress, init: InitialPayload, localCid: number): ConnectionSecurity | undefined {
  const clientCid = init.scid;
  // handleInitial refused a hello of the other mode already.
  if (e.crypto === undefined || e.identity === undefined || e.resetSecret === undefined) return { mode: 'plaintext' };
  const answer = answerClientHello(e.crypto, init.hello, {
    identity: e.identity,
    // The client's window and first limit as its INITIAL says them: rewritten on the path, the handshake fails.
    prologue: handshakePrologue(clientCid, init.params),
    // The window, and the limit the connection will grant at first: its first grant, or what the
    // endpoint's budget has room for now (`ReceivePool.opening`), as `FlowControl` computes it. And the
    // reset token of the id the client will reach us by, sealed: nobody on the path learns it before a
    // reset spends it.
    payload: encodeServerParams({ ...serverParams(e, localCid, from), resetToken: resetToken(e.crypto, e.resetSecret, localCid, resetHost(from)) }),
    protection: { limits: keyLimits(e.config) },
  });
  switch (answer.kind) {
    case 'accepted':
      return { mode: 'server', keys: answer.keys, serverHello: answer.serverHello };
    case 'wrong-key':
      if (e.stateless.length >= e.maxStatelessQueue) return void e.drops.statelessQueueFull++;
      e.stateless.push({
        to: from,
        data: encodeAccept(new Uint8Array(MAX_DATAGRAM), clientCid, { scid: localCid, params: { receiveWindow: 0, initialLimit: 0 }, kind: AcceptKind.WrongKey, handshake: answer.wrongKey }).slice(),
      });
      return undefined;
    case 'rejected':
      return void e.drops.auth++;
  }
}

/** Ends the oldest drain early: its peer was told (its CLOSE sent), and a newcomer needs the place. */
function endOldestDrain(e: Endpoint): void {
  const oldest = e.drainingServed.values().next().value;
  if (oldest === undefined) return;
  oldest.abort({ kind: 'shutdown', code: 0, message: 'drain ended early for a new connection' });
  e.remove(oldest);
}

/** Stops counting `conn` against its host, once. */
export function uncountHost(e: Endpoint, conn: Connection): void {
  // The levels of its address now: a client that moved to another host was recounted there (`Endpoint.migrated`).
  if (!conn.hostCounted) return;
  conn.hostCounted = false;
  e.hosts.remove(hostLevels(conn.remote));
}

/** The window and first limit a server connection opened now announces, as `Connection` and `FlowControl` compute them. */
function serverParams(e: Endpoint, scid: number, from: PeerAddress): Omit<ServerParams, 'resetToken'> {
  const receiveWindow = windowWithin(e.config.receiveWindow, e.receivePool);
  return { scid, receiveWindow, initialLimit: e.receivePool.opening(firstGrantOf(receiveWindow, e.receivePool, partyOf(from))) };
}
