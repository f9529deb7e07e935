/**
 * A reproduction, not a test (run with `npx tsx packages/rudp/test/measure/forged-validation.ts`):
 * a hostile client whose packets arrive from another user's port of its IP
 * address (behind nginx or a shared NAT, by spoofing that user's address to
 * the proxy) validates that port without ever receiving there. It reads the
 * number of the PING the server sends to its own (validated) address after
 * moving, acknowledges the number before it (the PING that went to the
 * other port), and the server migrates the connection onto the other user:
 * the validation is the client's word (SECURITY.md, NAT rebinding).
 */
import { TAG_SIZE, isProtected, parseHeader } from '../../src/wire/packet.js';
import { CLIENT, makePair } from '../helpers/pair.js';
import { messages, recordSends } from '../helpers/rebinding.js';

/** Another user's mapping of the hostile client's IP address: nobody there ever answers the server. */
const VICTIM = '10.0.0.1:7777';
const PING = 9 + 1 + TAG_SIZE;

const p = makePair({ seed: 1 });
p.onServerEvent = (e) => {
  if (e.type === 'message') e.connection.send(e.data);
};
for (const m of messages(200)) p.conn.send(m);
p.sim.wake(CLIENT);
p.sim.runFor(300);
const sends = recordSends(p.server);

// From 300 ms on, every packet of the hostile client reaches the server from the victim's port.
let injectedAt = Number.NaN;
const serverReceive = p.server.handleDatagram.bind(p.server);
p.server.handleDatagram = (now, data, from) => {
  const h = parseHeader(data);
  if (from === CLIENT && typeof h !== 'string' && isProtected(h.type)) {
    if (Number.isNaN(injectedAt)) injectedAt = now;
    return serverReceive(now, data, VICTIM);
  }
  serverReceive(now, data, from);
};

// The hostile client: the first PING it gets after that names, by its number less one, the PING that went to
// the victim; it records that number as received, so its next ACK covers it.
let forged = Number.NaN;
const clientReceive = p.client.handleDatagram.bind(p.client);
p.client.handleDatagram = (now, data, from) => {
  clientReceive(now, data, from);
  const h = parseHeader(data);
  if (!Number.isNaN(injectedAt) && Number.isNaN(forged) && typeof h !== 'string' && isProtected(h.type) && data.length <= PING) {
    forged = p.conn.acks.expand(h.pn, h.pnBytes) - 1;
    p.conn.acks.record(forged);
    p.conn.acks.onPacket(now, forged, p.conn.acks.largest, true, false);
    p.sim.wake(CLIENT);
  }
};

p.sim.runFor(3_000);
const migrated = p.serverEvents.find((r) => r.event.type === 'migrated');
const toVictim = sends.filter((s) => s.to === VICTIM);
console.log({
  injectedAtMs: injectedAt,
  forgedAckOf: forged,
  migratedAtMs: migrated?.at,
  serverSendsTo: p.serverConn()?.remote,
  datagramsToVictim: toVictim.length,
  bytesToVictim: toVictim.reduce((n, s) => n + s.size, 0),
  bytesToVictimAfterMigration: toVictim.filter((s) => migrated !== undefined && s.at > migrated.at).reduce((n, s) => n + s.size, 0),
});
