import type { LinkConfig } from '../lib/rudp-imports.js';
import { collectGarbage, collectYoungGarbage } from '../run/many-run.js';
import { BULK, BULK_QUICK } from '../scenarios/bulk.js';
import { BASE_LINK, jitterReorder, plainLoss } from '../scenarios/link-variants.js';
import { IP_UDP_HEADER_BYTES } from '../sim/sim-pair.js';
import { groupBy, rotated, spread } from '../stats/seeds.js';
import { encryptionRatio, encryptionRunOrder, pairRuns } from './encryption-pairs.js';
import { RelayHost } from './relay-host.js';
import { relayBulk, relayChat, type RelayDeps } from './relay-runs.js';
import { loadUdx, type UdxConstructor } from '../peers/udx-native.js';
import { rawThroughput, rawWindows, rudpStreamThroughput, rudpThroughput, tcpThroughput, udxThroughput, type Rate } from './throughput.js';
import type { RelaySystem, UdpBulkResult, UdpChatResult, UdpPeer, UdpPeerRate, UdpReport, UdpThroughput } from './udp-results.js';

export { UDP_WARMUP_MS } from './throughput.js';

/**
 * Alternating rounds of every peer per message size in a full run (medians
 * reported). Five, not three: with three, the 1 KB encrypted ÷ plaintext
 * ratio of the same code read 0.78, 0.87 and 1.01 in three runs (and 64 B
 * encrypted 1.21 × plaintext in one), so a 0.8 line could not be judged.
 */
export const UDP_ROUNDS = 5;

/** Message sizes of the loopback throughput runs ("64 KB" is 64,000 B: raw dgram cannot carry 65,536). */
export const UDP_SIZES: readonly number[] = [64, 1024, 64_000];

/**
 * Relay link of the bulk runs: the simulated bulk's, so the two can be
 * compared — 35 ms ± 5 one way (FIFO, or jitter-reorder's per-datagram
 * delays with a tenth held 25 ms), loss `loss`, and its 10 Mbit/s bottleneck
 * with a 64 KiB drop-tail queue charging 28 B of IP/UDP header a datagram.
 * Without the bottleneck a sender goes at loopback speed, and the 25 ms hold
 * is 2.5 round trips of a 10 ms path instead of a third of one.
 */
export function relayBulkLink(reorder: boolean, loss: number): LinkConfig {
  const variant = reorder ? jitterReorder(loss) : plainLoss(loss);
  return { ...variant.link, bandwidthBps: BULK.bandwidthBps, queueBytes: BULK.queueBytes, headerBytes: IP_UDP_HEADER_BYTES };
}

/** Length of one relay chat in a full run: 400 timed messages each way per seed. */
const RELAY_CHAT_MS = 8_000;

/** Relay links of the chat runs, as in the simulated chat. */
const RELAY_CHAT_VARIANTS: readonly { readonly id: string; readonly link: LinkConfig }[] = [
  { id: 'p=0.1', link: { ...BASE_LINK, loss: 0.1 } },
  { id: 'p=0.2', link: { ...BASE_LINK, loss: 0.2 } },
  { id: 'burst3 p=0.1', link: { ...BASE_LINK, loss: 0.1, burst: { meanBurstLength: 3 } } },
];

/** Systems driven through the relay: rudp, the reference (KCP fast, flushed: the `REFERENCE` of the simulated runs) and udx-native. */
const RELAY_SYSTEMS: readonly RelaySystem[] = ['rudp', 'kcp-flush', 'udx-native'];

/** Which parts of the real-UDP run to do. */
export interface UdpParts {
  readonly throughput: boolean;
  readonly relayBulk: boolean;
  readonly relayChat: boolean;
}

/**
 * Discarded bulk runs each system makes before its measured ones, per case
 * measured, each on a connection of its own. A JavaScript transport's CPU
 * per run settles only after several connections and some tens of seconds
 * of traffic at 10 Mbit/s (V8 optimizes, deoptimizes as a new connection or
 * a first loss brings new shapes, and optimizes again): rudp's first 4 MiB
 * runs in a fresh process cost 2-3 × the later ones, one discarded run of
 * twice the bytes left the first measured run at 2 ×, and one run per case
 * (four) left the measured seeds falling from 0.82 to 0.38 CPU s (udx-native
 * 0.31-0.44 throughout). The relay process, JavaScript too, settles alike.
 */
export const RELAY_WARMUP_RUNS_PER_CASE = 2;

/** Every part (`--scenario udp`). */
export const ALL_UDP_PARTS: UdpParts = { throughput: true, relayBulk: true, relayChat: true };

/** Progress callback: one line per step. */
export type UdpProgress = (label: string) => void;

