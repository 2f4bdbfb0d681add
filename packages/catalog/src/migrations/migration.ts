import type { Kysely } from 'kysely';

/**
 * One schema step. Migrations are never edited once released: a catalog at version N was made by exactly
 * migrations 1..N, and the next version is a new file. `up` runs inside the transaction that also records the
 * new version, so a failed step leaves the catalog at the previous version.
 */
export interface Migration {
  version: number;
  name: string;
  /** Kysely<unknown>: a migration sees the schema of its own time, not today's table interfaces. */
  up(db: Kysely<unknown>): Promise<void>;
}
