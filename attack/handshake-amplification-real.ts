/**
 * Attack round 29, item 2: SECURITY.md's amplification figures for the handshake (Handshake, addresses and
 * connection state, "Amplification"; "What the server does not trust", "Datagrams"), against the built
 * forum-server over real UDP, where round 24 measured them in the simulator: INITIALs under 1,200 bytes are
 * dropped unanswered; before an address is validated the server sends only the RETRY, twice, 24 bytes each (48
 * for a 1,200-byte INITIAL); a whole INITIAL of another version gets one 11-byte VERSION packet; a cookie
 * works only for the address and connection id it was minted for.
 *
 *   npx tsx attack/handshake-amplification-real.ts [perKind=400] [rate=200]
 *
 * Each kind is sent from an address of its own (127.0.0.60 on, 8 ports each: the victim of a spoofer who
 * cannot see the answers), `perKind` datagrams at `rate` a second; everything the server sends to that address
 * is counted. A cookie is first fetched honestly by 127.0.0.59 (the attacker's own address, or one it sees the
 * traffic of) and then used from elsewhere, or with a hello that is not a Noise message. Reported per kind:
 * bytes in, bytes out, the ratio, the answers' sizes and types. A ratio over 1/3 for an unvalidated address is
 * a finding (RFC 9000 §8.1's 3x is for a validated path's first flight; SECURITY.md promises far under 1/3).
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32c } from '../packages/rudp/src/wire/crc32c.js';
import { decodeRetry, encodeInitial, parseHeader, PROTOCOL_VERSION, type InitialPayload } from '../packages/rudp/src/wire/packet.js';
import { startServer } from './forum-raw.js';

const perKind = Number(process.argv[2] ?? 400);
const rate = Number(process.argv[3] ?? 200);
const UDP = 46_000 + Math.floor(Math.random() * 1000);
const PORTS = 8;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A plain packet's checksum made good over its body. */
const withCrc = (body: Uint8Array): Buffer => {
  const out = Buffer.alloc(body.length + 4);
  out.set(body);
  out.writeUInt32BE(crc32c(body, 0, body.length), body.length);
  return out;
};
/** `d` (an INITIAL, checksum last) cut or zero-lengthened to `size`, its checksum made good. */
const resized = (d: Uint8Array, size: number): Buffer => {
  const out = new Uint8Array(size - 4);
  out.set(d.subarray(0, Math.min(d.length - 4, out.length)));
  return withCrc(out);
};
const initial = (p: Partial<InitialPayload>, scid = 1 + Math.floor(Math.random() * 2 ** 31)): Buffer =>
  Buffer.from(
    encodeInitial(new Uint8Array(1472), Math.floor(Math.random() * 65536), {
      scid,
      token: new Uint8Array(0),
      params: { receiveWindow: 1 << 20, initialLimit: 1 << 20 },
      hello: randomBytes(80),
      ...p,
    }),
  );

interface Tally {
  sentBytes: number;
  sent: number;
  answers: number;
  answerBytes: number;
  sizes: Map<string, number>;
}
const openSockets = async (address: string, t: Tally): Promise<Socket[]> => {
  const socks: Socket[] = [];
  for (let i = 0; i < PORTS; i++) {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, address, () => r()));
    s.on('message', (m) => {
      t.answers++;
      t.answerBytes += m.length;
      const kind = m[0] === 0 ? 'VERSION' : (['?', 'INITIAL', 'RETRY', 'ACCEPT', 'DATA', 'SEALED', 'SEALED'][(m[0] as number) & 0x07] ?? '?');
      const key = `${kind} ${m.length} B`;
      t.sizes.set(key, (t.sizes.get(key) ?? 0) + 1);
    });
    socks.push(s);
  }
  return socks;
};
const send = (s: Socket, b: Buffer): Promise<void> => new Promise((r) => s.send(b, UDP, '127.0.0.1', () => r()));

