/**
 * Retention (forget by rules) with restic's semantics: last, hourly, daily, weekly (ISO), monthly, yearly,
 * within; grouping by resource and disk set; a policy that keeps nothing is refused. Then forget itself on a
 * repository: dry run, resource filter, ids, the lease. Restic's rules are in its
 * internal/restic/snapshot_policy.go (ApplyPolicy).
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isRepositoryError } from '../src/errors.js';
import { forget } from '../src/forget.js';
import { pointKey } from '../src/format.js';
import { MaintenanceLease } from '../src/lease.js';
import { encodeManifest, type Manifest } from '../src/manifest.js';
import type { Repository } from '../src/repository.js';
import { applyRetention, parseDuration, type RetentionPolicy, validatePolicy } from '../src/retention.js';
import { tempDir } from './helpers.js';
import { initRepo, storeFactories, TestClock } from './maintenance-helpers.js';

const tmp = tempDir('lb-retention-');
const factories = storeFactories();
afterAll(async () => {
  tmp.cleanup();
  for (const f of factories) await f.dispose();
});

let seq = 0;
function point(finishedAt: string, resource = 'i-1', disks: string[] = ['root'], id?: string): Manifest {
  const t = new Date(finishedAt).toISOString();
  return {
    format: 1,
    id: id ?? `rp-${String(seq++).padStart(6, '0')}-${t.replace(/[^0-9]/g, '').slice(0, 12)}`,
    resource: { id: resource, kind: 'ec2-instance' },
    disks: disks.map((name) => ({
      name,
      sizeBytes: 1 << 20,
      tree: { root: null, height: 0 },
      stats: { dataBlocks: 0, blocksRead: 0, newChunks: 0, newBytesStored: 0 },
    })),
    startedAt: t,
    finishedAt: t,
    tags: {},
    client: 'test',
  };
}

/** Finished-at times (ISO, no zone = UTC) of the kept points of the only group, newest first. */
function kept(points: Manifest[], policy: RetentionPolicy): string[] {
  const groups = applyRetention(points, policy);
  expect(groups).toHaveLength(1);
  return groups[0]!.decisions.filter((d) => d.keep).map((d) => d.point.finishedAt.slice(0, 16));
}

const at = (s: string) => point(`${s}Z`);

