import { it } from 'vitest';
import { join } from 'node:path';
import { backupImage } from '../src/backup.js';
import { prune } from '../src/prune.js';
import { checkRepository } from '../src/check.js';
import { restoreDisk } from '../src/restore.js';
import { initRepo, openAgain, localFolderFactory, TestClock, writeLayout } from './maintenance-helpers.js';
import { tempDir } from './helpers.js';
it('debug', async () => {
  const t = tempDir(); const f = localFolderFactory(); const clock = new TestClock();
  let t0 = performance.now(); const lap = (s: string) => { const n = performance.now(); console.log(s, Math.round(n - t0)); t0 = n; };
  const { repo, store } = await initRepo(await f.create('d'), clock, join(t.path, 'c'));
  lap('init');
  writeLayout(join(t.path, 'x.img'), { blocks: ['x-0', 'x-1', 'x-2', null, 'x-3', 'text:x'], tail: 100_000 });
  lap('img');
  for (let i = 0; i < 3; i++) {
    const r2 = await openAgain(store, clock, join(t.path, 'c'));
    lap('open');
    const x = await backupImage(r2, { disks: [{ name: 'd', path: join(t.path, 'x.img') }], resource: { id: 'x', kind: 'image' }, workers: 1 });
    lap('backup');
    await prune(repo, {});
    lap('prune');
    await checkRepository(repo, { workers: 1 });
    lap('check');
    await checkRepository(repo, { workers: 1, readData: true });
    lap('check read');
    await restoreDisk(repo, x, 'd', join(t.path, `r${i}`), { workers: 1 });
    lap('restore');
  }
});
