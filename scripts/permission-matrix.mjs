#!/usr/bin/env node
// Writes the roles' permission matrix into docs/api.md (between the permissions markers) from ROLE_PERMISSIONS.
// tests/permission-matrix.test.ts fails when the page and the code differ. Run after `npm run build`.
import { readFileSync, writeFileSync } from 'node:fs';
import { PERMISSIONS, ROLE_PERMISSIONS } from '@lifeboat/appliance';

const roles = Object.keys(ROLE_PERMISSIONS);
export function matrix() {
  const rows = PERMISSIONS.map(
    (p) => `| \`${p}\` | ${roles.map((r) => (ROLE_PERMISSIONS[r].includes(p) ? 'yes' : '-')).join(' | ')} |`,
  );
  return [
    `| permission | ${roles.join(' | ')} |`,
    `| --- |${roles.map(() => ' --- |').join('')}`,
    ...rows,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = new URL('../docs/api.md', import.meta.url);
  const doc = readFileSync(file, 'utf8');
  const [head, rest] = doc.split('<!-- permissions:start -->');
  const tail = rest.split('<!-- permissions:end -->')[1];
  writeFileSync(file, `${head}<!-- permissions:start -->\n${matrix()}\n<!-- permissions:end -->${tail}`);
  console.log('docs/api.md: permission matrix written');
}
