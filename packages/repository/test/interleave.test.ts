/**
 * Deterministic interleavings of backups, forget and prune, in one process, driven by the checkpoint hook
 * (src/crash.ts): one operation is paused at a named step while others run, as separate processes would (each
 * has its own Repository object; all share one test clock and the index cache folder of the host). After each
 * case every restore point, old and new, restores byte-identical, check is clean, and a further prune cycle
 * deletes only garbage. Runs on every store of storeFactories().
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { backupImage } from '../src/backup.js';
import { forget } from '../src/forget.js';
import { PLANS_PREFIX, SESSIONS_PREFIX } from '../src/format.js';
import type { Manifest } from '../src/manifest.js';
import { type PlanRecord, type PruneReport, prune } from '../src/prune.js';
import type { Repository } from '../src/repository.js';
import { BackupSession, SESSION_MS } from '../src/sessions.js';
import { tempDir } from './helpers.js';
import {
  CheckpointControl,
  type ClockedStore,
  changeLayout,
  type Expected,
  type ImageLayout,
  initRepo,
  listKeys,
  openAgain,
  type StoreFactory,
  type StoreTarget,
  storeFactories,
  TestClock,
  untilPaused,
  verifyRepository,
  writeLayout,
} from './maintenance-helpers.js';

const tmp = tempDir('lb-inter-');
const factories = storeFactories();
afterAll(async () => {
  tmp.cleanup();
  for (const f of factories) await f.dispose();
});

const GRACE = 10 * 60_000;
const MARGIN = 60_000;
const PRUNE = { graceMs: GRACE, safetyMarginMs: MARGIN };

/** X: four random blocks, a hole, a compressible block. Y: X with blocks 0 and 1 changed. K: a keeper. */
const X: ImageLayout = { blocks: ['x-0', 'x-1', 'x-2', null, 'x-3', 'text:x'], tail: 100_000 };
const Y = changeLayout(X, { 0: 'y-0', 1: 'y-1' });
const K: ImageLayout = { blocks: ['k-0', null, 'k-1'] };

let worlds = 0;
const images = new Map<string, { path: string; sha: string }>();

/** The image of that name (written once, shared by every case: images are only read). */
function image(name: string, layout: ImageLayout): { path: string; sha: string } {
  let img = images.get(name);
  if (!img) {
    const path = join(tmp.path, `${name}.img`);
    img = { path, sha: writeLayout(path, layout) };
    images.set(name, img);
  }
  return img;
}

/** One repository, its clock, and the restore points it must hold. */
class World {
  readonly expected: Expected = new Map();
  /** Results of the preparation, for the cases that start from a copy. */
  readonly named = new Map<string, Manifest>();
  planId: string | undefined;
  private constructor(
    readonly factory: StoreFactory,
    readonly target: StoreTarget,
    readonly dir: string,
    readonly clock: TestClock,
    readonly cache: string,
    readonly store: ClockedStore,
    /** The maintenance process (forget, prune). */
    readonly repo: Repository,
  ) {}

  static async create(factory: StoreFactory): Promise<World> {
    const dir = join(tmp.path, `w${worlds++}`);
    mkdirSync(dir, { recursive: true });
    const clock = new TestClock();
    const cache = join(dir, 'cache');
    const target = await factory.create('interleave');
    const { repo, store } = await initRepo(target, clock, cache);
    return new World(factory, target, dir, clock, cache, store, repo);
  }

  /** An independent copy of this world: same objects (and their times), clock, expected points. */
  async copy(): Promise<World> {
    const dir = join(tmp.path, `w${worlds++}`);
    mkdirSync(dir, { recursive: true });
    const clock = new TestClock(this.clock.t);
    const cache = join(dir, 'cache');
    const target = await this.factory.copy(this.target, 'interleave');
    const store = this.store.fork(target.store, clock);
    const w = new World(this.factory, target, dir, clock, cache, store, await openAgain(store, clock, cache));
    for (const [k, v] of this.expected) w.expected.set(k, v);
    for (const [k, v] of this.named) w.named.set(k, v);
    w.planId = this.planId;
    return w;
  }

  /** Another process's Repository. */
  process(): Promise<Repository> {
    return openAgain(this.store, this.clock, this.cache);
  }

