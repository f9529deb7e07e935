import { PerUserCount } from './per-user-count.js';

/** Downloads one user may have running at once, on one server. */
export const MAX_DOWNLOADS_PER_USER = 4;

/**
 * Counts each user's downloads, from the redeemed token to the connection's
 * close (its tail included: until then the kernel holds up to `tcp_wmem`'s
 * maximum for it), or to its store's refusal (nothing of the file sent).
 * As for uploads, a token is spent once its connection starts, so without
 * this one account held as many downloads as its hosts had transfer
 * connections (16 a host, 256 an IPv6 /48, all 512 of the server's), each
 * some 3–4 MiB of the kernel's memory for as long as its receiver keeps the
 * pace (attack round 34, `attack/round34-download-slots.ts`). Per server,
 * in its memory: servers sharing a database allow a user this many on each.
 */
export class DownloadsPerUser extends PerUserCount {
  constructor(max = MAX_DOWNLOADS_PER_USER) {
    super(max);
  }

  /** The refusal line for a user at the limit (sealed: the token was valid). */
  get refusal(): string {
    return `too many downloads at once: a user may receive at most ${this.max} at a time`;
  }
}
