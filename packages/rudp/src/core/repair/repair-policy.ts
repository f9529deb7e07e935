/**
 * The sender's redundancy policy for small messages on lossy paths. It
 * keeps moving estimates of the loss rate (a short one that follows a
 * change within ~50 packets, and a long one that keeps repairs steady on a
 * path that keeps losing) and, from them, decides:
 * - repairs: a packet that carries new data also carries one REPAIR over
 *   the small messages sent in the last two round trips that are still
 *   unacknowledged (repair-code.ts). The receiver rebuilds up to k lost
 *   messages from any k repairs, so a lost packet costs a send interval, not
 *   a round trip, for the bytes of one copy per packet. Only on a path with
 *   measured loss, on a share of packets that follows it: a clean path pays
 *   nothing.
 * - tail copies: the last small messages before the sender falls silent get
 *   spaced copies instead, as no later packet carries repairs for them.
 * - previous copies (opt-in, `previousCopyShare`): a second symbol beside
 *   the repair, so two packets lost in a row cost one send interval too.
 */
import type { RedundancyConfig } from '../config.js';
import type { RttEstimator } from '../recovery/rtt.js';
import { type ChunkRef, type OutgoingMessage, checkAttached, isIntact, writeChunk } from '../send/outgoing-message.js';
import type { RetransmitQueue } from '../send/retransmit-queue.js';
import { MAX_REPAIR_COVER, MAX_SMALL_MESSAGE, repairFrameSize, writeRepair } from '../../wire/frame.js';
import type { PacketWriter } from '../../wire/packet.js';
import { REPAIR_ROW, encodeRepair, repairSymbolSize } from './repair-code.js';
import { emptyArray, pushOnto } from '../shared-empty.js';

/** Weight kept by the loss-rate average per packet outcome (about the last 50 packets count). */
const LOSS_EWMA_KEEP = 0.98;
/**
 * Weight kept by the long loss average per packet outcome (about the last 200 packets count), the
 * floor of the rate that earns repairs. Fifty packets are a small sample: on a path that loses 10 %
 * they hold fewer than two or three losses often enough that the short average reads under the 5 %
 * from which every packet carries a repair, and the losses in those stretches waited a round trip
 * for their resend. The short average still decides how fast repairs start, and the copies.
 */
const LONG_LOSS_EWMA_KEEP = 0.995;
/** Outcomes after which the long average's weight is 1 to within 10⁻⁴ (the count stops there). */
const LONG_OUTCOMES_COUNTED = 2_000;
/**
 * Clean packets the loss estimate assumes before the first outcome. An
 * average that starts at zero hears of a lossy path only after ~50 packets
 * (one loss in the first ten read as 2 %, below the repair threshold), and
 * every message lost meanwhile waited a round trip for its resend (bench chat
 * at 10 % loss: about a sixth of the messages later than p99 were in the
 * first second). Counting outcomes against this prior instead reads that
 * loss as 10 %; after about ten outcomes the estimate is the plain average.
 */
const LOSS_PRIOR_PACKETS = 10;
/** Most loss rate the handshake alone may suggest. */
const HANDSHAKE_LOSS_CAP = 0.5;
/** Rounding slack of the repair credit (a sum of fractions that should reach 1). */
const REPAIR_CREDIT_EPSILON = 1e-9;
/** A lost message's resend waits for at most this many repairs that covered it. */
const REPAIRS_WAITED_FOR = 2;
/** Small messages remembered as candidates for repairs. */
const RECENT_SMALL = 16;

/**
 * Packets acknowledged, with no data loss, that retire the handshake's loss
 * guess: its resends may only have raced a server slow to answer (the key
 * exchange on a busy server), and a data path that delivers is the better
 * measure. As many again must follow without a loss before the guess is
 * forgotten: a loss found in the same ACK (acknowledged packets are counted
 * before the gaps below them are declared lost), or soon after, restores it.
 * Eight, not four: at 20% loss four clean packets in a row are common enough
 * to cost the simulated chat a few percent of p99 on some seeds.
 */
