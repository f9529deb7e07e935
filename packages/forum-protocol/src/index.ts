/**
 * forum-protocol: the forum's request/reply codec (io-ts), the typed-line
 * grammar shared by client and server, the command handlers and login state
 * machine, and the stores (in-memory and data-directory). See README.md.
 * @packageDocumentation
 */
export * from './protocol/limits.js';
export * from './store/thread-limits.js';
export * from './store/thread-share.js';
export * from './protocol/commands.js';
export * from './protocol/messages.js';
export * from './protocol/codec.js';
export * from './protocol/encoded-lines-cache.js';
export * from './protocol/names.js';
export * from './protocol/grammar.js';
export * from './protocol/program-arguments.js';
export * from './protocol/terminal-text.js';
export * from './process/standard-streams.js';
export * from './store/system-error-code.js';
export * from './store/errors.js';
export * from './store/command-deadline.js';
export * from './store/thread.js';
export * from './store/store.js';
export { type ThreadIncarnation, threadGone } from './store/thread-incarnations.js';
export * from './file-store/credentials.js';
export * from './store/memory-store.js';
export * from './file-store/file-store.js';
export * from './file-store/no-hard-links.js';
export * from './store/identity-store.js';
export * from './store/session.js';
export * from './transfer/transfer-tokens.js';
export * from './transfer/upload-slots.js';
export * from './handlers/reply-cache.js';
export * from './handlers/handlers.js';
export * from './handlers/auth.js';
export * from './handlers/password-hash.js';
export { Semaphore } from './concurrency/semaphore.js';
export * from './limits/rate-limit.js';
export * from './handlers/throttle-counts.js';
export * from './limits/host-of.js';
export * from './limits/sliding-window-log.js';
export * from './limits/host-window-log.js';
export * from './file-store/write-budget.js';
export * from './store/upload-share.js';
export * from './store/origin-shares.js';
export * from './limits/token-buckets.js';
export * from './handlers/account-policy.js';
export { createKeyedMutex, type KeyedMutex } from './concurrency/keyed-mutex.js';
export { readHeaderLines } from './transfer/read-header.js';
export * from './transfer/transfer-keys.js';
export * from './transfer/record-framing.js';
export * from './transfer/secure-transfer-channel.js';
export * from './transfer/session-exporter.js';
export * from './transfer/transfer-refusals.js';
export * from './client/known-hosts.js';
// The driver-free part of forum-protocol/postgres: what a server's usage text quotes, without loading the driver.
export { DEFAULT_POSTGRES_TIMEOUTS, type PostgresTimeouts } from './postgres-store/postgres-timeout-defaults.js';
