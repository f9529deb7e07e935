/**
 * Attack round 26: what a peer's key updates (RFC 9001 §6, the key phase bit) cost the receiving end,
 * against packets of one phase, in the packet protection the server runs (rudpx/crypto's
 * `PacketProtection`, with `defaultCryptoProvider`: the native AEAD where it loads).
 *
 *   npx tsx attack/key-update-cost.ts [packets=20000] [payload=40] [rounds=5]
 *
 * Four kinds of packet the server opens, each timed over `packets` (best of `rounds`, µs a packet):
 * - `same`: a peer's packets of one key phase (the baseline);
 * - `update every packet`, `update every 16`: a hostile peer starts a new key phase in each packet, or
 *   every 16th (what the server lets it since attack round 26), as soon as its own rules let it (the
 *   server's packet of the current phase acknowledged, its own previous keys dropped): the server
 *   derives the next receive keys and its own next send keys for each update it follows;
 * - `flipped`: an on-path attacker's copy of an honest packet with the key phase bit flipped (the
 *   header is associated data: it fails the tag under the next keys, derived once and kept);
 * - `replayed`: an honest packet sent again (dropped by the replay window, no tag check).
 */
import { PacketProtection } from '../packages/rudp/dist/crypto.js';
import { defaultCryptoProvider } from '../packages/rudp/dist/index.js';

const packets = Number(process.argv[2] ?? 20_000);
const payloadBytes = Number(process.argv[3] ?? 40);
const rounds = Number(process.argv[4] ?? 5);
const crypto = defaultCryptoProvider;
const secret = (b: number): Uint8Array => new Uint8Array(32).fill(b);
const HEADER = 12;

/** A server and a client end of one connection's protection. */
const pair = (): { readonly server: PacketProtection; readonly client: PacketProtection } => ({
  server: new PacketProtection(crypto, { sendSecret: secret(1), receiveSecret: secret(2) }),
  client: new PacketProtection(crypto, { sendSecret: secret(2), receiveSecret: secret(1) }),
});
/** A header carrying `phase` in its first byte (any bytes do: they are authenticated, not parsed here). */
const header = (phase: 0 | 1): Uint8Array => {
  const h = new Uint8Array(HEADER);
  h[0] = phase;
  return h;
};
const payload = new Uint8Array(payloadBytes).fill(7);

interface Sealed {
  readonly phase: 0 | 1;
  readonly pn: number;
  readonly header: Uint8Array;
  readonly body: Uint8Array;
}
const seal = (from: PacketProtection, pn: number): Sealed => {
  const phase = from.keyPhase();
  const h = header(phase);
  const r = from.seal(h, pn, payload);
  if (!r.ok) throw new Error('sealed nothing');
  return { phase, pn, header: h, body: r.packet };
};

/** µs a packet to open `list` at `end`, and how many opened. */
const timeOpen = (end: PacketProtection, list: readonly Sealed[]): { readonly us: number; readonly opened: number } => {
  const out = new Uint8Array(payloadBytes);
  let opened = 0;
  const t0 = process.hrtime.bigint();
  for (const p of list) if (end.openInto(p.header, p.phase, p.pn, p.body, out) === undefined) opened++;
  const ns = Number(process.hrtime.bigint() - t0);
  return { us: ns / 1000 / list.length, opened };
};

/**
 * The peer's packets, and a fresh server end to open them. `update`: a hostile peer starts a new phase
 * every `every` packets, as soon as its own rules let it; a mirror server end that drops its previous
 * keys at once (as no real one does: the core keeps them three probe timeouts) answers it so that it may.
 */
const prepare = (kind: 'same' | 'update' | 'flipped' | 'replayed', every = 1): { readonly server: PacketProtection; readonly list: Sealed[] } => {
  const { server, client } = pair();
  const list: Sealed[] = [];
  if (kind === 'update') {
    let serverPn = 0;
    for (let pn = 0; pn < packets; pn++) {
      if (pn % every === 0) {
        // The mirror's packet of its current phase reaches the peer, which acknowledges it, drops its previous keys, and updates.
        const s = seal(server, serverPn++);
        if (client.openInto(s.header, s.phase, s.pn, s.body, new Uint8Array(payloadBytes)) !== undefined) throw new Error('peer could not open');
        client.acknowledged(Math.max(0, pn - 1));
        client.discardPreviousKeys();
        client.initiateKeyUpdate();
      }
      const p = seal(client, pn);
      list.push(p);
      if (server.openInto(p.header, p.phase, p.pn, p.body, new Uint8Array(payloadBytes)) !== undefined) throw new Error('mirror could not open');
      server.discardPreviousKeys();
    }
    return { server: pair().server, list };
  }
  for (let pn = 0; pn < packets; pn++) list.push(seal(client, pn));
  if (kind === 'flipped') return { server, list: list.map((p) => ({ ...p, phase: p.phase === 0 ? 1 : 0, header: header(p.phase === 0 ? 1 : 0) })) };
  if (kind === 'replayed') timeOpen(server, list);
  return { server, list };
};

const kinds: readonly { readonly name: string; readonly kind: 'same' | 'update' | 'flipped' | 'replayed'; readonly every?: number }[] = [
  { name: 'same', kind: 'same' },
  { name: 'update every packet', kind: 'update', every: 1 },
  { name: 'update every 16', kind: 'update', every: 16 },
  { name: 'flipped', kind: 'flipped' },
  { name: 'replayed', kind: 'replayed' },
];
for (const { name, kind, every } of kinds) {
  let best = Infinity;
  let opened = 0;
  let updates = 0;
  for (let r = 0; r < rounds; r++) {
    const { server, list } = prepare(kind, every);
    // The server end as the core holds it: its previous keys kept (three probe timeouts are far longer than this loop).
    const t = timeOpen(server, list);
    best = Math.min(best, t.us);
    opened = t.opened;
    updates = server.counters().keyUpdates;
  }
  console.log(`${name.padEnd(20)} ${best.toFixed(2)} µs a packet; ${String(opened)} of ${String(packets)} opened, ${String(updates)} key updates followed (${String(payloadBytes)}-byte payloads)`);
}
