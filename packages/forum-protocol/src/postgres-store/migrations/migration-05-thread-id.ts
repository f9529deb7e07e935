import type { Migration } from './migration.js';

/**
 * Migration 5: a thread's identity apart from its title. RMV frees a title and CRT may take it again at once: an UPD
 * token now names the thread row it was granted for (thread_id), so that its upload cannot land in a later
 * thread of the title, however late its bytes come. The id comes from a sequence, so no two threads (of one
 * title or not) ever share one; the threads already written are numbered here. A server of schema 4 still
 * running writes threads without naming the id (the default numbers them) and tokens without thread_id: a
 * server of this schema refuses such an upload token as invalid (it lives 60 s; the client asks again).
 * Both ALTERs take their table's exclusive lock: the old servers' writes wait for the migration. Each may
 * run again (IF NOT EXISTS), as migration 4's statements may, on a database marked older with its tables in place.
 */
export const migration5: Migration = [`ALTER TABLE threads ADD COLUMN IF NOT EXISTS id bigserial`, `ALTER TABLE transfer_tokens ADD COLUMN IF NOT EXISTS thread_id bigint`];
