import type { Kysely } from 'kysely';
import type { CatalogDatabase } from '../schema.js';

/** The executor the stores run on: the catalog itself, or a transaction over it (Transaction extends Kysely). */
export type Db = Kysely<CatalogDatabase>;

/** A UNIQUE or PRIMARY KEY violation, as SQLite (better-sqlite3) and PostgreSQL (pg: SQLSTATE 23505) report it. */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}

/**
 * A FOREIGN KEY violation (a row naming a parent that does not exist), as SQLite (better-sqlite3) and
 * PostgreSQL (SQLSTATE 23503) report it.
 */
export function isForeignKeyViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || code === '23503';
}

/** Row counts arrive as bigint (Kysely results) or, from COUNT(*), as number or string depending on the driver. */
export function toCount(n: bigint | number | string | undefined): number {
  return Number(n ?? 0);
}
