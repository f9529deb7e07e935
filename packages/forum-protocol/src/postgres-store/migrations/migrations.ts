/**
 * The forum's migrations, in order: the Nth brings schema version N-1 to N
 * (`migrate`, postgres-schema.ts). Never edit a migration that has shipped:
 * append the next one, in a file of its own, list it here, and pin its
 * statements' hash in test/migration-pin.test.ts (which fails on an edit).
 */
import type { Migration } from './migration.js';
import { migration1 } from './migration-01-first-tables.js';
import { migration2 } from './migration-02-token-keys.js';
import { migration3 } from './migration-03-thread-size.js';
import { migration4 } from './migration-04-thread-counts.js';
import { migration5 } from './migration-05-thread-id.js';
import { migration6 } from './migration-06-shared-limits.js';
import { migration7 } from './migration-07-upload-bytes.js';
import { migration8 } from './migration-08-doomed-uploads.js';
import { migration9 } from './migration-09-limit-clock-step.js';
import { migration10 } from './migration-10-token-session.js';
import { migration11 } from './migration-11-limit-lock-order.js';
import { migration12 } from './migration-12-upload-leases.js';
import { migration13 } from './migration-13-uploader-index.js';
import { migration14 } from './migration-14-account-shares.js';
import { migration15 } from './migration-15-account-origins.js';
import { migration16 } from './migration-16-origin-levels.js';

/** Every migration, the first (version 1) first. */
export const MIGRATIONS: readonly Migration[] = [
  migration1,
  migration2,
  migration3,
  migration4,
  migration5,
  migration6,
  migration7,
  migration8,
  migration9,
  migration10,
  migration11,
  migration12,
  migration13,
  migration14,
  migration15,
  migration16,
];
