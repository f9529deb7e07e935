/** What the transfer server needs from the rest of the server, apart from its own module so that its upload and download halves import it one way. */
import type { ForumStore, TransferTokens, UploadSlots } from 'forum-protocol';
import type { DiskQuota } from './disk-quota.js';
import type { TransferActivity } from './transfer-activity.js';
import type { COMMAND_DEADLINE_MS, UPLOAD_COMMIT_DEADLINE_MS } from './server-defaults.js';
import type { UploadsPerUser } from './uploads-per-user.js';

/** What the TCP side needs from the rest of the server. */
export interface TransferServerDeps {
  readonly store: ForumStore;
  readonly tokens: TransferTokens;
  readonly activity: TransferActivity;
  readonly log: (line: string) => void;
  /** Largest file an upload may announce (`--max-upload-bytes`). */
  readonly maxUploadBytes: number;
  /** The data directory's quota (`--max-data-bytes`). */
  readonly quota: DiskQuota;
  /** Why new connections are refused right now (the server is over its memory budget), or `undefined`. */
  readonly overloaded: () => string | undefined;
  /** Where each user's uploads in progress are counted; default this process ({@link UploadsPerUser}). */
  readonly uploadSlots?: UploadSlots;
  /** The deadline of an upload's commit in the store, ms (`withCommandDeadline`; {@link UPLOAD_COMMIT_DEADLINE_MS} on PostgreSQL); `undefined`: none. */
  readonly commitDeadlineMs?: number;
  /**
   * The deadline of each store step before a transfer's body, ms (redeeming its token, taking its user's place among
   * uploads, starting the upload, opening the download: transfer-store-step.ts; {@link COMMAND_DEADLINE_MS} on
   * PostgreSQL); `undefined`: none.
   */
  readonly storeDeadlineMs?: number;
}
