import type { DiskQuota } from './disk-quota.js';

/** The first piece an upload reserves (or its whole size, if smaller). */
export const FIRST_RESERVATION_BYTES = 1024 * 1024;
/** The largest piece an upload reserves ahead of its bytes. */
export const MAX_RESERVATION_AHEAD_BYTES = 32 * 1024 * 1024;

interface Piece {
  /** Offset in the file where the piece ends (it starts where the one before ends). */
  readonly end: number;
  readonly release: (part?: number) => void;
  readonly cancel: () => void;
}

/**
 * One upload's room on the disk, reserved as its bytes arrive rather than
 * all at its start: reserving the announced size for the whole upload let
 * one account announce 1 GiB per upload, send a byte now and then, and hold
 * every other user's uploads out ("disk nearly full"). The whole size must
 * fit when the upload starts (a file that cannot fit is refused before a byte
 * is sent), but only a first piece is held; each later piece is reserved as
 * the bytes reach it, and doubles up to {@link MAX_RESERVATION_AHEAD_BYTES},
 * so an upload holds at most about what it has sent, and at most 32 MiB
 * beyond it. Bytes are released from it as they land on disk, where the
 * quota measures them from then on (a whole piece at once would be counted
 * twice by a measurement it overlaps, and refuse an honest upload near the
 * quota). A piece that no longer fits ends the upload with the quota's reason.
 */
export class UploadReservation {
  private readonly pieces: Piece[] = [];
  private reservedEnd = 0;
  /** Bytes from the start of the file whose room was released (they are on disk). */
  private releasedEnd = 0;

  private constructor(
    private readonly quota: DiskQuota,
    private readonly size: number,
  ) {}

  /** Checks that `size` bytes fit now and reserves the first piece; or the line to refuse with. */
  static async start(quota: DiskQuota, size: number): Promise<{ readonly ok: true; readonly reservation: UploadReservation } | { readonly ok: false; readonly reason: string }> {
    const reservation = new UploadReservation(quota, size);
    const first = Math.min(size, FIRST_RESERVATION_BYTES);
    const grant = await quota.reserve(size, first);
    if (!grant.ok) return grant;
    reservation.add(first, grant);
    return { ok: true, reservation };
  }

  /** Reserves room so that the first `end` bytes of the file are covered; the line to refuse with if not. */
  async cover(end: number): Promise<string | undefined> {
    const target = Math.min(end, this.size);
    while (this.reservedEnd < target) {
      const piece = Math.min(this.size - this.reservedEnd, Math.max(target - this.reservedEnd, Math.min(MAX_RESERVATION_AHEAD_BYTES, this.reservedEnd)));
      const grant = await this.quota.reserve(piece, piece, `this file needs ${piece} more (of its ${this.size})`);
      if (!grant.ok) return grant.reason;
      this.add(piece, grant);
    }
    return undefined;
  }

  /** The first `end` bytes are on disk: their room is released. */
  written(end: number): void {
    while (this.pieces.length > 0 && this.releasedEnd < end) {
      const p = this.pieces[0] as Piece;
      const upTo = Math.min(p.end, end);
      p.release(upTo - this.releasedEnd);
      this.releasedEnd = upTo;
      if (upTo === p.end) this.pieces.shift();
    }
  }

  /**
   * The upload ended (committed or not): the room still held goes. Its bytes were never written
   * ({@link written} released those as they landed), so they are not counted as stored: the room of an
   * upload stopped early is free at once, not at the quota's next measurement.
   */
  release(): void {
    for (const p of this.pieces.splice(0)) p.cancel();
  }

  /** Bytes reserved and not yet released. */
  get held(): number {
    return this.pieces.length === 0 ? 0 : this.reservedEnd - this.releasedEnd;
  }

  private add(bytes: number, grant: Pick<Piece, 'release' | 'cancel'>): void {
    this.pieces.push({ end: this.reservedEnd + bytes, release: grant.release, cancel: grant.cancel });
    this.reservedEnd += bytes;
  }
}
