import { uploadSlotsOf, uploadSlotsRefusal, type UploadSlots } from 'forum-protocol';

/** Uploads one user may have running at once (on one server; over all of them with PostgreSQL). */
export const MAX_UPLOADS_PER_USER = 4;

/**
 * Counts each user's uploads in progress. A user's outstanding tokens are
 * capped (8), but a token is spent once its connection starts, so without
 * this one account could run as many uploads as its host had connections
 * (16 per host, any number of hosts), each holding disk room. In this
 * process's memory: servers sharing a database count in it instead
 * (`createPostgresUploadSlots`).
 */
export class UploadsPerUser {
  private readonly running = new Map<string, number>();

  constructor(private readonly max = MAX_UPLOADS_PER_USER) {}

  /** These counts as the transfer server's {@link UploadSlots} (never a store error). */
  slots(): UploadSlots {
    return uploadSlotsOf(this.max, (username) => this.start(username));
  }

  /** Starts an upload of `username`: the function that ends it, or `undefined` if the user is at the limit. */
  start(username: string): (() => void) | undefined {
    const n = this.running.get(username) ?? 0;
    if (n >= this.max) return undefined;
    this.running.set(username, n + 1);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const left = (this.running.get(username) ?? 1) - 1;
      if (left <= 0) this.running.delete(username);
      else this.running.set(username, left);
    };
  }

  /** The refusal line for a user at the limit. */
  get refusal(): string {
    return uploadSlotsRefusal(this.max);
  }
}
