import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandbox } from './dist/sandbox.js';
import { seedDemo } from './dist/seed/index.js';

const d = mkdtempSync(join(tmpdir(), 'prof-'));
const sb = await startSandbox({ dataDir: d });
const t = performance.now();
const env = await seedDemo(sb);
console.log('seed', (performance.now() - t).toFixed(0), env.seconds);
await sb.close();
rmSync(d, { recursive: true, force: true });
