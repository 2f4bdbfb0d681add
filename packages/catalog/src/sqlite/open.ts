import Database from 'better-sqlite3';
import { Kysely, sql } from 'kysely';
import { kyselyCatalog } from '../catalog.js';
import type { CatalogDatabase } from '../schema.js';
import type { Catalog } from '../types.js';
import { backupSqlite } from './backup.js';
import { ImmediateSqliteDialect, withStatementCache } from './dialect.js';
import { openError } from './errors.js';
import { createPrivate } from './files.js';
import { inspectCatalog } from './inspect.js';
import { migrateSqlite } from './migrate.js';

export interface SqliteCatalogOptions {
  /**
   * Open without writing anything: no migration, no journal-mode change. For `backup-catalog` from a second
   * process while the appliance runs. An older schema is allowed (it can be copied); a newer one is refused.
   */
  readonly?: boolean;
  /** Run pending migrations at open (default true; ignored when readonly). */
  migrate?: boolean;
}

/**
 * Opens (creating it if needed, unless readonly) the SQLite catalog `file`. Every failure to open is a
 * CatalogError: CATALOG_CORRUPT, CATALOG_TOO_NEW or CATALOG_UNREADABLE, the SQLite error as its cause.
 */
export async function openSqliteCatalog(file: string, options: SqliteCatalogOptions = {}): Promise<Catalog> {
  const readonly = options.readonly ?? false;
  let raw: Database.Database | undefined;
  try {
    if (!readonly) createPrivate(file);
    // timeout = busy_timeout: wait up to 5 s for another connection's lock instead of failing with SQLITE_BUSY.
    raw = new Database(file, { readonly, fileMustExist: readonly, timeout: 5000 });
    inspectCatalog(raw, file);
    if (!readonly) {
      // WAL: readers (the API, an online backup) never wait for the writer. NORMAL is durable in WAL mode
      // except for the last transactions before a power loss, and never corrupts.
      raw.pragma('journal_mode = WAL');
      raw.pragma('synchronous = NORMAL');
    }
    raw.pragma('foreign_keys = ON');
    const db = new Kysely<CatalogDatabase>({
      dialect: new ImmediateSqliteDialect({ database: withStatementCache(raw) }),
    });
    if (!readonly && options.migrate !== false) await migrateSqlite(db as Kysely<unknown>, file);
    return kyselyCatalog(db, {
      async schemaVersion() {
        const { rows } = await sql<{ user_version: number }>`pragma user_version`.execute(db);
        return rows[0]?.user_version ?? 0;
      },
      backupTo: (target) => backupSqlite(file, target),
      close: () => db.destroy(),
    });
  } catch (err) {
    raw?.close();
    throw openError(file, err);
  }
}
