import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { backupImage } from '../src/backup.js';
import { forget } from '../src/forget.js';
import { prune } from '../src/prune.js';
import {
  CheckpointControl, changeLayout, type Expected, initRepo, localFolderFactory, openAgain, randomLayout,
  TestClock, untilPaused, verifyRepository, writeLayout,
} from './maintenance-helpers.js';
import { tempDir } from './helpers.js';

const tmp = tempDir('lb-inter-');
const factory = localFolderFactory();
afterAll(async () => { tmp.cleanup(); await factory.dispose(); });

describe('scratch', () => {
  it('incremental after plan with doomed parent chunks', async () => {
    const clock = new TestClock();
    const cache = join(tmp.path, 'cache1');
    const target = await factory.create('bug');
    const { repo, store } = await initRepo(target, clock, cache);
    const X = randomLayout('x', 6);
    const xSha = writeLayout(join(tmp.path, 'x.img'), X);
    const { layout: X2, changed } = changeLayout(X, { 0: 'x2-0' });
    const x2Sha = writeLayout(join(tmp.path, 'x2.img'), X2);
    const disk = (p: string, changedBlocks?: number[]) => [{ name: 'd', path: join(tmp.path, p), ...(changedBlocks ? { changedBlocks } : {}) }];
    const p0 = await backupImage(repo, { disks: disk('x.img'), resource: { id: 'x', kind: 'image' }, workers: 1 });
    await forget(repo, { ids: [p0.id] });
    const ctl = new CheckpointControl().install();
    try {
      const repoB = await openAgain(store, clock, cache);
      const pause = ctl.pauseAt('backup:disk-done');
      const b1 = backupImage(repoB, { disks: disk('x.img'), resource: { id: 'x', kind: 'image' }, workers: 1 });
      await untilPaused(pause, b1, 'b1');
      const r1 = await prune(repo, { graceMs: 60_000, safetyMarginMs: 1000 });
      console.log(r1);
      pause.release();
      const p1 = await b1;
      clock.advance(2000);
      const repoC = await openAgain(store, clock, cache);
      const pause2 = ctl.pauseAt('backup:disk-done');
      const b2 = backupImage(repoC, { disks: disk('x2.img', changed), parent: p1.id, resource: { id: 'x', kind: 'image' }, workers: 1 });
      await untilPaused(pause2, b2, 'b2');
      await forget(repo, { ids: [p1.id] });
      clock.advance(61_000);
      const r2 = await prune(repo, { graceMs: 60_000, safetyMarginMs: 1000 });
      console.log(JSON.stringify(r2));
      pause2.release();
      const p2 = await b2;
      console.log(p2.disks[0]!.stats);
      const expected: Expected = new Map([[p2.id, { d: x2Sha }]]);
      await verifyRepository(repo, expected, join(tmp.path, 'scratch'));
      expect(xSha).toBeTruthy();
    } finally {
      ctl.uninstall();
    }
  });
});
