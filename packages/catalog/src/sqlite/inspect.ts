import type BetterSqlite3 from 'better-sqlite3';
import { LATEST_SCHEMA_VERSION } from '../migrations/index.js';
import { corrupt, tooNew } from './errors.js';
import { LIFEBOAT_APPLICATION_ID } from './migrate.js';

/**
 * Refuses a file this build must not use: some other application's SQLite database, a catalog from a newer
 * lifeboat, or one that fails `PRAGMA quick_check` (O(size), fine for a catalog at start). Returns the schema
 * version. A file that is no SQLite database at all fails here too, on the first read (SQLITE_NOTADB).
 */
export function inspectCatalog(raw: BetterSqlite3.Database, file: string): number {
  const version = raw.pragma('user_version', { simple: true }) as number;
  const appId = raw.pragma('application_id', { simple: true }) as number;
  if (appId !== LIFEBOAT_APPLICATION_ID) {
    const objects = raw.prepare('select count(*) from sqlite_schema').pluck().get() as number;
    // A new, empty file is fine: migration 001 stamps it.
    if (appId !== 0 || version !== 0 || objects !== 0) {
      throw corrupt(file, 'a SQLite database of another application, not a lifeboat catalog');
    }
  }
  if (version > LATEST_SCHEMA_VERSION) throw tooNew(file, version);
  const problems = (raw.pragma('quick_check') as { quick_check: string }[]).map((r) => r.quick_check);
  if (problems.length !== 1 || problems[0] !== 'ok') {
    throw corrupt(file, `quick_check: ${problems.slice(0, 3).join('; ').slice(0, 300)}`);
  }
  return version;
}
