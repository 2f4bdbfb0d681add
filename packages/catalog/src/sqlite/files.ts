import { closeSync, constants, openSync } from 'node:fs';

/**
 * Creates `file` empty with mode 0600 unless it exists. SQLite would create a database (and later its -wal and
 * -shm, or -journal, which copy the database's mode) readable by everyone; catalogs and their copies hold
 * password hashes. An empty file is an empty database to SQLite.
 */
export function createPrivate(file: string): void {
  try {
    closeSync(openSync(file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}