const SEED_RETIRED_AFTER = 8;

/** Weight kept by the loss-run average per loss (about the last 20 losses count). */
const RUN_EWMA_KEEP = 0.95;
/**
 * Losses that did not continue a run, assumed before the first loss by the run share (as
 * `LOSS_PRIOR_PACKETS` for the loss rate). An average that starts at zero hears of runs only after
 * ~18 losses (bursts of mean length 3 at 10 %: about 4 s of the bench's two-way chat), and until
 * then a packet lost in a run is resent without its spaced copies (bench chat, 100 simulated seeds:
 * p99 of the first 8 s 170 ms, 152 ms once runs are known). Counted against this prior, two runs
 * of three read as bursty; after some 20 losses the share is the plain moving average.
 */
const RUN_PRIOR_LOSSES = 8;
/** Share of losses that continue a run from which losses count as bursty (independent loss at rate p gives about p, bursts of mean length 3 about 2/3). */
const BURSTY_RUN_SHARE = 0.4;
/** Loss rate from which a resend is lost often enough (one time in four) to be worth a copy even when losses come alone. */
const RESEND_COPY_LOSS = 0.25;
/**
 * The automatic previous-copy share (when `previousCopyShare` is not set) rises from 0 at a loss
 * rate of `AUTO_COPY_FROM` to `AUTO_COPY_SHARE` at `AUTO_COPY_FULL`. Sized on the bench's chat
 * (64 B every 20 ms, RTT 70 ms) to stay within KCP flush's bytes: at 20 % loss half of the packets
 * carry a copy (p99 0.62 -> 0.53 × KCP flush's, wire 0.97 × KCP's); at 10 % a copy in every other
 * packet would cost ~1.06 × KCP's bytes, so nearly none is sent there.
 */
const AUTO_COPY_FROM = 0.1;
const AUTO_COPY_FULL = 0.15;
const AUTO_COPY_SHARE = 0.5;

/**
 * Copies of the bytes of acknowledged messages a repair may still cover: one acknowledged behind an older
 * one that is not (lost, say) stays among the recent ones, and its send promise has resolved, so the
 * application may overwrite or transfer its buffer (README: the bytes are the application's again once
 * the promise settles). A repair coded over the new bytes let the peer rebuild a lost message wrong, and
 * trust it; over transferred ones it ended the connection. Weak: gone with the message, at most
 * `RECENT_SMALL` small ones a connection, and only while a loss holds them.
 */
const ACKED_BYTES = new WeakMap<OutgoingMessage, Uint8Array>();

/** Scratch space for one repair symbol. */
const REPAIR_SCRATCH = new Uint8Array(REPAIR_ROW);

/** The settings the policy reads. */
export interface RepairPolicyConfig {
  readonly redundancy: RedundancyConfig;
  /** Shortest spacing of tail copies, ms. */
  readonly redundantSpacingMs: number;
  readonly maxAckDelayMs: number;
}

/**
 * How a sender's losses came (`RepairPolicy.bursty`), made at its first loss: a clean connection
 * carries one field for them, not three. Fields declared bare and set in the constructor, so a
 * fraction or a packet number past 2^31 in one connection's boxes none in the others'.
 */
class LossRuns {
  /** Moving sum of losses that continued a run of losses (the packet just before was lost too). */
  share: number;
  /** Moving sum of losses counted in `share`, with the same weights (tends to 1). */
  weight: number;
  /** Packet number of the last packet declared lost (-1: none; packet numbers start at 1). */
  lastLostPn: number;

  constructor() {
    this.share = 0;
    this.weight = 0;
    this.lastLostPn = -1;
  }
}

