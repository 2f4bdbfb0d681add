import { migration001 } from './001-users-and-login.js';
import { migration002 } from './002-events-and-idempotency.js';
import { migration003 } from './003-sessions-and-tasks.js';
import { migration004 } from './004-accounts-and-inventory.js';
import { migration005 } from './005-policies-and-restore-points.js';
import { migration006 } from './006-restore-point-series.js';
import type { Migration } from './migration.js';

export type { Migration } from './migration.js';

/** In order; migration i has version i + 1. */
export const MIGRATIONS: readonly Migration[] = [
  migration001,
  migration002,
  migration003,
  migration004,
  migration005,
  migration006,
];

/** The schema version this build writes; a catalog above it is refused (CATALOG_TOO_NEW). */
export const LATEST_SCHEMA_VERSION = MIGRATIONS.length;
