/**
 * The receiving half of repairs: a decoder that exists only while the peer
 * sends repairs (an idle or clean connection does not pay for it), fed every
 * whole small message and every REPAIR; messages it rebuilds go into
 * reassembly as if they had arrived, and the peer hears of them through a
 * MESSAGE_ACK so it does not resend them.
 */
import type { RepairFrame } from '../../wire/frame.js';
import { writeMessageAck } from '../../wire/frame.js';
import type { PacketWriter } from '../../wire/packet.js';
import type { Reassembly } from '../receive/reassembly.js';
import { KEEP_SPAN, type RecoveredMessage, RepairDecoder } from './repair-decoder.js';

/** A receiver stops keeping messages for repairs after this long without one, ms. */
const REPAIR_IDLE_MS = 1_000;
/**
 * Packets that carry the MESSAGE_ACK after a message is rebuilt. The sender resends a lost message
 * once the packets with its repairs are acknowledged, unless a MESSAGE_ACK said it was rebuilt: one
 * lost MESSAGE_ACK cost a needless resend (bench chat: a tenth of them at 10 % loss; at 30 %, 2 % of
 * the wire bytes). Twice costs 3 bytes per rebuilt message, and the second carries the latest state.
 */
const MESSAGE_ACK_SENDS = 2;
/** Bytes a MESSAGE_ACK may take (type and varint). */
const MESSAGE_ACK_ROOM = 9;

/** Repair decoding for one connection. */
export class RepairReceiver {
  private decoder: RepairDecoder | undefined;
  private lastRepairAt: number;
  /**
   * For a decoder a gap started and no repair has reached yet: the first
   * message id it kept (-1: none yet). Once a message `KEEP_SPAN` ids past
   * it arrives with still no repair, any repair for that gap would reach
   * further back than the decoder keeps and be refused, so the decoder goes:
   * a path that loses nothing but shows gaps (the sender's skipped packet
   * numbers, one in 128-1023) kept one alive, copying every small message,
   * and a loopback stream of 64-byte messages spent a third of its CPU on it.
   */
  private gapFirstId: number | undefined;
  /** Packets that still owe a MESSAGE_ACK (a message was recovered). */
  private messageAcksDue = 0;
  /** Messages rebuilt so far. */
  recovered = 0;

  constructor(private readonly reassembly: Reassembly) {
    // A time (fractional ms): set here, not as `= 0`, which V8 boxes (16 bytes) in every connection
    // once any connection received a repair.
    this.lastRepairAt = 0;
  }

  /** Whether a decoder keeps the small messages that arrive (for tests: what a clean path costs). */
  get keeping(): boolean {
    return this.decoder !== undefined;
  }

  /** Keeping messages for a peer that stopped sending repairs (its path is clean again) only costs memory. */
  expireIfIdle(now: number): void {
    if (this.decoder !== undefined && now - this.lastRepairAt > REPAIR_IDLE_MS) this.decoder = undefined;
  }

  /**
   * Called before a packet's frames are handled, so the message that rides with the first repair is
   * kept. `gapAt`: the time this packet arrived, given when packets numbered below it are missing.
   * A sender starts repairs only once it hears of a loss, a round trip after it, and its first
   * repairs cover the messages sent since; a
   * decoder started by that first repair lacks the bytes of those that arrived meanwhile, so none of
   * its repairs is usable until the covered run has moved past them (bench chat at 10 % loss: a loss
   * in the first ~300 ms waited ~130 ms for repairs that could not help, and held the messages after
   * it). Started at the first gap instead, it keeps them from the lost one on.
   */
  prepare(hasRepair: boolean, gapAt?: number): void {
    if (this.decoder === undefined && (gapAt !== undefined || hasRepair)) {
      this.decoder = new RepairDecoder(
        (id) => this.reassembly.isWhole(id),
        () => this.reassembly.firstMissing(),
      );
      // A decoder started by a gap is dropped if no repair follows it.
      if (gapAt !== undefined) this.lastRepairAt = gapAt;
      this.gapFirstId = hasRepair ? undefined : -1;
    }
  }

  /** A whole small message arrived (not a duplicate). */
  onWholeMessage(id: number, data: Uint8Array): void {
    if (this.decoder === undefined) return;
    if (this.gapFirstId !== undefined) {
      if (this.gapFirstId < 0) this.gapFirstId = id;
      else if (id > this.gapFirstId + KEEP_SPAN) {
        this.decoder = undefined;
        this.gapFirstId = undefined;
        return;
      }
    }
    this.accept(this.decoder.messageArrived(id, data));
  }

  /** A REPAIR frame arrived in packet `pn`. */
  onRepair(now: number, pn: number, f: RepairFrame): void {
    this.lastRepairAt = now;
    this.gapFirstId = undefined;
    if (this.decoder !== undefined) this.accept(this.decoder.repairArrived(pn, f));
  }

  /** Writes the owed MESSAGE_ACK (the first message still missing) if it fits. */
  writeMessageAckIfDue(w: PacketWriter): void {
    if (this.messageAcksDue > 0 && w.room() >= MESSAGE_ACK_ROOM) {
      writeMessageAck(w, this.reassembly.firstMissing());
      this.messageAcksDue--;
    }
  }

  private accept(recovered: readonly RecoveredMessage[]): void {
    for (const m of recovered) {
      const r = this.reassembly.accept({ type: 'fragment', messageId: m.id, messageLength: m.data.length, offset: 0, data: m.data });
      if (r !== 'new') continue;
      this.messageAcksDue = MESSAGE_ACK_SENDS;
      this.recovered++;
    }
  }
}
