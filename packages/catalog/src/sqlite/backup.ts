import { access, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { CatalogError, isCatalogError } from '../types.js';
import { openError } from './errors.js';
import { createPrivate } from './files.js';
import { inspectCatalog } from './inspect.js';

/**
 * Online copy of the catalog `source` to the new file `file`. It reads through its own read-only connection,
 * so it sees committed data only and neither waits for nor disturbs the appliance's transactions. The copy is
 * written beside `file`, checked, made durable, and only then renamed into place.
 */
export async function backupSqlite(source: string, file: string): Promise<void> {
  const target = resolve(file);
  await refuseExisting(target);
  const tmp = join(dirname(target), `.${basename(target)}.${process.pid}-${Date.now()}.tmp`);
  try {
    createPrivate(tmp);
    const src = new Database(source, { readonly: true, fileMustExist: true, timeout: 5000 });
    try {
      // The first step sizes the copy; the progress callback then asks for every page in one step, which
      // copies under a single read transaction: a consistent snapshot that writers (WAL) neither wait for nor
      // invalidate. Smaller steps restart whenever another connection writes, and may never finish.
      await src.backup(tmp, { progress: () => 0x7fffffff });
    } finally {
      src.close();
    }
    const copy = new Database(tmp, { fileMustExist: true });
    try {
      // One self-contained file (rollback journal, no -wal beside it); the appliance turns WAL back on at open.
      copy.pragma('journal_mode = DELETE');
      inspectCatalog(copy, tmp);
    } catch (err) {
      throw openError(tmp, err);
    } finally {
      copy.close();
    }
    const fd = await open(tmp, 'r+');
    // Durable before it takes the final name.
    await fd.sync().finally(() => fd.close());
    await refuseExisting(target);
    await rename(tmp, target);
    const dir = await open(dirname(target), 'r');
    await dir.sync().finally(() => dir.close());
  } catch (err) {
    await rm(tmp, { force: true });
    if (isCatalogError(err)) throw err;
    // e.g. a missing folder, a full disk: say which copy failed (better-sqlite3's messages name no file).
    throw new Error(`cannot back up catalog ${source} to ${target}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

async function refuseExisting(target: string): Promise<void> {
  const exists = await access(target).then(
    () => true,
    () => false,
  );
  if (exists) {
    throw new CatalogError(
      'CONFLICT',
      `${target} exists: a catalog backup never overwrites a file, choose a new name`,
    );
  }
}