/** Redundancy decisions of one sender. */
export class RepairPolicy {
  /** Moving sum of losses (each outcome weighs 1 − LOSS_EWMA_KEEP, older ones decay). */
  private lossSum: number;
  /** Moving sum of outcomes, lost or acknowledged, with the same weights (tends to 1). */
  private outcomeWeight: number;
  /** The long average's moving sum of losses (each outcome weighs 1 − LONG_LOSS_EWMA_KEEP); the small integer 0 until a loss, so a clean connection holds no boxed number for it. */
  private longLossSum: number;
  /**
   * Packet outcomes (acknowledged or lost) counted, up to `LONG_OUTCOMES_COUNTED`: the long average's
   * weight is 1 − keep^this (an integer, not another boxed number), and any at all means the loss
   * rate says something about the path.
   */
  private longOutcomes = 0;
  /** Repairs earned by packets of new data (one is sent when it reaches 1). */
  private repairCredit: number;
  /** Previous copies earned by packets of new data at high loss (one is sent when it reaches 1). */
  private copyCredit: number;
  /** The handshake's loss guess while it is on trial (0: none). */
  private seedRate: number;
  /** Clean acknowledgements left in the trial: above `SEED_RETIRED_AFTER` the guess is in force, at or below it retired but restorable. */
  private seedTrial = 0;
  /**
   * Recently first-sent single-chunk messages, newest last, from `recentFrom` on (at most `RECENT_SMALL`):
   * what repairs cover. Slots before `recentFrom` are emptied, and dropped all at once when they are
   * `RECENT_SMALL`: a `shift()` per message sent was 4.6% of the CPU of a 64-byte stream's core.
   */
  private recentSmall: (OutgoingMessage | undefined)[] = emptyArray();
  private recentFrom = 0;
  /** How losses came, in runs or alone (`undefined` until the first loss: most connections see none). */
  private runs: LossRuns | undefined;
  /** The losses since one ended the handshake guess's trial, and the trial as it stood then (see `onLossUndone`). */
  private guessConfirmedBy: { readonly lost: number[]; readonly trial: number; readonly rate: number; readonly lossSum: number } | undefined;

  constructor(
    private readonly config: RepairPolicyConfig,
    private readonly rtt: RttEstimator,
  ) {
    // The moving sums and credits hold fractions once there is loss: set here, not as `= 0` initializers,
    // which V8 types as small integers and then boxes (16 bytes) in every connection, a clean idle one's
    // 0 too, once any connection holds more.
    this.lossSum = 0;
    this.outcomeWeight = 0;
    this.longLossSum = 0;
    this.repairCredit = 0;
    this.copyCredit = 0;
    this.seedRate = 0;
  }

  /** An ack-eliciting packet was acknowledged. */
  onPacketAcked(): void {
    this.lossSum *= LOSS_EWMA_KEEP;
    this.outcomeWeight = this.outcomeWeight * LOSS_EWMA_KEEP + (1 - LOSS_EWMA_KEEP);
    if (this.longLossSum !== 0) this.longLossSum *= LONG_LOSS_EWMA_KEEP;
    if (this.longOutcomes < LONG_OUTCOMES_COUNTED) this.longOutcomes++;
    if (this.seedTrial === 0) return;
    this.seedTrial--;
    if (this.seedTrial === SEED_RETIRED_AFTER) this.lossSum = 0;
    if (this.seedTrial === 0) this.seedRate = 0;
  }

  /** Ack-eliciting packet `pn` was declared lost. */
  onPacketLost(pn = Number.NaN): void {
    // A loss during the trial confirms the handshake's guess. Remember how to take that back should it
    // and every loss after it turn out spurious (a path whose RTT grew after the handshake declares
    // several packets lost at once); a few losses more settle it.
    if (Number.isNaN(pn)) this.guessConfirmedBy = undefined;
    else if (this.seedTrial > 0) this.guessConfirmedBy = { lost: [pn], trial: this.seedTrial, rate: this.seedRate, lossSum: this.lossSum };
    else if (this.guessConfirmedBy !== undefined && this.guessConfirmedBy.lost.push(pn) > SEED_RETIRED_AFTER) this.guessConfirmedBy = undefined;
    if (!Number.isNaN(pn)) {
      const runs = (this.runs ??= new LossRuns());
      const follows = pn === runs.lastLostPn + 1;
      runs.share = runs.share * RUN_EWMA_KEEP + (follows ? 1 - RUN_EWMA_KEEP : 0);
      runs.weight = runs.weight * RUN_EWMA_KEEP + (1 - RUN_EWMA_KEEP);
      runs.lastLostPn = Math.max(runs.lastLostPn, pn);
    }
    // The path does lose: the handshake's guess was right after all.
    if (this.seedTrial > 0 && this.seedTrial <= SEED_RETIRED_AFTER) this.lossSum = Math.max(this.lossSum, this.seedRate * this.weight());
    this.seedTrial = 0;
    this.seedRate = 0;
    this.lossSum = this.lossSum * LOSS_EWMA_KEEP + (1 - LOSS_EWMA_KEEP);
    this.outcomeWeight = this.outcomeWeight * LOSS_EWMA_KEEP + (1 - LOSS_EWMA_KEEP);
    this.longLossSum = this.longLossSum * LONG_LOSS_EWMA_KEEP + (1 - LONG_LOSS_EWMA_KEEP);
    if (this.longOutcomes < LONG_OUTCOMES_COUNTED) this.longOutcomes++;
  }

