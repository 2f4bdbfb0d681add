import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApi } from '@lifeboat/api';
import { Appliance } from '@lifeboat/appliance';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain script, no declarations
import { matrix } from '../scripts/permission-matrix.mjs';

/** docs/api.md publishes the roles' matrix and every route's permission; both must say what the code does. */
const doc = readFileSync(join(import.meta.dirname, '../docs/api.md'), 'utf8');

describe('docs/api.md against the code', () => {
  it('the permission matrix is the one ROLE_PERMISSIONS makes (node scripts/permission-matrix.mjs writes it)', () => {
    const published = doc.split('<!-- permissions:start -->\n')[1]?.split('\n<!-- permissions:end -->')[0];
    expect(published).toBe(matrix());
  });

  it("the routes table names every route of the OpenAPI description with the route's permission", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-matrix-'));
    const appliance = await Appliance.open({ dataDir: dir });
    try {
      const api = await buildApi({ appliance });
      const spec = api.swagger() as { paths: Record<string, Record<string, { 'x-permission'?: string }>> };
      const fromCode = Object.entries(spec.paths)
        .flatMap(([path, ops]) =>
          Object.entries(ops).map(([method, op]) => `${method.toUpperCase()} ${path} ${op['x-permission']}`),
        )
        .filter((row) => !row.startsWith('HEAD '))
        .sort();
      const fromDoc = [...doc.matchAll(/^\| `(GET|POST|PUT|PATCH|DELETE) ([^`]+)` \| `?([a-z.]+)`?/gm)]
        .map((m) => `${m[1]} ${m[2]} ${m[3]}`)
        .sort();
      expect(fromDoc).toEqual(fromCode);
      await api.close();
    } finally {
      await appliance.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