/** Runs of one peer in one round taken as one: their rates averaged (the runs are of one length), their CPU and bytes summed. */
function pooled(runs: readonly Rate[]): Rate {
  const n = runs.length;
  const sum = (f: (r: Rate) => number): number => runs.reduce((a, r) => a + f(r), 0);
  return { messagesPerSec: sum((r) => r.messagesPerSec) / n, datagramsPerSec: sum((r) => r.datagramsPerSec) / n, cpuSeconds: sum((r) => r.cpuSeconds), bytes: sum((r) => r.bytes) };
}

async function throughputRuns(api: typeof import('rudpx'), udx: UdxConstructor | string, quick: boolean, progress: UdpProgress): Promise<UdpThroughput[]> {
  const msPerRun = quick ? 500 : 1_000;
  const rounds = quick ? 1 : UDP_ROUNDS;
  const out: UdpThroughput[] = [];
  const sodium = api.packetCipherProviders.find(([library]) => library === 'libsodium')?.[1];
  for (const size of UDP_SIZES) {
    // Every peer's run of every round, with its bytes/s against udx-native's and rudp plaintext's in that round.
    const runs: { readonly peer: UdpPeer; readonly rate: Rate; readonly toUdx: number; readonly toPlain: number }[] = [];
    // One full GC per size; between runs a scavenge only (collectYoungGarbage): a full GC before each run
    // discarded rudp's optimized code, so every rudp run was measured partly cold (udx-native, in C, lost nothing):
    // loopback CPU per byte ÷ udx-native's 2.9–4.5 with it, 1.2–1.8 without, in one session (real-udp-session56.md).
    collectGarbage();
    for (let round = 0; round < rounds; round++) {
      progress(`real UDP ${size} B round ${round + 1}/${rounds}`);
      // Peers alternate within a round, and each round's ratios pair runs taken seconds apart: this VM's speed drifts.
      collectYoungGarbage();
      let raw: Rate | undefined;
      for (const w of rawWindows(size)) {
        const r = await rawThroughput(size, msPerRun / 2, w);
        if (!raw || r.messagesPerSec > raw.messagesPerSec) raw = r;
      }
      const thisRound = new Map<UdpPeer, Rate>();
      if (raw) thisRound.set('raw dgram', raw);
      // A discarded rudp run first: whichever rudp run came first after raw dgram lost about a third
      // of its bytes/s (64 B and 64 KB), so the first peer measured was handicapped.
      collectYoungGarbage();
      await rudpThroughput(api, size, msPerRun / 2);
      // rudp and rudp plain back to back, in mirrored pairs (encryption-pairs.ts): their ratio is the cost of
      // encryption, the median of the pairs' ratios. Runs taken further apart (or always in one order) add this
      // VM's drift to it, and one pair alone read anywhere from 0.68 to 1.07 of the same code in 14 rounds.
      const order = encryptionRunOrder(round);
      const pairRates: Rate[] = [];
      for (const plaintext of order) {
        collectYoungGarbage();
        pairRates.push(await rudpThroughput(api, size, msPerRun, plaintext ? { plaintext: true } : {}));
      }
      const pairs = pairRuns(order, pairRates);
      thisRound.set('rudp', pooled(pairs.map((p) => p.encrypted)));
      thisRound.set('rudp plain', pooled(pairs.map((p) => p.plain)));
      const encryptedToPlain = encryptionRatio(pairs);
      collectYoungGarbage();
      // The sockets the default (batched, rudp's addon) replaces, where it is built.
      if (api.datagramIoLibrary === 'batched') {
        thisRound.set('rudp node:dgram', await rudpThroughput(api, size, msPerRun, { socketBatching: false }));
        collectYoungGarbage();
      }
      // The fallbacks the default (OpenSSL through rudp's addon) replaces, where they differ from it.
      if (sodium !== undefined && api.packetCipherLibrary !== 'libsodium') {
        thisRound.set('rudp libsodium', await rudpThroughput(api, size, msPerRun, { crypto: sodium }));
        collectYoungGarbage();
      }
      thisRound.set('rudp node:crypto', await rudpThroughput(api, size, msPerRun, { crypto: api.nodeCryptoProvider }));
      collectYoungGarbage();
      thisRound.set('rudp stream()', await rudpStreamThroughput(api, size, msPerRun));
      if (typeof udx !== 'string') {
        collectYoungGarbage();
        thisRound.set('udx-native', await udxThroughput(udx, size, msPerRun));
      }
      collectYoungGarbage();
      thisRound.set('TCP', await tcpThroughput(size, msPerRun));
      const udxRate = thisRound.get('udx-native');
      const plainRate = thisRound.get('rudp plain');
      for (const [peer, rate] of thisRound) {
        const toUdx = udxRate ? rate.messagesPerSec / udxRate.messagesPerSec : Number.NaN;
        const toPlain = peer === 'rudp' ? encryptedToPlain : plainRate ? rate.messagesPerSec / plainRate.messagesPerSec : Number.NaN;
        runs.push({ peer, rate, toUdx, toPlain });
      }
    }
    const peers: UdpPeerRate[] = [...groupBy(runs, (r) => r.peer)].map(([peer, mine]) => {
      const rates = mine.map((r) => r.rate);
      const mps = spread(rates.map((r) => r.messagesPerSec)).median;
      return {
        peer,
        messagesPerSec: mps,
        datagramsPerSec: spread(rates.map((r) => r.datagramsPerSec)).median,
        megabytesPerSec: (mps * size) / 1e6,
        cpuSecondsPerGB: spread(rates.map((r) => (r.cpuSeconds * 1e9) / r.bytes)).median,
        ratioToUdx: spread(mine.map((r) => r.toUdx)).median,
        ratiosToPlain: mine.map((r) => r.toPlain),
      };
    });
    out.push({ messageBytes: size, peers });
  }
  return out;
}

