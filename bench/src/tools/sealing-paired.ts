/**
 * Per-packet cost of rudp's packet protection as the core seals and opens a
 * 1,400-byte DATA packet, two builds interleaved in one process: the first
 * build per call (`sealInto`/`openInto` with the views the core cut for
 * them), the second per call and, where its default provider has
 * `packetAead`, whole datagrams (`sealPacket`/`openPacket`). Rounds of
 * 2,000 packets alternate between the ways (order reversed every other
 * round), so a loaded machine slows them alike; reported: each way's median
 * ns per packet and its median ratio to the first build's in the same round.
 *
 * Usage (from bench/): node --import tsx src/tools/sealing-paired.ts
 *   before=path/to/old/rudp/dist after=path/to/new/rudp/dist [rounds=40]
 */
import { median } from './median-cell.js';

/** The part of `PacketProtection` this tool drives (the first build may lack the whole-datagram methods). */
interface Protection {
  sealInto(header: Uint8Array, pn: number, payload: Uint8Array, out: Uint8Array): boolean;
  openInto(header: Uint8Array, keyPhase: 0 | 1, pn: number, ciphertext: Uint8Array, out: Uint8Array): string | undefined;
  sealPacket?(pn: number, source: Uint8Array, headerLength: number, end: number, datagram: Uint8Array): boolean;
  openPacket?(keyPhase: 0 | 1, pn: number, datagram: Uint8Array, headerLength: number, end: number): string | undefined;
}
type ProtectionClass = new (crypto: unknown, options: { sendSecret: Uint8Array; receiveSecret: Uint8Array; replayWindow?: number }) => Protection;
interface Build {
  readonly PacketProtection: ProtectionClass;
  readonly provider: { readonly packetAead?: unknown };
}

const HEADER = 9;
const END = HEADER + 1400;
const BATCH = 2000;
const WARM_UP_ROUNDS = 5;

async function load(dir: string): Promise<Build> {
  const crypto = (await import(`${dir}/crypto.js`)) as { PacketProtection: ProtectionClass };
  const index = (await import(`${dir}/index.js`)) as { defaultCryptoProvider: Build['provider'] };
  return { PacketProtection: crypto.PacketProtection, provider: index.defaultCryptoProvider };
}

const arg = (name: string, fallback: string): string => process.argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1) ?? fallback;
const before = await load(arg('before', '../packages/rudp/dist'));
const after = await load(arg('after', '../packages/rudp/dist'));
const rounds = Number(arg('rounds', '40'));

const secret = new Uint8Array(32).fill(9);
const scratch = Uint8Array.from({ length: 1472 }, (_, i) => i & 0xff);
const header = scratch.subarray(0, HEADER);
const payload = scratch.subarray(HEADER, END);
const slab = new Uint8Array(1 << 22);
let used = 0;
/** A datagram's bytes, as the core's slab hands them out. */
const alloc = (n: number): Uint8Array => {
  if (used + n > slab.length) used = 0;
  used += n;
  return slab.subarray(used - n, used);
};

/** One way of sealing and opening, with its own pair of protections and its figures. */
interface Way {
  readonly name: string;
  readonly whole: boolean;
  readonly tx: Protection;
  readonly rx: Protection;
  pn: number;
  readonly seal: number[];
  readonly open: number[];
}
const way = (name: string, build: Build, whole: boolean): Way => ({
  name,
  whole,
  tx: new build.PacketProtection(build.provider, { sendSecret: secret, receiveSecret: secret }),
  rx: new build.PacketProtection(build.provider, { sendSecret: secret, receiveSecret: secret, replayWindow: 1 << 20 }),
  pn: 0,
  seal: [],
  open: [],
});
const ways: Way[] = [way('first build, per call', before, false), way('second build, per call', after, false)];
if (after.provider.packetAead !== undefined) ways.push(way('second build, whole datagrams', after, true));

const HEADER_COPY = new Uint8Array(HEADER);
const fail = (why: string): never => {
  throw new Error(why);
};

/** Seals a batch as the core does, then opens it, timing each half. */
function round(w: Way): void {
  const sealed: [number, Uint8Array][] = [];
  let t = process.hrtime.bigint();
  for (let i = 0; i < BATCH; i++) {
    const pn = w.pn++;
    const d = alloc(END + 16);
    if (w.whole) (w.tx.sealPacket?.(pn, scratch, HEADER, END, d) ?? false) || fail('seal');
    else {
      d.set(header);
      w.tx.sealInto(header, pn, payload, d.subarray(HEADER)) || fail('seal');
    }
    sealed.push([pn, d]);
  }
  w.seal.push(Number(process.hrtime.bigint() - t) / BATCH);
  t = process.hrtime.bigint();
  for (const [pn, d] of sealed) {
    if (w.whole) {
      if (w.rx.openPacket?.(0, pn, d, HEADER, d.length) !== undefined) fail('open');
      // The message's view, which the core cuts for a packet that opened.
      new Uint8Array(d.buffer, d.byteOffset + HEADER, d.length - HEADER - 16);
    } else {
      for (let i = 0; i < HEADER; i++) HEADER_COPY[i] = d[i] as number;
      const ciphertext = new Uint8Array(d.buffer, d.byteOffset + HEADER, d.length - HEADER);
      const out = new Uint8Array(d.buffer, d.byteOffset + HEADER, d.length - HEADER - 16);
      if (w.rx.openInto(HEADER_COPY, 0, pn, ciphertext, out) !== undefined) fail('open');
    }
  }
  w.open.push(Number(process.hrtime.bigint() - t) / BATCH);
}

for (let r = 0; r < rounds + WARM_UP_ROUNDS; r++) for (const w of r % 2 === 1 ? [...ways].reverse() : ways) round(w);
const counted = (a: readonly number[]): number[] => a.slice(WARM_UP_ROUNDS);
const first = ways[0] as Way;
for (const w of ways) {
  const vs = (k: 'seal' | 'open'): string => median(counted(w[k]).map((x, i) => x / (counted(first[k])[i] as number))).toFixed(2);
  console.log(
    `${w.name.padEnd(30)} seal ${median(counted(w.seal)).toFixed(0)} ns, open ${median(counted(w.open)).toFixed(0)} ns per 1,400-byte packet` +
      (w === first ? '' : `; ÷ first build, same round: seal ${vs('seal')}, open ${vs('open')}`),
  );
}
