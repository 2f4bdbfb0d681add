import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CatalogError, isCatalogError } from '../src/index.js';

export function tempDir(prefix = 'lb-catalog-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** The CatalogError a promise rejects with (fails the test on anything else). */
export async function catalogError(p: Promise<unknown>): Promise<CatalogError> {
  const err = await p.then(
    () => new Error('expected a CatalogError, the call succeeded'),
    (e: unknown) => e,
  );
  if (!isCatalogError(err)) throw err;
  return err;
}