  /** Packet `pn`, counted as lost, was only late: take its loss back, and the guess it confirmed. */
  onLossUndone(pn = Number.NaN): void {
    this.lossSum = Math.max(0, (this.lossSum - (1 - LOSS_EWMA_KEEP)) / LOSS_EWMA_KEEP);
    this.longLossSum = Math.max(0, (this.longLossSum - (1 - LONG_LOSS_EWMA_KEEP)) / LONG_LOSS_EWMA_KEEP);
    const c = this.guessConfirmedBy;
    const i = c === undefined ? -1 : c.lost.indexOf(pn);
    if (c === undefined || i < 0) return;
    c.lost.splice(i, 1);
    if (c.lost.length > 0) return;
    this.guessConfirmedBy = undefined;
    this.seedTrial = c.trial;
    this.seedRate = c.rate;
    this.lossSum = Math.min(this.lossSum, c.lossSum);
  }

  /** Whether losses come in runs (bursts): a resend sent right after one may be lost in the same run. */
  bursty(): boolean {
    // The share of losses that continued a run, over the losses counted (never fewer than the prior's).
    const runs = this.runs;
    return (runs?.share ?? 0) >= BURSTY_RUN_SHARE * Math.max(runs?.weight ?? 0, RUN_PRIOR_LOSSES * (1 - RUN_EWMA_KEEP));
  }

  /**
   * Spaced copies a resend of a one-packet message gets, `configured` being `redundantCopies`;
   * `inRun`: the packet was lost in a run that may still go on (declared lost with nothing newer
   * acknowledged). A copy buys latency only when the resend itself is lost: where losses come alone
   * at a moderate rate (repairs on every packet, below 25 %) it is bytes for nothing (bench chat at
   * 10 % / 20 % loss: same p99 without it, 2–6 % of KCP's bytes less). Where they come in runs, a
   * resend sent while the run may last often falls in it: one copy more, spread further (bench chat,
   * bursts of mean length 3 at 10 %: p99 0.88 -> 0.76 × KCP flush's).
   */
  resendCopies(configured: number, inRun = true): number {
    // Without repairs (redundancy off) a lost message has only its resends: the configured copies.
    if (configured === 0 || this.config.redundancy.maxCopies === 0) return configured;
    if (this.bursty()) return inRun ? configured + 1 : configured;
    const rate = this.lossRate();
    // Below the high-loss threshold repairs go on a share of packets only, and resends are rare enough
    // for their copies to cost little.
    return rate >= RESEND_COPY_LOSS || rate < this.config.redundancy.highLossThreshold ? configured : 0;
  }

  /** Moving estimate of the fraction of ack-eliciting packets lost (see `LOSS_PRIOR_PACKETS`). */
  lossRate(): number {
    return this.lossSum / this.weight();
  }

