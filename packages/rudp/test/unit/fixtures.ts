/**
 * Small stand-ins shared by the per-module unit tests: a packet writer of a
 * chosen payload room and the frames it holds, a congestion controller that
 * records what it is told, and a `PacketFate` that records acks and losses.
 */
import type { AckSample, CongestionController } from '../../src/core/congestion/controller.js';
import type { ConnectionHost } from '../../src/core/connection.js';
import type { EndpointEvent } from '../../src/core/events.js';
import type { PacketFate, SentPacket } from '../../src/core/recovery/sent-packet.js';
import { type Frame, parseFrames } from '../../src/wire/frame.js';
import { HEADER_SIZE, PacketType, PacketWriter, TRAILER_SIZE } from '../../src/wire/packet.js';

/** A DATA packet writer (four-byte packet number) with exactly `room` payload bytes free. */
export function writerWithRoom(room: number): PacketWriter {
  return new PacketWriter(new Uint8Array(HEADER_SIZE + room + TRAILER_SIZE), PacketType.Data, 7, 1, 4);
}

/** The frames written into `w` so far, parsed back by the wire parser (throws if they do not parse). */
export function framesIn(w: PacketWriter): Frame[] {
  const frames = parseFrames(w.buf.subarray(HEADER_SIZE, w.pos));
  if (frames === undefined) throw new Error('frames written do not parse');
  return frames;
}

/** Bytes written into `w`'s payload so far. */
export function payloadBytes(w: PacketWriter): number {
  return w.pos - HEADER_SIZE;
}

/** A congestion controller with fixed answers that records every call. */
export class RecordingController implements CongestionController {
  readonly name = 'recording';
  readonly sent: { now: number; bytes: number }[] = [];
  readonly acks: { now: number; sample: AckSample }[] = [];
  readonly losses: { now: number; lostBytes: number; bytesInFlight: number }[] = [];

  constructor(
    public windowBytes = 1_000_000,
    /** Bytes per ms (`Infinity`: no pacing). */
    public rate = Number.POSITIVE_INFINITY,
  ) {}

  window(): number {
    return this.windowBytes;
  }

  pacingRate(): number {
    return this.rate;
  }

  onPacketSent(now: number, bytes: number): void {
    this.sent.push({ now, bytes });
  }

  onAck(now: number, sample: AckSample): void {
    // The sample is rewritten for the next ACK: keep a copy.
    this.acks.push({ now, sample: { ...sample } });
  }

  onLoss(now: number, lostBytes: number, bytesInFlight: number): void {
    this.losses.push({ now, lostBytes, bytesInFlight });
  }

  readonly spurious: { now: number; bytes: number }[] = [];

  onSpuriousLoss(now: number, bytes: number): void {
    this.spurious.push({ now, bytes });
  }
}

/** A `PacketFate` that records the fate of every packet, in order. */
export class RecordingFate implements PacketFate {
  readonly ackedPns: number[] = [];
  readonly lostPns: number[] = [];
  /** Every loss with the time it was declared. */
  readonly lostAt: { now: number; pn: number }[] = [];

  acked(p: SentPacket): void {
    this.ackedPns.push(p.pn);
  }

  /** Packets declared lost as part of a run (`PacketFate.lost`'s `run`). */
  readonly runPns: number[] = [];

  lost(now: number, p: SentPacket, _silent?: boolean, run?: boolean): void {
    this.lostPns.push(p.pn);
    this.lostAt.push({ now, pn: p.pn });
    if (run === true) this.runPns.push(p.pn);
  }

  /** Packets declared lost that were acknowledged after all. */
  readonly spuriousPns: number[] = [];

  spurious(p: SentPacket): void {
    this.spuriousPns.push(p.pn);
  }
}

/** A connection's host that does nothing and records nothing (every peer host has room, randomness is 0). */
export class QuietHost implements ConnectionHost {
  emit(_event: EndpointEvent): void {}
  readable(): void {}
  wake(): void {}
  drawRandom(): number {
    return 0;
  }
  migrated(): void {}
  hostRoom(): boolean {
    return true;
  }
  pathValidation(): void {}
}