/**
 * The real-UDP part: loopback throughput of rudp, udx-native, TCP and raw
 * dgram, then bulk and chat through udp-relay on 127.0.0.1 for rudp and
 * KCP, on every seed. A string explains why it was skipped.
 */
export async function runUdp(quick: boolean, seeds: readonly number[], progress: UdpProgress, parts: UdpParts = ALL_UDP_PARTS): Promise<UdpReport | string> {
  let api: typeof import('rudpx');
  try {
    api = await import('rudpx');
    await import('udp-relay');
  } catch (e) {
    return `real UDP part skipped: rudp's Node adapter or udp-relay could not be loaded (${e instanceof Error ? e.message : String(e)}).`;
  }
  const notes: string[] = [];
  const udx = loadUdx();
  if (typeof udx === 'string') notes.push(`udx-native not measured: it could not be loaded (${udx}).`);
  const relays = await RelayHost.start();
  try {
    return await relayRuns({ api, relays, udx: typeof udx === 'string' ? undefined : udx }, udx, notes, quick, seeds, progress, parts);
  } finally {
    await relays.stop();
  }
}

async function relayRuns(
  deps: RelayDeps,
  udx: UdxConstructor | string,
  notes: readonly string[],
  quick: boolean,
  seeds: readonly number[],
  progress: UdpProgress,
  parts: UdpParts,
): Promise<UdpReport> {
  const { api } = deps;
  const systems = RELAY_SYSTEMS.filter((s) => s !== 'udx-native' || deps.udx !== undefined);
  // Heap left by the simulated scenarios would otherwise tax one peer's collections more than another's.
  collectGarbage();
  const throughput = parts.throughput ? await throughputRuns(api, udx, quick, progress) : [];

  const bulk: UdpBulkResult[] = [];
  const totalBytes = (quick ? BULK_QUICK : BULK).totalBytes;
  const allBulkCases = quick ? [{ reorder: false, loss: 0 }, { reorder: true, loss: 0 }] : [false, true].flatMap((reorder) => [0, 0.1].map((loss) => ({ reorder, loss })));
  const bulkCases = parts.relayBulk ? allBulkCases : [];
  // Every system is measured warm (see RELAY_WARMUP_RUNS_PER_CASE); the discarded runs are reported apart, as the cold cost.
  const bulkWarmUp: UdpBulkResult[] = [];
  for (const system of systems) {
    let n = 0;
    for (const c of bulkCases) {
      for (let k = 0; k < RELAY_WARMUP_RUNS_PER_CASE; k++) {
        progress(`relay bulk ${system} warm-up ${++n} (discarded)`);
        bulkWarmUp.push(await relayBulk(system, deps, bulkCaseId(c), relayBulkLink(c.reorder, c.loss), c.reorder, 0, totalBytes));
      }
    }
  }
  for (const c of bulkCases) {
    const id = bulkCaseId(c);
    for (const [i, seed] of seeds.entries()) {
      // Systems take turns within a seed (their order rotated from seed to seed), so a drift of the machine's load does not fall on one system.
      for (const system of rotated(systems, i)) {
        progress(`relay bulk ${system} ${id} seed ${seed}`);
        bulk.push(await relayBulk(system, deps, id, relayBulkLink(c.reorder, c.loss), c.reorder, seed, totalBytes));
      }
    }
  }

  const chat: UdpChatResult[] = [];
  const chatVariants = parts.relayChat ? (quick ? RELAY_CHAT_VARIANTS.slice(0, 1) : RELAY_CHAT_VARIANTS) : [];
  for (const v of chatVariants) {
    for (const system of systems) {
      for (const seed of seeds) {
        progress(`relay chat ${system} ${v.id} seed ${seed}`);
        chat.push(await relayChat(system, deps, v.id, v.link, seed, quick ? 3_000 : RELAY_CHAT_MS));
      }
    }
  }
  return { throughput, chat, bulk, bulkWarmUp, notes };
}

/** The link column of a relay bulk case. */
function bulkCaseId(c: { readonly reorder: boolean; readonly loss: number }): string {
  return `${c.reorder ? 'reorder' : 'plain'} p=${c.loss}`;
}