  /** A backup in its own process; once it succeeds, its restore point is expected to restore. */
  async backup(
    name: string,
    layout: ImageLayout,
    options: { parent?: Manifest; changed?: number[]; resource?: string } = {},
  ): Promise<Manifest> {
    const img = image(name, layout);
    const repo = await this.process();
    const m = await backupImage(repo, {
      disks: [{ name: 'd', path: img.path, ...(options.changed ? { changedBlocks: options.changed } : {}) }],
      resource: { id: options.resource ?? name[0]!, kind: 'image' },
      ...(options.parent ? { parent: options.parent.id } : {}),
      workers: 1,
    });
    this.expected.set(m.id, { d: img.sha });
    return m;
  }

  async forget(...points: Manifest[]): Promise<void> {
    await forget(this.repo, { ids: points.map((p) => p.id) });
    for (const p of points) this.expected.delete(p.id);
  }

  prune(): Promise<PruneReport> {
    return prune(this.repo, PRUNE);
  }

  async plans(): Promise<PlanRecord[]> {
    return (await this.repo.listMeta<PlanRecord>(PLANS_PREFIX)).items.map((i) => i.value);
  }

  verify(readData = false): Promise<void> {
    return verifyRepository(this.repo, this.expected, join(this.dir, 'restored'), {
      readData,
      restore: 'reader',
    });
  }

  /**
   * Runs a full prune cycle (plan, grace, completion), then verifies (reading every pack): whatever the cycle and
   * the case deleted was garbage. No plan is left waiting.
   */
  async settle(): Promise<void> {
    await this.prune();
    this.clock.advance(GRACE + MARGIN);
    const r = await this.prune();
    expect(r.waiting).toEqual([]);
    await this.verify(true);
  }
}

/** Prepared repositories, made once per store factory and copied by each case. */
class Bases {
  private made = new Map<string, Promise<World>>();
  constructor(private readonly factory: StoreFactory) {}
  private base(name: string, make: (w: World) => Promise<void>): Promise<World> {
    let p = this.made.get(name);
    if (!p) {
      p = World.create(this.factory).then(async (w) => {
        await make(w);
        return w;
      });
      this.made.set(name, p);
    }
    return p.then((w) => w.copy());
  }
  /** k (a keeper), p0 = full X, p1 = incremental Y on p0. */
  three(): Promise<World> {
    return this.base('three', async (w) => {
      await w.backup('k', K);
      const p0 = await w.backup('x', X);
      w.named.set('p0', p0);
      w.named.set('p1', await w.backup('y', Y.layout, { parent: p0, changed: Y.changed }));
    });
  }
  /** three(), p0 forgotten and a plan PL0 made: p0's tree pack (unused), p0's data pack (repacked). */
  planned(): Promise<World> {
    return this.base('planned', async (w) => {
      await w.backup('k', K);
      const p0 = await w.backup('x', X);
      w.named.set('p0', p0);
      w.named.set('p1', await w.backup('y', Y.layout, { parent: p0, changed: Y.changed }));
      await w.forget(p0);
      w.planId = (await w.prune()).planned?.plan;
      expect(await planReasons(w)).toMatchObject({ 'data unused': 0, 'data repacked': 1, 'tree unused': 1 });
    });
  }
  /** k and p0 = full X. */
  two(): Promise<World> {
    return this.base('two', async (w) => {
      await w.backup('k', K);
      w.named.set('p0', await w.backup('x', X));
    });
  }
}

/** Counts of the current plans' packs by "type reason". */
async function planReasons(w: World): Promise<Record<string, number>> {
  const out: Record<string, number> = {
    'data unused': 0,
    'data repacked': 0,
    'data unindexed': 0,
    'tree unused': 0,
    'tree repacked': 0,
    'tree unindexed': 0,
  };
  for (const p of await w.plans()) for (const x of p.packs) out[`${x.type} ${x.reason}`]!++;
  return out;
}

async function packsWithReason(w: World, reason: string): Promise<string[]> {
  return (await w.plans()).flatMap((p) => p.packs.filter((x) => x.reason === reason).map((x) => x.id));
}

const BACKUP_CHECKPOINTS = [
  'session:started',
  'backup:disk-done',
  'backup:data-pack-stored',
  'backup:tree-pack-stored',
  'backup:before-index',
  'backup:after-index',
  'backup:before-manifest',
  'backup:after-manifest',
] as const;

const PLAN_CHECKPOINTS = [
  'lease:acquired',
  'prune:after-mark',
  'prune:repack-pack-stored',
  'prune:repack-index-stored',
  'prune:before-plan',
  'prune:plan-stored',
  'lease:renewed',
] as const;

