import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Enforces the package boundaries written in docs/architecture.md: each package imports only the packages of
 * ours the table allows, none of its forbidden modules, and no file of another package by relative path.
 */
const root = join(import.meta.dirname, '..');

interface Rule {
  pkg: string;
  allowed: string[];
  forbidden: string[];
}

function rules(): Rule[] {
  const doc = readFileSync(join(root, 'docs/architecture.md'), 'utf8');
  const table = doc.split('<!-- boundaries:start -->')[1]?.split('<!-- boundaries:end -->')[0];
  if (!table) throw new Error('docs/architecture.md has no boundaries table');
  const list = (cell: string) =>
    cell
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s && s !== '(none)');
  return table
    .split('\n')
    .filter((l) => l.startsWith('| @'))
    .map((l) => {
      const [pkg, allowed, forbidden] = l
        .split('|')
        .slice(1, 4)
        .map((c) => c.trim());
      return { pkg: pkg!, allowed: list(allowed!), forbidden: list(forbidden!) };
    });
}

function packages(): Map<string, string> {
  const out = new Map<string, string>();
  for (const dir of readdirSync(join(root, 'packages'))) {
    const pkg = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')) as {
      name: string;
    };
    out.set(pkg.name, join(root, 'packages', dir));
  }
  return out;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.(ts|mts|js|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts'))
    .map((e) => join(e.parentPath, e.name));
}

const IMPORT =
  /(?:^|[^.\w])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/gm;

function importsOf(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) out.push((m[1] ?? m[2] ?? m[3])!);
  return out;
}

describe('package boundaries (docs/architecture.md)', () => {
  const pkgs = packages();
  const table = rules();

  it('every package has a row in the table', () => {
    expect(table.map((r) => r.pkg).sort()).toEqual([...pkgs.keys()].sort());
  });

  it('the import scanner sees static, dynamic, re-export and side-effect imports', () => {
    const text =
      "import a from 'x1';\nimport { b } from \"x2\";\nexport * from 'x3';\nconst c = await import('x4');\nimport 'x5';";
    expect(importsOf(text)).toEqual(['x1', 'x2', 'x3', 'x4', 'x5']);
  });

  for (const rule of table) {
    it(`${rule.pkg} imports only what it may`, () => {
      const dir = pkgs.get(rule.pkg);
      expect(dir, `${rule.pkg} exists`).toBeDefined();
      const violations: string[] = [];
      for (const file of sourceFiles(join(dir!, 'src'))) {
        for (const spec of importsOf(readFileSync(file, 'utf8'))) {
          const where = `${relative(root, file)} imports ${spec}`;
          if (
            spec.startsWith('@lifeboat/') &&
            !rule.allowed.some((a) => spec === a || spec.startsWith(`${a}/`))
          ) {
            violations.push(`${where}: not allowed for ${rule.pkg}`);
          }
          if (spec.startsWith('@lifeboat/') && spec.split('/').length > 2)
            violations.push(`${where}: deep import`);
          if (rule.forbidden.some((f) => spec === f || spec.startsWith(f)))
            violations.push(`${where}: forbidden`);
          if (spec.startsWith('.') && !join(file, '..', spec).startsWith(dir!))
            violations.push(`${where}: leaves the package`);
        }
      }
      expect(violations).toEqual([]);
    });
  }
});
