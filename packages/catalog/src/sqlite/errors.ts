import { LATEST_SCHEMA_VERSION } from '../migrations/index.js';
import { CatalogError } from '../types.js';

const RESTORE_HINT = 'restore it from a copy made with `lifeboat server backup-catalog`';

export function corrupt(file: string, detail: string, cause?: unknown): CatalogError {
  return new CatalogError(
    'CATALOG_CORRUPT',
    `catalog ${file} is damaged or not a lifeboat catalog (${detail}): ${RESTORE_HINT}`,
    { cause },
  );
}

export function tooNew(file: string, version: number): CatalogError {
  return new CatalogError(
    'CATALOG_TOO_NEW',
    `catalog ${file} has schema version ${version}; this lifeboat knows versions up to ${LATEST_SCHEMA_VERSION}: ` +
      'upgrade lifeboat (or restore a catalog backup made by this version)',
  );
}

/** Any failure while opening, as a CatalogError: no raw SqliteError leaves openSqliteCatalog. */
export function openError(file: string, err: unknown): CatalogError {
  if (err instanceof CatalogError) return err;
  const code = String((err as { code?: unknown } | null)?.code ?? '');
  const message = err instanceof Error ? err.message : String(err);
  // Extended codes (SQLITE_CORRUPT_INDEX, ...) share the primary code's prefix.
  if (code.startsWith('SQLITE_NOTADB') || code.startsWith('SQLITE_CORRUPT'))
    return corrupt(file, message, err);
  // CANTOPEN, READONLY, PERM, EACCES, a missing folder (better-sqlite3 throws a TypeError), I/O errors, and a
  // migration that failed for any other reason: the file is not usable as it is, and the message says why.
  return new CatalogError(
    'CATALOG_UNREADABLE',
    `cannot open catalog ${file}: ${message} (does it exist, and may this user read and write it and its folder?)`,
    { cause: err },
  );
}