describe('retention rules (restic semantics, UTC)', () => {
  it('last N keeps the N newest, whatever their times', () => {
    const pts = ['2025-03-01T10:00', '2025-03-01T10:01', '2025-02-01T00:00', '2024-01-01T00:00'].map(at);
    expect(kept(pts, { last: 2 })).toEqual(['2025-03-01T10:01', '2025-03-01T10:00']);
    expect(kept(pts, { last: 10 })).toHaveLength(4);
    const groups = applyRetention(pts, { last: 2 });
    expect(groups[0]!.decisions.map((d) => d.reasons)).toEqual([['last 2'], ['last 2'], [], []]);
  });

  it('hourly N keeps the newest point of each of the N newest hours that have points (empty hours do not count)', () => {
    const pts = [
      '2025-03-01T10:05',
      '2025-03-01T10:50',
      '2025-03-01T11:10',
      '2025-03-01T13:00',
      '2025-03-01T13:30',
    ].map(at);
    expect(kept(pts, { hourly: 2 })).toEqual(['2025-03-01T13:30', '2025-03-01T11:10']);
    expect(kept(pts, { hourly: 3 })).toEqual(['2025-03-01T13:30', '2025-03-01T11:10', '2025-03-01T10:50']);
  });

  it('daily N keeps the newest point of each of the N newest days that have points', () => {
    const pts = [
      '2025-03-01T01:00',
      '2025-03-01T23:59',
      '2025-03-02T00:00', // midnight UTC starts a new day
      '2025-03-05T12:00',
      '2025-03-05T18:00',
    ].map(at);
    expect(kept(pts, { daily: 2 })).toEqual(['2025-03-05T18:00', '2025-03-02T00:00']);
    expect(kept(pts, { daily: 3 })).toEqual(['2025-03-05T18:00', '2025-03-02T00:00', '2025-03-01T23:59']);
  });

  it('weekly N uses ISO weeks (Monday first; the week of 4 January is week 1)', () => {
    const pts = [
      '2024-12-29T12:00', // Sunday: 2024-W52
      '2024-12-30T12:00', // Monday: 2025-W01
      '2025-01-05T12:00', // Sunday: 2025-W01
      '2025-01-06T12:00', // Monday: 2025-W02
    ].map(at);
    expect(kept(pts, { weekly: 2 })).toEqual(['2025-01-06T12:00', '2025-01-05T12:00']);
    expect(kept(pts, { weekly: 3 })).toEqual(['2025-01-06T12:00', '2025-01-05T12:00', '2024-12-29T12:00']);
    // 2020 has 53 ISO weeks: 31 December 2020 (Thursday) and 3 January 2021 (Sunday) are both 2020-W53
    const w53 = ['2020-12-31T12:00', '2021-01-03T12:00', '2021-01-04T12:00'].map(at);
    expect(kept(w53, { weekly: 2 })).toEqual(['2021-01-04T12:00', '2021-01-03T12:00']);
  });

  it('monthly and yearly N keep the newest point of each of the N newest months / years with points', () => {
    const pts = [
      '2023-06-15T00:00',
      '2023-12-31T23:59',
      '2024-01-01T00:00',
      '2024-01-31T00:00',
      '2024-04-01T00:00', // February and March have no points
      '2024-04-20T00:00',
    ].map(at);
    expect(kept(pts, { monthly: 3 })).toEqual(['2024-04-20T00:00', '2024-01-31T00:00', '2023-12-31T23:59']);
    expect(kept(pts, { yearly: 2 })).toEqual(['2024-04-20T00:00', '2023-12-31T23:59']);
  });

  it('within D keeps every point within D of the group’s newest point, not of now', () => {
    // years in the past: a resource no longer backed up keeps its last points
    const pts = ['2020-06-10T00:00', '2020-06-08T00:00', '2020-06-07T01:00', '2020-06-06T23:00'].map(at);
    expect(kept(pts, { withinMs: parseDuration('3d') })).toEqual([
      '2020-06-10T00:00',
      '2020-06-08T00:00',
      '2020-06-07T01:00',
    ]);
  });

  it('rules combine: a point is kept when any rule keeps it, with every reason', () => {
    const pts = ['2025-01-01T00:00', '2025-02-01T00:00', '2025-02-02T00:00', '2025-02-02T06:00'].map(at);
    const g = applyRetention(pts, { last: 1, daily: 2, monthly: 2 })[0]!;
    expect(g.decisions.map((d) => [d.point.finishedAt.slice(0, 16), d.keep, d.reasons])).toEqual([
      ['2025-02-02T06:00', true, ['last 1', 'daily 2', 'monthly 2']],
      ['2025-02-02T00:00', false, []],
      ['2025-02-01T00:00', true, ['daily 2']],
      ['2025-01-01T00:00', true, ['monthly 2']],
    ]);
  });

  it('groups by resource and by the set of disk names (in any order); each group keeps its own', () => {
    const pts = [
      point('2025-01-01T00:00Z', 'i-a', ['root']),
      point('2025-01-02T00:00Z', 'i-a', ['root']),
      point('2025-01-03T00:00Z', 'i-a', ['root', 'data']), // a volume was added: a new series
      point('2025-01-04T00:00Z', 'i-a', ['data', 'root']),
      point('2025-01-01T00:00Z', 'i-b', ['root']),
    ];
    const groups = applyRetention(pts, { last: 1 });
    expect(groups.map((g) => g.key).sort()).toEqual(['i-a [data, root]', 'i-a [root]', 'i-b [root]']);
    const keptIds = groups.flatMap((g) => g.decisions.filter((d) => d.keep).map((d) => d.point.id)).sort();
    expect(keptIds).toEqual([pts[1]!.id, pts[3]!.id, pts[4]!.id].sort());
  });

  it('a policy that keeps nothing is refused, as are negative or fractional counts and empty durations', () => {
    const refused = (p: RetentionPolicy, message: RegExp) => {
      let err: unknown;
      try {
        applyRetention([at('2025-01-01T00:00')], p);
      } catch (e) {
        err = e;
      }
      expect(isRepositoryError(err, 'INVALID_ARGUMENT'), JSON.stringify(p)).toBe(true);
      expect((err as Error).message).toMatch(message);
    };
    refused({}, /keeps nothing/);
    refused({ last: 0, hourly: 0, daily: 0, weekly: 0, monthly: 0, yearly: 0 }, /keeps nothing/);
    refused({ last: -1 }, /non-negative integer/);
    refused({ daily: 1.5 }, /non-negative integer/);
    refused({ withinMs: 0 }, /positive duration/);
    expect(() => validatePolicy({ last: 0, withinMs: 3600e3 })).not.toThrow();
  });

  it('parses durations (h, d, w, m = 30 days, y = 365 days, combined) and refuses anything else', () => {
    expect(parseDuration('36h')).toBe(36 * 3600e3);
    expect(parseDuration('7d')).toBe(7 * 86400e3);
    expect(parseDuration('2w')).toBe(14 * 86400e3);
    expect(parseDuration('1y6m')).toBe((365 + 180) * 86400e3);
    for (const bad of ['', '7', 'd7', '7x', '1d 2h', '-1d', '1.5d'])
      expect(() => parseDuration(bad), bad).toThrow(/not a duration/);
  });

  it('keeps the oldest point too while a rule has counts left (restic: "also keep the oldest snapshot")', () => {
    // restic's ApplyPolicy keeps the oldest snapshot of a group when a bucket rule still has counts left, "to
    // maximize the history length kept": three points of one day with --keep-daily 7 keep the newest and the
    // oldest. Lifeboat claims restic's semantics (retention.ts) and documents no difference.
    const pts = ['2025-03-01T01:00', '2025-03-01T02:00', '2025-03-01T03:00'].map(at);
    expect(kept(pts, { daily: 7 })).toEqual(['2025-03-01T03:00', '2025-03-01T01:00']);
  });
});

