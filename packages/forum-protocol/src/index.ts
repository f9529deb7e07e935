/**
 * forum-protocol: the forum's request/reply codec (io-ts), the typed-line
 * grammar shared by client and server, the command handlers and login state
 * machine, and the stores (in-memory and data-directory). See README.md.
 * @packageDocumentation
 */
export * from './limits.js';
export * from './thread-limits.js';
export * from './commands.js';
export * from './messages.js';
export * from './codec.js';
export * from './names.js';
export * from './grammar.js';
export * from './errors.js';
export * from './thread.js';
export * from './store.js';
export { type ThreadIncarnation, threadGone } from './thread-incarnations.js';
export * from './credentials.js';
export * from './memory-store.js';
export * from './file-store.js';
export * from './identity-store.js';
export * from './session.js';
export * from './transfer-tokens.js';
export * from './reply-cache.js';
export * from './handlers.js';
export * from './auth.js';
export * from './password-hash.js';
export { Semaphore } from './semaphore.js';
export * from './rate-limit.js';
export * from './host-of.js';
export * from './sliding-window-log.js';
export * from './host-window-log.js';
export * from './write-budget.js';
export * from './token-buckets.js';
export * from './account-policy.js';
export { createKeyedMutex, type KeyedMutex } from './keyed-mutex.js';
export { readHeaderLines } from './read-header.js';
export * from './transfer-keys.js';
export * from './record-framing.js';
export * from './secure-transfer-channel.js';
export * from './session-exporter.js';
export * from './known-hosts.js';
