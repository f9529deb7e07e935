import { Bench } from 'tinybench';
import { encodeRequest, decode as decodeRequest } from 'forum-protocol';
import { PacketType, PacketWriter, RangeSet, crc32c, parseFrames, parseHeader, writeAck, writeFragment } from 'rudp/core';

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
 * and forum-protocol's request decode.
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
  const request = encodeRequest({ id: 'r-000042', username: 'alice', cmd: 'MSG', args: ['networking', 'has', 'anyone', 'tried', 'rudp', 'over', 'a', 'lossy', 'link?'] });
  bench.add('forum-protocol decode request (MSG, 9 args)', () => {
    sink ^= decodeRequest(request)._tag.length;
  });
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