  /**
   * The loss rate that earns repairs: the short average, or the long one where it reads more (see
   * `LONG_LOSS_EWMA_KEEP`). The long one counts its outcomes against the same prior of clean packets.
   */
  private repairLossRate(): number {
    const weight = 1 - LONG_LOSS_EWMA_KEEP ** this.longOutcomes;
    const long = this.longLossSum / Math.max(weight, LOSS_PRIOR_PACKETS * (1 - LONG_LOSS_EWMA_KEEP));
    // Where losses come in runs the clean stretches between them are real: repairs there would be bytes
    // for nothing (bench chat, bursts of mean length 3 at 10 %: 4 % more wire bytes, same p99).
    return this.bursty() ? this.lossRate() : Math.max(this.lossRate(), long);
  }

  /** The outcomes counted, never below the prior's clean packets. */
  private weight(): number {
    return Math.max(this.outcomeWeight, LOSS_PRIOR_PACKETS * (1 - LOSS_EWMA_KEEP));
  }

  /**
   * Starts the estimate from the handshake's losses (capped: a few packets are a small sample), unless
   * data losses were seen. A loss the handshake measured counts as a settled average, decaying with
   * each acknowledged packet; a clean handshake leaves the prior of clean packets in place. The first
   * acknowledgements put the guess on trial (`SEED_RETIRED_AFTER`).
   */
  seed(rate: number, dataLossSeen: boolean): void {
    if (dataLossSeen || rate <= this.lossRate()) return;
    this.lossSum = Math.min(rate, HANDSHAKE_LOSS_CAP);
    this.outcomeWeight = 1;
    this.seedRate = this.lossSum;
    this.seedTrial = 2 * SEED_RETIRED_AFTER;
  }

  /** A one-chunk message left for the first time. */
  rememberSmall(now: number, m: OutgoingMessage): void {
    if (m.chunkCount !== 1 || m.length > Math.min(this.config.redundancy.maxMessageBytes, MAX_SMALL_MESSAGE)) return;
    m.firstSentAt = now;
    // Repairs cover default messages only: a message rebuilt from one has no CHANNEL frame, so the
    // receiver takes it for channel 0, ordered (tail copies still cover the others).
    if (m.delivery !== undefined) return;
    const recent = pushOnto(this.recentSmall, m);
    this.recentSmall = recent;
    if (recent.length - this.recentFrom > RECENT_SMALL) {
      recent[this.recentFrom++] = undefined;
      if (this.recentFrom >= RECENT_SMALL) this.dropEmptied(recent);
    }
  }

  /**
   * Moves the recent messages down over the emptied slots before `recentFrom`: by hand, as `splice`
   * makes an array of those removed and `copyWithin` took 3.6% of a 64-byte stream's core CPU.
   */
  private dropEmptied(recent: (OutgoingMessage | undefined)[]): void {
    const from = this.recentFrom;
    const n = recent.length - from;
    for (let i = 0; i < n; i++) recent[i] = recent[i + from];
    recent.length = n;
    this.recentFrom = 0;
  }

  /**
   * Drops the acknowledged messages at the front of the recent ones: a repair
   * never covers them (see `fillRepair`), and an idle connection would keep
   * their bytes alive. Called after an ACK.
   */
  forgetAcknowledged(): void {
    const recent = this.recentSmall;
    let k = this.recentFrom;
    while (k < recent.length && (recent[k] as OutgoingMessage).complete) k++;
    if (k === recent.length) {
      // Emptied: the shared empty array, so an idle connection keeps no storage.
      this.recentSmall = emptyArray();
      this.recentFrom = 0;
    } else {
      // Emptied slots, not a splice per ACK (it made an array of those removed each time).
      for (let i = this.recentFrom; i < k; i++) recent[i] = undefined;
      this.recentFrom = k;
      if (k >= RECENT_SMALL) this.dropEmptied(recent);
    }
    // The rest may be covered yet: those acknowledged keep their bytes as sent, copied before the
    // application hears of it (its events come after the packet). One already detached is not copied:
    // `fillRepair` finds it so and ends the connection.
    for (let i = this.recentFrom + 1; i < this.recentSmall.length; i++) {
      const m = this.recentSmall[i] as OutgoingMessage;
      if (m.complete && !ACKED_BYTES.has(m) && isIntact(m)) ACKED_BYTES.set(m, m.data.slice());
    }
  }

