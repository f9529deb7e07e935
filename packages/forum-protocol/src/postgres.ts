/**
 * forum-protocol/postgres: the forum's shared state in PostgreSQL (the store,
 * session leases, transfer tokens, login and account-creation counts, uploads
 * in progress), for several servers on one database.
 * A separate entry point so that the client never loads the database driver.
 * @packageDocumentation
 */
export { openPostgresStore, type PostgresStore, type PostgresStoreOptions } from './postgres-store/postgres-store.js';
export { createPostgresSessionRegistry, type PostgresSessionOptions, type PostgresSessionRegistry } from './postgres-store/postgres-sessions.js';
export { createPostgresTransferTokens, type PostgresTokensOptions } from './postgres-store/postgres-tokens.js';
export { createPostgresUploadSlots, type PostgresUploadSlots, type PostgresUploadSlotsOptions } from './postgres-store/postgres-upload-slots.js';
export { createPostgresThrottleCounts, type PostgresThrottleOptions } from './postgres-store/postgres-throttles.js';
export { migrate, SCHEMA_VERSION } from './postgres-store/postgres-schema.js';
export { DEFAULT_UPLOAD_CHUNK_DEADLINE_MS, UPLOAD_CHUNK_BYTES } from './postgres-store/postgres-upload.js';
export { defaultMaxUserUploadBytes, MIN_USER_UPLOAD_BYTES, UPLOAD_SHARE_DIVISOR } from './postgres-store/postgres-upload-share.js';
export { DEFAULT_POSTGRES_TIMEOUTS, type PostgresTimeouts } from './postgres-store/postgres-timeouts.js';
export { DOOMED_BATCH_CHUNKS, type DoomedUploadSweepOptions } from './postgres-store/postgres-doomed-uploads.js';
