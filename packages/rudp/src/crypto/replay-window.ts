/**
 * A sliding-window replay filter over packet numbers (as IPsec's and
 * WireGuard's): remembers which of the last `size` numbers below the highest
 * seen have been accepted. Check before opening, mark only after the packet
 * authenticated, so forged packets cannot move the window.
 */

import type { KeyArena } from './key-arena.js';

/** The verdict on a packet number. */
export type ReplayVerdict = 'fresh' | 'duplicate' | 'too-old';

/**
 * Default width: 1024 packets (128 bytes a connection). A packet that far
 * behind the newest was declared lost long before (3 packets or 9/8 RTT) and
 * its data resent: refusing it costs nothing. quinn's window is 128.
 */
export const DEFAULT_REPLAY_WINDOW = 1024;

/** A replay window of `size` packet numbers (a multiple of 32). */
export class ReplayWindow {
  private readonly bits: Uint32Array;
  /** Highest packet number accepted, or -1 before the first. */
  private top = -1;

  /** `arena`, if given, holds the bitmap (see {@link KeyArena}). */
  constructor(
    readonly size: number = DEFAULT_REPLAY_WINDOW,
    arena?: KeyArena,
  ) {
    if (!Number.isInteger(size) || size < 32 || size % 32 !== 0) throw new RangeError(`replay window size must be a multiple of 32, not ${size}`);
    this.bits = arena?.words(size / 32) ?? new Uint32Array(size / 32);
  }

  /** The highest packet number accepted so far (-1 before the first). */
  get highest(): number {
    return this.top;
  }

  private slot(pn: number): { word: number; mask: number } {
    const i = pn % this.size;
    return { word: i >>> 5, mask: 1 << (i & 31) };
  }

  /** Whether `pn` may be accepted; does not change the window. */
  check(pn: number): ReplayVerdict {
    if (pn > this.top) return 'fresh';
    if (this.top - pn >= this.size) return 'too-old';
    const { word, mask } = this.slot(pn);
    return ((this.bits[word] ?? 0) & mask) !== 0 ? 'duplicate' : 'fresh';
  }

  /** Records `pn` as accepted (after it authenticated). Returns false, changing nothing, if `check` would not say fresh. */
  mark(pn: number): boolean {
    if (this.check(pn) !== 'fresh') return false;
    if (pn > this.top) {
      // Clear the slots between the old top and pn: they now stand for numbers not seen yet.
      const gap = Math.min(pn - this.top, this.size);
      for (let k = 1; k <= gap; k++) {
        const { word, mask } = this.slot(this.top + k);
        this.bits[word] = (this.bits[word] ?? 0) & ~mask;
      }
      this.top = pn;
    }
    const { word, mask } = this.slot(pn);
    this.bits[word] = (this.bits[word] ?? 0) | mask;
    return true;
  }
}