  /**
   * Writes a REPAIR into packet `pn` if the loss rate earns one and a run of
   * recent unacknowledged small messages (other than those in `chunks`)
   * needs it, after the previous copy if one is earned (added to `chunks`).
   * Returns whether a repair was written.
   */
  fillRepair(now: number, pn: number, w: PacketWriter, chunks: ChunkRef[]): boolean {
    const recent = this.recentSmall;
    const from = this.recentFrom;
    const lossRate = this.repairLossRate();
    if (this.level(lossRate) === 0 || recent.length === from) return false;
    // A share of packets that grows with the loss rate, every packet from `highLossThreshold` on. The
    // credit is capped after the share is added, so a share between ½ and 1 gives every other packet:
    // where losses come in runs that is the cheaper choice (bench chat, bursts of mean length 3 at 10 %:
    // a proportional share costs 1.5 % more wire bytes for the same p99).
    const high = this.config.redundancy.highLossThreshold;
    if (lossRate >= high) this.fillPreviousCopy(now, w, chunks);
    this.repairCredit = Math.min(1, this.repairCredit + (lossRate >= high ? 1 : lossRate / high));
    if (this.repairCredit < 1 - REPAIR_CREDIT_EPSILON) return false;
    // Two round trips: a message lost in a long burst stays covered until enough repairs get through
    // (bench chat with burst loss: p99 263 -> 251 ms, for no extra bytes: a repair is one symbol).
    const horizon = now - 2 * (this.rtt.srtt + this.config.maxAckDelayMs);
    // The newest run of consecutive ids sent before this packet, within the horizon.
    let hi = recent.length - 1;
    while (hi >= from && carriesMessage(chunks, recent[hi] as OutgoingMessage)) hi--;
    if (hi < from) return false;
    let lo = hi;
    while (lo > from && hi - lo + 1 < MAX_REPAIR_COVER) {
      const prev = recent[lo - 1] as OutgoingMessage;
      if (prev.id !== (recent[lo] as OutgoingMessage).id - 1 || prev.firstSentAt < horizon) break;
      lo--;
    }
    // Acknowledged messages at either end need no repair.
    while (lo <= hi && (recent[lo] as OutgoingMessage).complete) lo++;
    while (hi >= lo && (recent[hi] as OutgoingMessage).complete) hi--;
    if (lo > hi || (recent[hi] as OutgoingMessage).firstSentAt < horizon) return false;
    const covered = recent.slice(lo, hi + 1) as OutgoingMessage[];
    const baseId = (covered[0] as OutgoingMessage).id;
    // An acknowledged message by the bytes it was sent with; a detached one would be coded as empty: the
    // peer would rebuild a lost one wrong, and trust it.
    const bytes = covered.map((m) => (m.complete ? (ACKED_BYTES.get(m) ?? m.data) : m.data));
    for (let i = 0; i < covered.length; i++) {
      const m = covered[i] as OutgoingMessage;
      checkAttached(bytes[i] as Uint8Array, m.length, m.id);
    }
    const shape = encodeRepair(pn, baseId, bytes, REPAIR_SCRATCH);
    const size = repairSymbolSize(shape);
    if (repairFrameSize(baseId, size) > w.room()) return false;
    writeRepair(w, baseId, covered.length, shape.uniform, shape.width, REPAIR_SCRATCH.subarray(0, size));
    this.repairCredit -= 1;
    for (const m of covered) {
      // The first few repairs after a message are the ones that can rebuild it in time.
      if (m.repairs++ < REPAIRS_WAITED_FOR) m.lastRepairPn = pn;
    }
    return true;
  }

