import { type Kysely, sql } from 'kysely';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from '../migrations/index.js';
import { tooNew } from './errors.js';

/** 'LBCT' as a 32-bit integer: SQLite's header field for "which application's file is this" (offset 68). */
export const LIFEBOAT_APPLICATION_ID = 0x4c424354;

/**
 * Brings the catalog up to `target` (the latest by default; the fixture script stops at 1). Each migration runs
 * in its own transaction, which also sets `PRAGMA user_version` (it lives in the file header and commits or
 * rolls back with the rest), so a catalog is always exactly at some version.
 */
export async function migrateSqlite(db: Kysely<unknown>, file: string, target = LATEST_SCHEMA_VERSION) {
  for (const m of MIGRATIONS) {
    if (m.version > target) break;
    await db.connection().execute(async (conn) => {
      // IMMEDIATE takes the write lock before the version is read: two processes starting on one catalog
      // cannot both run the same step.
      await sql`begin immediate`.execute(conn);
      try {
        const current = await userVersion(conn);
        if (current > LATEST_SCHEMA_VERSION) throw tooNew(file, current);
        if (current === m.version - 1) {
          await m.up(conn);
          await sql.raw(`pragma user_version = ${m.version}`).execute(conn);
          if (m.version === 1)
            await sql.raw(`pragma application_id = ${LIFEBOAT_APPLICATION_ID}`).execute(conn);
        }
        await sql`commit`.execute(conn);
      } catch (err) {
        await sql`rollback`.execute(conn);
        throw err;
      }
    });
  }
}

async function userVersion(db: Kysely<unknown>): Promise<number> {
  const { rows } = await sql<{ user_version: number }>`pragma user_version`.execute(db);
  return rows[0]?.user_version ?? 0;
}
