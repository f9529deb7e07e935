import type { CongestionController } from './controller.js';

/** A constant window and no pacing: for tests and for links whose capacity is known. */
export class FixedWindow implements CongestionController {
  readonly name = 'fixed';

  constructor(private readonly bytes: number) {}

  window(): number {
    return this.bytes;
  }

  pacingRate(): number {
    return Number.POSITIVE_INFINITY;
  }

  onPacketSent(): void {}

  onAck(): void {}

  onLoss(): void {}

  onSpuriousLoss(): void {}
}