const COMPLETION_CHECKPOINTS = [
  'prune:after-mark',
  'lease:renewed', // completePlan renews before it deletes anything
  'prune:superseding-index-stored',
  'prune:superseded-index-deleted',
  'prune:pack-deleted',
  'prune:before-plan-delete',
  'prune:plan-completed',
] as const;

for (const factory of factories) {
  describe(`interleavings (${factory.name})`, () => {
    const bases = new Bases(factory);
    const ctl = new CheckpointControl();
    const reached = new Set<string>();
    const run = async (fn: () => Promise<void>) => {
      ctl.install();
      try {
        await fn();
      } finally {
        for (const s of ctl.seen) reached.add(s);
        ctl.seen.length = 0;
        ctl.uninstall();
      }
    };

    for (const c of BACKUP_CHECKPOINTS) {
      it(`a backup paused at ${c} while forget and prune plan, complete an older plan and plan again`, () =>
        run(async () => {
          const w = await bases.planned(); // PL0: p0's tree pack (unused), p0's data pack (repacked)
          const p1 = w.named.get('p1')!;
          w.clock.advance(MARGIN + 1000);

          // B starts after PL0: it must not deduplicate against PL0's packs
          const pause = ctl.pauseAt(c);
          const b = w.backup('x', X);
          await untilPaused(pause, b, `backup paused at ${c}`);
          await w.forget(p1);
          w.clock.advance(GRACE);
          const r2 = await w.prune(); // completes PL0 beside the paused backup, plans PL1
          expect(r2.completed.map((x) => x.plan)).toEqual([w.planId]);
          expect(r2.completed[0]!.packsDeleted).toBeGreaterThanOrEqual(2);
          expect(r2.planned).toBeDefined();
          w.clock.advance(GRACE + MARGIN);
          const r3 = await w.prune(); // PL1 waits for B, which started before it
          expect(r3.completed).toEqual([]);
          expect(r3.waiting.map((x) => x.plan)).toContain(r2.planned!.plan);
          expect(r3.waiting[0]!.reason).toMatch(
            /backup session .* started before the plan and is still running/,
          );
          pause.release();
          const mb = await b;
          // B stored again what only PL0's packs held: x-0, x-1 and its leaf at least
          expect(mb.disks[0]!.stats.newChunks).toBeGreaterThanOrEqual(2);
          const r4 = await w.prune(); // B ended: PL1 completes (sparing what B uses)
          expect(r4.completed.map((x) => x.plan)).toContain(r2.planned!.plan);
          await w.settle();
        }));
    }

    for (const c of PLAN_CHECKPOINTS) {
      it(`prune planning paused at ${c} while a full backup and an incremental on a point being forgotten run`, () =>
        run(async () => {
          const w = await bases.three();
          const p0 = w.named.get('p0')!;
          // an incremental on p0, started before p0 is forgotten, still running during prune
          const X2 = changeLayout(X, { 0: 'x2-0' });
          const b2Pause = ctl.pauseAt('backup:disk-done');
          const b2 = w.backup('x2', X2.layout, { parent: p0, changed: X2.changed });
          await untilPaused(b2Pause, b2, 'incremental backup');
          await w.forget(p0);

          const pause = ctl.pauseAt(c);
          const pr = w.prune();
          await untilPaused(pause, pr, `prune paused at ${c}`);
          // meanwhile: a full backup of the forgotten point's image runs from start to end
          const b1 = await w.backup('x', X);
          // retention cannot run beside prune
          await expect(forget(w.repo, { policy: { last: 1 } })).rejects.toMatchObject({ code: 'LEASE_HELD' });
          b2Pause.release();
          await b2;
          pause.release();
          const r1 = await pr;
          if (c.startsWith('prune:repack')) expect((await planReasons(w))['data repacked']).toBe(1);
          w.clock.advance(GRACE + MARGIN);
          const r2 = await w.prune();
          expect(r2.waiting).toEqual([]);
          if (r1.planned) expect(r2.completed.map((x) => x.plan)).toContain(r1.planned.plan);
          if (c === 'prune:plan-stored' || c === 'lease:renewed') {
            // b1 started after the plan: it stored again what only doomed packs held (x-0, x-1)
            expect(b1.disks[0]!.stats.newChunks).toBeGreaterThanOrEqual(2);
          } else if (c !== 'lease:acquired') {
            // b1 deduplicated against p0's packs before the plan doomed them: the plan spares them
            expect(b1.disks[0]!.stats.newChunks).toBe(0);
            expect(r2.completed[0]!.spared).toBeGreaterThan(0);
          }
          expect(b1.disks[0]!.stats.dataBlocks).toBe(5);
          await w.settle();
        }));
    }

    for (const c of COMPLETION_CHECKPOINTS) {
      it(`prune completion paused at ${c} while a full and an incremental backup run`, () =>
        run(async () => {
          const w = await bases.planned();
          const p1 = w.named.get('p1')!;
          const doomed = (await w.plans())[0]!.packs.length;
          w.clock.advance(GRACE + MARGIN);

          const pause = ctl.pauseAt(c);
          const pr = w.prune();
          await untilPaused(pause, pr, `prune paused at ${c}`);
          const b1 = await w.backup('x', X);
          const Y2 = changeLayout(Y.layout, { 2: 'y2-2' });
          await w.backup('y2', Y2.layout, { parent: p1, changed: Y2.changed });
          // a backup that starts while the plan exists stores again what only doomed packs hold
          if (c !== 'prune:plan-completed') expect(b1.disks[0]!.stats.newChunks).toBeGreaterThanOrEqual(2);
          pause.release();
          const r2 = await pr;
          expect(r2.completed.map((x) => x.plan)).toEqual([w.planId]);
          expect(r2.completed[0]!.packsDeleted).toBe(doomed);
          expect(r2.completed[0]!.spared).toBe(0);
          await w.settle();
        }));
    }

    it('a backup that starts after a plan does not deduplicate against its packs', () =>
      run(async () => {
        const w = await bases.two();
        const p0 = w.named.get('p0')!;
        await w.forget(p0);
        const r1 = await w.prune();
        expect(await planReasons(w)).toMatchObject({ 'data unused': 1, 'tree unused': 1 });
        w.clock.advance(MARGIN + 1000);
        const b = await w.backup('x', X);
        expect(b.disks[0]!.stats.newChunks).toBe(5); // every data block stored again
        w.clock.advance(GRACE);
        const r2 = await w.prune();
        expect(r2.completed).toMatchObject([{ plan: r1.planned!.plan, spared: 0 }]);
        expect(r2.completed[0]!.packsDeleted).toBe(r1.planned!.packs);
        await w.settle();
      }));

    it('a backup that started before the plan and ends after it makes the doomed blobs survive (spared)', () =>
      run(async () => {
        const w = await bases.two();
        const p0 = w.named.get('p0')!;
        await w.forget(p0);
        const pause = ctl.pauseAt('backup:disk-done');
        const b = w.backup('x', X);
        await untilPaused(pause, b, 'backup');
        const r1 = await w.prune(); // dooms p0's packs, which b deduplicated against
        expect(await planReasons(w)).toMatchObject({ 'data unused': 1, 'tree unused': 1 });
        const p0Packs = await packsWithReason(w, 'unused');
        w.clock.advance(GRACE + MARGIN);
        const waiting = await w.prune();
        expect(waiting.completed).toEqual([]);
        expect(waiting.waiting).toHaveLength(1);
        pause.release();
        const mb = await b;
        expect(mb.disks[0]!.stats.newChunks).toBe(0);
        const r2 = await w.prune();
        expect(r2.completed).toMatchObject([{ plan: r1.planned!.plan, spared: 2 }]);
        // p0's packs are b's now: no later plan names them
        const later = await packsWithReason(w, 'unused');
        expect(later.filter((id) => p0Packs.includes(id))).toEqual([]);
        await w.settle();
      }));

    it('an incremental backup that starts after a plan does not reuse parent blocks that only doomed packs hold', () =>
      run(async () => {
        // P1 deduplicated against the packs of forgotten P0 while a plan doomed them (the spared path). An
        // incremental B2 on P1 starts after the plan: it reuses P1's leaf entries by id, without asking whether
        // their packs are doomed. P1 is forgotten while B2 runs; the plan completes (B2 started after it, so it
        // does not wait) and deletes P0's packs: B2's restore point then names chunks that no longer exist.
        const w = await bases.two();
        const p0 = w.named.get('p0')!;
        await w.forget(p0);
        const pause1 = ctl.pauseAt('backup:disk-done');
        const b1 = w.backup('x', X);
        await untilPaused(pause1, b1, 'b1');
        await w.prune(); // PL dooms p0's packs; b1 already deduplicated against them
        pause1.release();
        const p1 = await b1;
        w.clock.advance(MARGIN + 1000);
        const X2 = changeLayout(X, { 0: 'x2-0' });
        const pause2 = ctl.pauseAt('backup:disk-done');
        const b2 = w.backup('x2', X2.layout, { parent: p1, changed: X2.changed });
        await untilPaused(pause2, b2, 'b2');
        await w.forget(p1);
        w.clock.advance(GRACE);
        await w.prune();
        pause2.release();
        await b2;
        await w.verify();
      }));

    it('two backups of the same new data at once, with a plan made and completed around them', () =>
      run(async () => {
        const w = await bases.two();
        const Z: ImageLayout = { blocks: ['z-0', 'z-1', null, 'text:z'] };
        const pause1 = ctl.pauseAt('backup:disk-done');
        const b1 = w.backup('z', Z);
        await untilPaused(pause1, b1, 'first backup');
        const pause2 = ctl.pauseAt('backup:disk-done');
        const b2 = w.backup('z', Z, { resource: 'z2' });
        await untilPaused(pause2, b2, 'second backup');
        await w.forget(w.named.get('p0')!);
        const r1 = await w.prune();
        expect(r1.planned).toBeDefined();
        pause1.release();
        const m1 = await b1;
        w.clock.advance(GRACE + MARGIN);
        expect((await w.prune()).waiting.map((x) => x.plan)).toContain(r1.planned!.plan); // b2 still runs
        pause2.release();
        const m2 = await b2;
        // neither saw the other's blobs (not indexed yet when each decided): both stored them
        expect(m1.disks[0]!.stats.newChunks).toBe(3);
        expect(m2.disks[0]!.stats.newChunks).toBe(3);
        const r2 = await w.prune();
        expect(r2.completed.map((x) => x.plan)).toContain(r1.planned!.plan);
        await w.settle();
      }));

    it('an incremental backup whose parent was just forgotten fails cleanly and leaves nothing behind', () =>
      run(async () => {
        const w = await bases.three();
        const p1 = w.named.get('p1')!;
        // forget has deleted p1's manifest and still holds the lease
        const pause = ctl.pauseAt('forget:manifest-deleted');
        const f = forget(w.repo, { ids: [p1.id] });
        await untilPaused(pause, f, 'forget');
        w.expected.delete(p1.id);
        const Y2 = changeLayout(Y.layout, { 2: 'y2-2' });
        await expect(w.backup('y2', Y2.layout, { parent: p1, changed: Y2.changed })).rejects.toMatchObject({
          code: 'NOT_FOUND',
        });
        expect((await listKeys(w.repo.store, SESSIONS_PREFIX)).size).toBe(0); // the failed backup withdrew
        pause.release();
        await f;
        await w.settle();
      }));

    it('a killed backup’s session holds plans back until it expires, then stops counting', () =>
      run(async () => {
        const w = await bases.two();
        const p0 = w.named.get('p0')!;
        const dead = await BackupSession.start(await w.process()); // never ends: the process was killed
        await w.forget(p0);
        const r1 = await w.prune();
        w.clock.advance(GRACE + MARGIN);
        const r2 = await w.prune();
        expect(r2.waiting.map((x) => x.plan)).toEqual([r1.planned!.plan]);
        expect(r2.waiting[0]!.reason).toContain(dead.startedAt.toString(36));
        w.clock.advance(SESSION_MS);
        const r3 = await w.prune();
        expect(r3.completed.map((x) => x.plan)).toContain(r1.planned!.plan);
        await w.settle();
      }));

    it('prune converges: a repository without garbage gets no plan (small packs are not repacked forever)', async () => {
      // Prune counts a pack's header and trailer as unused bytes: a small pack whose every blob is in use (the
      // tree pack of a backup, or the copy that repacking makes of it) looks >= 25% unused and is repacked
      // again at every prune, without end.
      const w = await bases.two();
      const r = await w.prune();
      expect(r.planned).toBeUndefined();
      expect(await w.plans()).toEqual([]);
    });

    it('the plan report counts the live blobs that repacking copied', async () => {
      const w = await bases.three();
      await w.forget(w.named.get('p0')!);
      const r = await w.prune();
      // p0's data pack holds x-0..x-3 and the text block; p1 still uses x-2, x-3 and the text block
      expect(await planReasons(w)).toMatchObject({ 'data repacked': 1 });
      expect(r.planned?.repackedBlobs).toBeGreaterThanOrEqual(3);
    });

    it('reached every backup, prune and lease checkpoint at least once', () => {
      const all = [...BACKUP_CHECKPOINTS, ...PLAN_CHECKPOINTS, ...COMPLETION_CHECKPOINTS];
      expect(all.filter((c) => !reached.has(c))).toEqual([]);
    });
  });
}
