/**
 * A sliding-window replay filter over packet numbers (as IPsec's and
 * WireGuard's): remembers which of the last `size` numbers below the highest
 * seen have been accepted. Check before opening, mark only after the packet
 * authenticated, so forged packets cannot move the window.
 */

import { placeIn, type KeyArena } from './key-arena.js';

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
  /** The bitmap at `bits[at…]`, one bit a packet number (the view may be the whole key arena's). */
  private readonly bits: Uint8Array;
  private readonly at: number;
  /**
   * Highest packet number accepted, or -1 before the first. Declared bare and set in the constructor:
   * a `= -1` field becomes a 16-byte box in every window once one peer's numbers pass 2^31.
   */
  private top: number;

  /** `arena`, if given, holds the bitmap (see {@link KeyArena}). */
  constructor(
    readonly size: number = DEFAULT_REPLAY_WINDOW,
    arena?: KeyArena,
  ) {
    if (!Number.isInteger(size) || size < 32 || size % 32 !== 0) throw new RangeError(`replay window size must be a multiple of 32, not ${size}`);
    const { bytes, at } = placeIn(arena, size / 8);
    this.bits = bytes;
    this.at = at;
    this.top = -1;
  }

  /** The highest packet number accepted so far (-1 before the first). */
  get highest(): number {
    return this.top;
  }

  /** The byte of `bits` that holds `pn`'s bit. */
  private byteOf(pn: number): number {
    return this.at + ((pn % this.size) >>> 3);
  }

  /** `pn`'s bit within its byte. */
  private static maskOf(pn: number): number {
    return 1 << (pn % 8);
  }

  /** Whether `pn` may be accepted; does not change the window. */
  check(pn: number): ReplayVerdict {
    if (pn > this.top) return 'fresh';
    if (this.top - pn >= this.size) return 'too-old';
    return ((this.bits[this.byteOf(pn)] ?? 0) & ReplayWindow.maskOf(pn)) !== 0 ? 'duplicate' : 'fresh';
  }

  /** Records `pn` as accepted (after it authenticated). Returns false, changing nothing, if `check` would not say fresh. */
  mark(pn: number): boolean {
    if (this.check(pn) !== 'fresh') return false;
    if (pn > this.top) {
      // Clear the slots between the old top and pn: they now stand for numbers not seen yet.
      const gap = Math.min(pn - this.top, this.size);
      for (let k = 1; k <= gap; k++) {
        const byte = this.byteOf(this.top + k);
        this.bits[byte] = (this.bits[byte] ?? 0) & ~ReplayWindow.maskOf(this.top + k);
      }
      this.top = pn;
    }
    const byte = this.byteOf(pn);
    this.bits[byte] = (this.bits[byte] ?? 0) | ReplayWindow.maskOf(pn);
    return true;
  }
}