const dir = await mkdtemp(join(tmpdir(), 'a29-amp-'));
const server = await startServer(dir, UDP, UDP + 1);
try {
  // An honest cookie for 127.0.0.59's port and connection id: the RETRY the server sends there.
  const own = createSocket('udp4');
  await new Promise<void>((r) => own.bind(0, '127.0.0.59', () => r()));
  const retries: Buffer[] = [];
  own.on('message', (m) => retries.push(Buffer.from(m)));
  const ownScid = 0x1234567;
  await send(own, initial({}, ownScid));
  await sleep(300);
  const retry = retries[0];
  if (retry === undefined) throw new Error('no RETRY to an honest INITIAL');
  const h = parseHeader(retry);
  if (typeof h === 'string') throw new Error(`RETRY did not parse: ${h}`);
  const cookie = decodeRetry(h.payload);
  if (cookie === undefined) throw new Error('RETRY without a cookie');
  console.log(`honest INITIAL (1,200 B) from 127.0.0.59: ${retries.length} RETRYs of ${retries.map((r) => r.length).join(', ')} B, cookie ${cookie.length} B`);

  const kinds: Record<string, () => Buffer> = {
    'initial 1200': () => initial({}),
    'initial 1472': () => resized(initial({}), 1472),
    'initial 1199': () => resized(initial({}), 1199),
    'initial 600': () => resized(initial({}), 600),
    'initial 24': () => resized(initial({}), 24),
    'random token 1200': () => initial({ token: randomBytes(cookie.length) }),
    'foreign cookie 1200': () => initial({ token: cookie }, ownScid),
    'other version 1200': () => {
      const d = initial({});
      d[0] = (4 << 4) | ((d[0] as number) & 0x0f);
      return withCrc(d.subarray(0, d.length - 4));
    },
    'other version 600': () => {
      const d = resized(initial({}), 600);
      d[0] = (4 << 4) | ((d[0] as number) & 0x0f);
      return withCrc(d.subarray(0, d.length - 4));
    },
    'sealed junk, unknown id': () => {
      const b = randomBytes(1200);
      b[0] = (PROTOCOL_VERSION << 4) | 5;
      return b;
    },
  };
  const results: [string, Tally][] = [];
  let host = 60;
  for (const [name, make] of Object.entries(kinds)) {
    const t: Tally = { sentBytes: 0, sent: 0, answers: 0, answerBytes: 0, sizes: new Map() };
    const socks = await openSockets(`127.0.0.${host++}`, t);
    const t0 = Date.now();
    for (let i = 0; i < perKind; i++) {
      const b = make();
      await send(socks[i % PORTS] as Socket, b);
      t.sent++;
      t.sentBytes += b.length;
      const due = t0 + ((i + 1) * 1000) / rate;
      if (due > Date.now()) await sleep(due - Date.now());
    }
    await sleep(500);
    results.push([name, t]);
    for (const s of socks) s.close();
  }
  // The honest address echoing its own cookie with a hello that is no Noise message: its address proved, the
  // handshake fails.
  {
    const t: Tally = { sentBytes: 0, sent: 0, answers: 0, answerBytes: 0, sizes: new Map() };
    own.removeAllListeners('message');
    own.on('message', (m) => {
      t.answers++;
      t.answerBytes += m.length;
      const key = `${['?', 'INITIAL', 'RETRY', 'ACCEPT', 'DATA', 'SEALED', 'SEALED'][(m[0] as number) & 0x07] ?? '?'} ${m.length} B`;
      t.sizes.set(key, (t.sizes.get(key) ?? 0) + 1);
    });
    for (let i = 0; i < perKind; i++) {
      const b = initial({ token: cookie }, ownScid);
      await send(own, b);
      t.sent++;
      t.sentBytes += b.length;
      await sleep(1000 / rate);
    }
    await sleep(500);
    results.push(['own cookie, junk hello', t]);
  }
  own.close();
  let inAll = 0;
  let outAll = 0;
  for (const [name, t] of results) {
    inAll += t.sentBytes;
    outAll += t.answerBytes;
    const sizes = [...t.sizes].map(([k, n]) => `${n}× ${k}`).join(', ') || '-';
    console.log(`${name.padEnd(24)} ${String(t.sent).padStart(5)} sent (${t.sentBytes} B): ${t.answers} answers, ${t.answerBytes} B, ${(t.answerBytes / t.sentBytes).toFixed(4)}x; ${sizes}`);
  }
  console.log(`all: ${inAll} B in, ${outAll} B out (${(outAll / inAll).toFixed(4)}x)`);
} finally {
  server.child.kill('SIGTERM');
  await server.exited;
  await rm(dir, { recursive: true, force: true });
}
process.exit(0);
