import { uploadSlotsOf, uploadSlotsRefusal, type UploadSlots } from 'forum-protocol';
import { PerUserCount } from './per-user-count.js';

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
export class UploadsPerUser extends PerUserCount {
  constructor(max = MAX_UPLOADS_PER_USER) {
    super(max);
  }

  /** These counts as the transfer server's {@link UploadSlots} (never a store error). */
  slots(): UploadSlots {
    return uploadSlotsOf(this.max, (username) => this.start(username));
  }

  /** The refusal line for a user at the limit. */
  get refusal(): string {
    return uploadSlotsRefusal(this.max);
  }
}
