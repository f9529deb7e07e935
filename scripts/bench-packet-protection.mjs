#!/usr/bin/env node
// Per-packet cost of rudp's packet protection (ChaCha20-Poly1305 on every library that loads here:
// OpenSSL through rudp's addon, libsodium through the optional sodium-native, node:crypto), and of the
// CRC-32C it replaces, on 1,200-byte datagrams. Usage (after `pnpm build`):
//   node scripts/bench-packet-protection.mjs [--packets N] [--rounds R]
// Runs R rounds of N operations each and prints the median and best round as ns per packet
// (the median resists a loaded machine better than a mean), plus MB/s of datagram bytes.
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (f) => import(pathToFileURL(join(root, 'packages/rudp/dist', f)).href);
const { nodeCryptoProvider, packetCipherProviders } = await dist('index.js');
const { PacketProtection } = await dist('crypto.js');
const { crc32c } = await dist('core.js');

const { values } = parseArgs({ options: { packets: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '15' } } });
const N = Number(values.packets);
const R = Number(values.rounds);
const SIZE = 1200;
const HEADER = 16;
const TAG = 16;

const secret = nodeCryptoProvider.randomBytes(32);
const datagram = nodeCryptoProvider.randomBytes(SIZE);
const header = datagram.subarray(0, HEADER);
const payload = datagram.subarray(HEADER, SIZE - TAG);
let sink = 0;

const measure = (name, setup, op) => {
  const perPacket = [];
  for (let r = 0; r < R + 2; r++) {
    const state = setup(r);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) sink ^= op(state, i);
    const ns = Number(process.hrtime.bigint() - t0) / N;
    if (r >= 2) perPacket.push(ns); // two warm-up rounds
  }
  perPacket.sort((a, b) => a - b);
  const median = perPacket[Math.floor(perPacket.length / 2)];
  const best = perPacket[0];
  console.log(`${name.padEnd(58)} median ${median.toFixed(0).padStart(6)} ns  best ${best.toFixed(0).padStart(6)} ns  (${((SIZE / median) * 1000).toFixed(0)} MB/s)`);
};

for (const [label, provider] of packetCipherProviders) {
measure(
  `${label}: seal 1,200 B datagram (16 B header AD, 1,168 B + tag)`,
  () => ({ p: new PacketProtection(provider, { sendSecret: secret, receiveSecret: secret }) }),
  (s, i) => {
    const r = s.p.seal(header, i, payload);
    return r.ok ? r.packet.length : 0;
  },
);
const sealer = new PacketProtection(provider, { sendSecret: secret, receiveSecret: secret });
const sealed = Array.from({ length: N }, (_, i) => {
  const r = sealer.seal(header, i, payload);
  if (!r.ok) throw new Error(r.reason);
  return r.packet;
});
measure(
  `${label}: open 1,200 B datagram (replay window + tag check + decrypt)`,
  () => ({ p: new PacketProtection(provider, { sendSecret: secret, receiveSecret: secret }) }),
  (s, i) => {
    const r = s.p.open(header, 0, i, sealed[i]);
    if (!r.ok) throw new Error(r.reason);
    return r.plaintext.length;
  },
);
if (provider.packetAead !== undefined) {
  // The transport's path where the provider has one: header and payload from one scratch buffer into the datagram, opened in place.
  measure(
    `${label}: seal 1,200 B datagram whole (sealPacket)`,
    () => ({ p: new PacketProtection(provider, { sendSecret: secret, receiveSecret: secret }), out: new Uint8Array(SIZE) }),
    (s, i) => (s.p.sealPacket(i, datagram, HEADER, SIZE - TAG, s.out) ? s.out.length : 0),
  );
  const whole = new PacketProtection(provider, { sendSecret: secret, receiveSecret: secret });
  const wholeSealed = Array.from({ length: N }, (_, i) => {
    const out = new Uint8Array(SIZE);
    if (!whole.sealPacket(i, datagram, HEADER, SIZE - TAG, out)) throw new Error('key exhausted');
    return out;
  });
  measure(
    `${label}: open 1,200 B datagram whole, in place (openPacket)`,
    () => ({ p: new PacketProtection(provider, { sendSecret: secret, receiveSecret: secret }), copies: wholeSealed.map((d) => d.slice()) }),
    (s, i) => {
      const failure = s.p.openPacket(0, i, s.copies[i], HEADER, SIZE);
      if (failure !== undefined) throw new Error(failure);
      return 1;
    },
  );
}
const forged = provider.randomBytes(SIZE - HEADER);
measure(
  `${label}: reject a forged 1,200 B datagram (tag check fails)`,
  () => ({ p: new PacketProtection(provider, { sendSecret: secret, receiveSecret: secret, limits: { updateAfterPackets: 2 ** 23, confidentialityLimit: 2 ** 52, integrityLimit: 2 ** 52 } }) }),
  (s, i) => (s.p.open(header, 0, i, forged).ok ? 1 : 0),
);
}
measure('crc32c over 1,200 B (what sealed packets no longer need)', () => ({}), () => crc32c(datagram));
console.log(`node ${process.version}, ${N} packets x ${R} rounds${sink === 0.5 ? '' : ''}`);
