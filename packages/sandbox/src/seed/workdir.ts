import { mkdtempSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A scratch folder for generated trees and images. Memory-backed /dev/shm when it has room (writing and then
 * deleting a few hundred MiB there costs a fraction of what a journaled disk costs), the temp folder otherwise
 * (containers often give /dev/shm only 64 MiB).
 */
export function scratchDir(prefix: string, needBytes = 1 * 2 ** 30): string {
  try {
    const st = statfsSync('/dev/shm');
    if (st.bavail * st.bsize >= needBytes) return mkdtempSync(join('/dev/shm', prefix));
  } catch {
    // no /dev/shm here
  }
  return mkdtempSync(join(tmpdir(), prefix));
}