  /**
   * Two packets lost in a row leave the next one's repair with two unknowns: the first message waits
   * a send interval more for a second repair (bench chat at 10 % loss: two thirds of the messages
   * later than p99). The newest earlier message rides again beside the repair, which then covers
   * the ones before it: two symbols, so the next packet rebuilds both. The copy is a chunk of this
   * packet (its acknowledgement acknowledges the message), marked redundant: its loss needs no resend.
   */
  private fillPreviousCopy(now: number, w: PacketWriter, chunks: ChunkRef[]): void {
    // A copy in the very next packet falls in the same run when losses come in runs: none then.
    const share = this.config.redundancy.previousCopyShare ?? (this.bursty() ? 0 : autoCopyShare(this.lossRate()));
    if (share <= 0) return;
    // An unspent credit (no message to copy) is kept at 1, so a share between ½ and 1 is not taken for ½.
    this.copyCredit = Math.min(1, this.copyCredit) + share;
    if (this.copyCredit < 1 - REPAIR_CREDIT_EPSILON) return;
    const recent = this.recentSmall;
    const from = this.recentFrom;
    let i = recent.length - 1;
    while (i >= from && carriesMessage(chunks, recent[i] as OutgoingMessage)) i--;
    const prev = i >= from ? recent[i] : undefined;
    // Only the message sent just before (a later packet's repair covers the older ones in time).
    if (prev === undefined || prev.complete || now - prev.firstSentAt > 2 * (this.rtt.srtt + this.config.maxAckDelayMs)) return;
    if (!writeChunk(w, prev, 0)) return;
    chunks.push({ message: prev, index: 0, notBefore: 0, redundant: true });
    this.copyCredit -= 1;
  }

  /**
   * Copies of the last small messages sent before the sender fell silent. Redundancy rides on
   * the next packet of new data; request/response traffic has none until the reply, so a lost
   * request waited for a probe timeout (bench forum p99 at 20% loss: ~2 s). Each copy is dropped
   * if the message is acknowledged, or if new data left after it (the piggybacked copies cover it).
   */
  queueTailCopies(now: number, sent: readonly ChunkRef[], queue: RetransmitQueue, from = 0, to = sent.length): void {
    const copies = this.level();
    if (copies === 0) return;
    const spacing = Math.max(this.config.redundantSpacingMs, Math.min(this.rtt.srtt / 2, this.config.maxAckDelayMs));
    for (let i = from; i < to; i++) {
      const c = sent[i] as ChunkRef;
      if (c.message.chunkCount !== 1 || c.message.length > this.config.redundancy.maxMessageBytes) continue;
      for (let k = 1; k <= copies; k++) queue.queueTailCopy(c.message, now + k * spacing);
    }
  }

  /**
   * Tail copies per message at loss rate `lossRate`, by default the measured one (0: no redundancy
   * at all). Until the first packet outcome the path is unmeasured: the most
   * copies, as a lost first request or reply would wait for a probe timeout
   * on one or two RTT samples (forum first reply at 20% loss, 3,000
   * simulated sessions: p99 862 ms with one copy, 617 ms with two; ACCEPT
   * to reply alone, p99 per 100 sessions, 1.1-1.7 s without copies). A copy
   * is dropped once later data or the ACK leaves, so this costs a few small
   * packets per connection.
   */
  private level(lossRate = this.lossRate()): number {
    const c = this.config.redundancy;
    if (c.maxCopies === 0) return 0;
    if (lossRate < c.lossThreshold) return this.longOutcomes > 0 ? 0 : c.maxCopies;
    return lossRate >= c.highLossThreshold ? c.maxCopies : Math.min(1, c.maxCopies);
  }
}

/** The previous-copy share at measured loss rate `lossRate` when none is configured (see `AUTO_COPY_FROM`). */
export function autoCopyShare(lossRate: number): number {
  return AUTO_COPY_SHARE * Math.min(1, Math.max(0, (lossRate - AUTO_COPY_FROM) / (AUTO_COPY_FULL - AUTO_COPY_FROM)));
}

/** Whether `chunks` holds a chunk of `m` (a loop: an arrow per test would be a function object per packet). */
function carriesMessage(chunks: readonly ChunkRef[], m: OutgoingMessage): boolean {
  for (let i = 0; i < chunks.length; i++) if ((chunks[i] as ChunkRef).message === m) return true;
  return false;
}
