import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * Disaster recovery must not depend on the appliance: the repository commands never load the catalog's SQLite
 * driver, the web stack or the appliance's packages. Every module the CLI process resolves is traced.
 */
const root = join(import.meta.dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'lifeboat-lazy-'));
const HEAVY = [
  'better-sqlite3',
  'kysely',
  'fastify',
  '@fastify/',
  '@lifeboat/api',
  '@lifeboat/appliance',
  '@lifeboat/catalog',
];

function traced(
  args: string[],
  env: Record<string, string> = {},
): { code: number | null; modules: string[] } {
  const trace = join(work, `trace-${Math.random().toString(36).slice(2)}`);
  writeFileSync(trace, '');
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      join(root, 'tests/fixtures/trace-imports.mjs'),
      join(root, 'packages/cli/bin/lifeboat.js'),
      ...args,
    ],
    { env: { PATH: process.env.PATH ?? '', HOME: work, TRACE_IMPORTS: trace, ...env }, encoding: 'utf8' },
  );
  return { code: r.status, modules: readFileSync(trace, 'utf8').split('\n').filter(Boolean) };
}

const heavy = (modules: string[]) => modules.filter((m) => HEAVY.some((h) => m === h || m.startsWith(h)));

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the repository commands load no appliance code', () => {
  it('repo init, image backup, points and --help resolve none of SQLite, fastify or the appliance packages', () => {
    const env = { LIFEBOAT_REPO: join(work, 'repo'), LIFEBOAT_PASSWORD: 'lazy-load-test-pw' };
    writeFileSync(join(work, 'disk.img'), Buffer.alloc(1024 * 1024, 7));
    const runs = [
      traced(['repo', 'init'], env),
      traced(['image', 'backup', join(work, 'disk.img'), '--disk', 'root'], env),
      traced(['points'], env),
      traced(['--help']),
    ];
    for (const run of runs) {
      expect(run.code).toBe(0);
      expect(run.modules.length).toBeGreaterThan(10); // the tracer saw the CLI's own modules
      expect(heavy(run.modules)).toEqual([]);
    }
  });

  it('the tracer does see them where they are used (lifeboat server backup-catalog)', () => {
    const run = traced(['server', 'backup-catalog', join(work, 'copy.db'), '--data', join(work, 'none')]);
    expect(heavy(run.modules)).toContain('better-sqlite3');
  });
});