for (const factory of factories) {
  describe(`forget on a repository (${factory.name})`, () => {
    async function repoWith(points: Manifest[]): Promise<Repository> {
      const clock = new TestClock();
      const { repo } = await initRepo(await factory.create('forget'), clock, join(tmp.path, 'cache'));
      for (const m of points) await repo.store.put(pointKey(m.id), encodeManifest(repo.key, repo.codec, m));
      return repo;
    }

    it('dry run changes nothing; a run deletes exactly the manifests the rules forget, per resource', async () => {
      const a = ['2025-01-01T00:00Z', '2025-01-02T00:00Z', '2025-01-03T00:00Z'].map((t) => point(t, 'vol-a'));
      const b = ['2025-01-01T00:00Z', '2025-01-02T00:00Z'].map((t) => point(t, 'vol-b'));
      const repo = await repoWith([...a, ...b]);
      const all = [...a, ...b].map((m) => m.id).sort();
      const dry = await forget(repo, { policy: { last: 1 }, dryRun: true });
      expect(dry.dryRun).toBe(true);
      expect(dry.removed.sort()).toEqual([a[0]!.id, a[1]!.id, b[0]!.id].sort());
      expect(await repo.pointIds()).toEqual(all);
      // only vol-a's series
      const r = await forget(repo, { policy: { last: 1 }, resource: 'vol-a' });
      expect(r.removed.sort()).toEqual([a[0]!.id, a[1]!.id].sort());
      expect(await repo.pointIds()).toEqual([a[2]!.id, b[0]!.id, b[1]!.id].sort());
    });

    it('forgets by id or unique prefix; refuses ids with rules, and runs only under the lease', async () => {
      const pts = [
        point('2025-01-01T00:00Z', 'x', ['root'], 'rp-aaaa11110000'),
        point('2025-01-02T00:00Z', 'x', ['root'], 'rp-aaaa22220000'),
        point('2025-01-03T00:00Z', 'x', ['root'], 'rp-bbbb33330000'),
      ];
      const repo = await repoWith(pts);
      const r = await forget(repo, { ids: ['rp-aaaa2', 'rp-bbbb33330000'] });
      expect(r.removed.sort()).toEqual(['rp-aaaa22220000', 'rp-bbbb33330000']);
      expect(await repo.pointIds()).toEqual(['rp-aaaa11110000']);
      await expect(forget(repo, { ids: ['rp-a'], policy: { last: 1 } })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
      await expect(forget(repo, {})).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      const lease = await MaintenanceLease.acquire(repo, { owner: 'pruner@host pid 1' });
      await expect(forget(repo, { ids: ['rp-aaaa1'] })).rejects.toMatchObject({ code: 'LEASE_HELD' });
      expect(await repo.pointIds()).toEqual(['rp-aaaa11110000']);
      // ... unless the caller passes the lease it holds (forget --prune)
      await forget(repo, { ids: ['rp-aaaa1'], lease });
      expect(await repo.pointIds()).toEqual([]);
      await lease.release();
    });
  });
}
