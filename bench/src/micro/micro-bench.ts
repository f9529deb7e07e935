import { Bench } from 'tinybench';
import { encodeRequest, decode as decodeRequest, sameUploadLines, type Thread, type ThreadEntry } from 'forum-protocol';
import { PacketType, PacketWriter, RangeSet, crc32c, parseFrames, parseHeader, writeAck, writeFragment } from 'rudpx/core';
import { packetCipherProviders } from 'rudpx';
import { PacketProtection } from 'rudpx/crypto';

/** One tinybench task's figures. */
export interface MicroResult {
  readonly name: string;
  readonly opsPerSec: number;
  /** Mean time per operation, ns (`opsPerSec` is 1e9 / this). */
  readonly meanNs: number;
  /** Relative margin of error of the mean, %. */
  readonly rme: number;
  readonly samples: number;
}

/** A full-size DATA packet carrying one 1,100-byte fragment, as the sender builds it. */
function encodeDataPacket(buf: Uint8Array, pn: number, chunk: Uint8Array): Uint8Array {
  const w = new PacketWriter(buf, PacketType.Data, 0x1234_5678, pn);
  writeAck(w, [{ lo: 10, hi: 40 }, { lo: 0, hi: 7 }], 250);
  writeFragment(w, 7, 64_000, 11_000, chunk);
  return w.finish();
}

/**
 * Runs the hot-path micro-benchmarks: rudp packet encode, decode (header
 * check + frame parse), CRC-32C over a full datagram, ACK range-set update,
 * forum-protocol's request decode, and packet protection (ChaCha20-Poly1305
 * seal and open of a 1,200-byte datagram, node:crypto and libsodium).
 */
export async function runMicro(quick: boolean): Promise<{ results: MicroResult[]; notes: string[] }> {
  const bench = new Bench({ time: quick ? 100 : 500, warmupTime: quick ? 20 : 100 });
  const buf = new Uint8Array(1200);
  const chunk = new Uint8Array(1100).map((_, i) => i & 0xff);
  const datagram = encodeDataPacket(new Uint8Array(1200), 99, chunk).slice();
  let pn = 0;
  // Results are folded into `sink` so the optimiser cannot drop the work.
  let sink = 0;
  bench.add('rudp encode DATA packet (ACK + 1,100 B fragment)', () => {
    sink ^= encodeDataPacket(buf, pn++, chunk).length;
  });
  bench.add('rudp decode DATA packet (checksum + header + frames)', () => {
    const h = parseHeader(datagram);
    if (typeof h === 'string') throw new Error(`benchmark packet rejected: ${h}`);
    sink ^= parseFrames(h.payload)?.length ?? 0;
  });
  bench.add('crc32c over 1,200 B', () => {
    sink ^= crc32c(datagram);
  });
  const ranges = new RangeSet();
  let next = 0;
  bench.add('ACK range-set insert (1 in 10 packets lost)', () => {
    next += next % 10 === 9 ? 2 : 1;
    if (!ranges.insert(next)) sink ^= 1;
  });
  // A request the server accepts (MSG's args are the title and the whole message): one with the
  // message split into words was refused by the codec's 3-argument bound, timing only a refusal.
  const request = encodeRequest({ id: 'r-000042', username: 'alice', cmd: 'MSG', args: ['networking', 'has anyone tried rudp over a lossy link?'] });
  if (decodeRequest(request)._tag !== 'Right') throw new Error('the micro-benchmark\'s MSG request does not decode');
  bench.add('forum-protocol decode request (MSG)', () => {
    sink ^= decodeRequest(request)._tag.length;
  });
  // The file store's check on every change of a thread (a MSG too) that its upload lines are unchanged: a MSG
  // appended to a thread of 3,000 uploads and 50 messages, the entries it keeps passed on as they were.
  const entries: ThreadEntry[] = [];
  for (let i = 0; i < 3000; i++) entries.push({ kind: 'upload', uploader: `user${i}`, filename: `file-${i}.txt` });
  for (let i = 0; i < 50; i++) entries.push({ kind: 'message', author: 'ann', text: 'x'.repeat(100) });
  const before: Thread = { title: 't', creator: 'ann', entries };
  const after: Thread = { ...before, entries: [...entries, { kind: 'message', author: 'bob', text: 'hi' }] };
  if (!sameUploadLines(before, after)) throw new Error('the micro-benchmark\'s MSG changes no upload line');
  bench.add('forum-protocol same upload lines (MSG to a thread of 3,000 uploads)', () => {
    if (sameUploadLines(before, after)) sink ^= 1;
  });
  // Packet protection: a 16-byte header as associated data, 1,184 bytes sealed (1,168 B payload + 16 B tag),
  // on every packet cipher library that loads here (OpenSSL through rudp's addon, libsodium, node:crypto).
  const header = datagram.subarray(0, 16);
  const payload = datagram.subarray(16, 1200 - 16);
  const providers = packetCipherProviders;
  for (const [library, crypto] of providers) {
    const secret = crypto.randomBytes(32);
    const sender = new PacketProtection(crypto, { sendSecret: secret, receiveSecret: secret });
    let sealPn = 0;
    bench.add(`seal 1,200 B packet (ChaCha20-Poly1305, ${library})`, () => {
      const r = sender.seal(header, sealPn++, payload);
      sink ^= r.ok ? r.packet.length : 0;
    });
    const sealedPackets = Array.from({ length: 4096 }, (_, pn) => {
      const r = sender.seal(header, 1e9 + pn, payload);
      if (!r.ok) throw new Error(r.reason);
      return r.packet;
    });
    // A fresh receiver per 4,096 packets keeps every open a first-time (non-replayed) packet.
    let receiver = new PacketProtection(crypto, { sendSecret: secret, receiveSecret: secret });
    let openIndex = 0;
    bench.add(`open 1,200 B packet (replay check + ChaCha20-Poly1305, ${library})`, () => {
      if (openIndex === sealedPackets.length) {
        openIndex = 0;
        receiver = new PacketProtection(crypto, { sendSecret: secret, receiveSecret: secret });
      }
      const i = openIndex++;
      const r = receiver.open(header, 0, 1e9 + i, sealedPackets[i] ?? new Uint8Array(0));
      if (!r.ok) throw new Error(`benchmark packet rejected: ${r.reason}`);
      sink ^= r.plaintext.length;
    });
  }
  await bench.run();
  const results = bench.tasks.flatMap((task): MicroResult[] => {
    const r = task.result;
    if (r.state !== 'completed') return [];
    return [
      {
        name: task.name,
        // Both from the mean latency: tinybench's mean throughput is a mean of per-sample rates, which disagrees with 1 / mean time.
        opsPerSec: 1000 / r.latency.mean,
        meanNs: r.latency.mean * 1e6,
        rme: r.latency.rme,
        samples: r.latency.samplesCount,
      },
    ];
  });
  const failed = bench.tasks.filter((t) => t.result.state !== 'completed').map((t) => `${t.name} (${t.result.state})`);
  const notes = failed.length ? [`micro-benchmarks that did not complete: ${failed.join(', ')}`] : [];
  return { results, notes };
}
