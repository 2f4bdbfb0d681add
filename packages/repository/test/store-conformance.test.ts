import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { storeConformance } from '../src/store/conformance.js';
import { LocalStore } from '../src/store/local.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('LocalStore conformance', () => {
  for (const [name, check] of Object.entries(storeConformance)) {
    it(name, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'lb-store-'));
      dirs.push(dir);
      await check(new LocalStore(dir));
    });
  }
});
