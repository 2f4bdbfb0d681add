/**
 * Policies, restore points (their snapshots and holds) and the AWS call counts of sessions: cases of the catalog
 * conformance suite, registered by conformance.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  type Catalog,
  type HoldRecord,
  isCatalogError,
  type NewPolicy,
  type NewRestorePoint,
  type PointSnapshotRecord,
  type RestorePointQuery,
} from '../src/index.js';

const T0 = '2026-04-01T00:00:00.000Z';
const T1 = '2026-04-01T01:00:00.000Z';
const T2 = '2026-04-01T02:00:00.000Z';
const T3 = '2026-04-01T03:00:00.000Z';
const T4 = '2026-04-01T04:00:00.000Z';

function policy(name: string, extra: Partial<NewPolicy> = {}): NewPolicy {
  return {
    id: `p-${name}`,
    name,
    document: { name, schedule: { every: '1d', at: '02:00' }, select: { tags: { Backup: name } } },
    enabled: true,
    ...extra,
  };
}

function point(id: string, extra: Partial<NewRestorePoint> = {}): NewRestorePoint {
  return {
    id,
    policyId: 'p-daily',
    policyName: 'daily',
    accountId: 'a-prod',
    awsAccountId: '111111111111',
    region: 'us-east-1',
    instanceId: 'i-1',
    sessionId: 's-1',
    taskId: 's-1-t1',
    createdAt: T0,
    state: 'available',
    configuration: { instanceType: 't3.micro', tags: { Name: 'web' } },
    overflow: null,
    ...extra,
  };
}

function snapshot(snapshotId: string, pointId: string, extra: Partial<PointSnapshotRecord> = {}) {
  const s: PointSnapshotRecord = {
    snapshotId,
    pointId,
    role: 'source',
    accountId: 'a-prod',
    awsAccountId: '111111111111',
    region: 'us-east-1',
    device: '/dev/xvda',
    volumeId: 'vol-1',
    sizeGiB: 8,
    encrypted: false,
    kmsKeyId: null,
    state: 'pending',
    sealed: false,
    sourceSnapshotId: null,
    target: null,
    createdAt: T0,
    deletedAt: null,
    ...extra,
  };
  return s;
}

function hold(id: string, pointId: string, extra: Partial<HoldRecord> = {}): HoldRecord {
  return {
    id,
    pointId,
    kind: 'manual',
    reason: 'legal hold, ticket 42',
    createdBy: 'alice',
    createdAt: T1,
    ...extra,
  };
}

async function code(p: Promise<unknown>): Promise<string | undefined> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  return isCatalogError(err) ? err.code : `not a CatalogError: ${String(err)}`;
}

export function pointConformance(catalog: () => Catalog): void {
  describe('policies', () => {
    it('inserts at version 1 with no schedule state, reads back, lists by name, refuses a taken name or id', async () => {
      const c = catalog();
      const p = await c.policies.insert(policy('daily'), T0);
      expect(p).toEqual({
        id: 'p-daily',
        name: 'daily',
        document: {
          name: 'daily',
          schedule: { every: '1d', at: '02:00' },
          select: { tags: { Backup: 'daily' } },
        },
        enabled: true,
        version: 1,
        createdAt: T0,
        updatedAt: T0,
        lastDueAt: null,
        lastSessionId: null,
      });
      expect(await c.policies.get('daily')).toEqual(p);
      expect(await c.policies.getById('p-daily')).toEqual(p);
      expect(await c.policies.get('p-daily')).toBeUndefined();
      expect(await c.policies.getById('daily')).toBeUndefined();
      const off = await c.policies.insert(policy('archive', { enabled: false }), T1);
      expect(off.enabled).toBe(false);
      await c.policies.insert(policy('hourly'), T1);
      expect(await code(c.policies.insert(policy('daily', { id: 'p-other' }), T2))).toBe('CONFLICT');
      expect(await code(c.policies.insert(policy('weekly', { id: 'p-daily' }), T2))).toBe('CONFLICT');
      expect(await c.policies.get('weekly')).toBeUndefined();
      expect((await c.policies.list({ limit: 10 })).map((x) => x.name)).toEqual([
        'archive',
        'daily',
        'hourly',
      ]);
      expect((await c.policies.list({ limit: 2 })).map((x) => x.name)).toEqual(['archive', 'daily']);
      expect((await c.policies.list({ limit: 10, after: 'archive' })).map((x) => x.name)).toEqual([
        'daily',
        'hourly',
      ]);
      expect((await c.policies.list({ limit: 10, after: 'archive' }))[0]).toEqual(p);
    });

    it('updates with a version (+1 each), tells a stale version from a missing policy, refuses a taken name', async () => {
      const c = catalog();
      await c.policies.insert(policy('daily'), T0);
      await c.policies.insert(policy('hourly'), T0);
      const doc = { name: 'nightly', schedule: { every: '1d', at: '03:00' } };
      const u = await c.policies.update('p-daily', 1, { name: 'nightly', document: doc, enabled: false }, T1);
      expect(u).toEqual({
        id: 'p-daily',
        name: 'nightly',
        document: doc,
        enabled: false,
        version: 2,
        createdAt: T0,
        updatedAt: T1,
        lastDueAt: null,
        lastSessionId: null,
      });
      expect(await c.policies.get('nightly')).toEqual(u);
      // The old name is free again.
      expect(await c.policies.get('daily')).toBeUndefined();
      await c.policies.insert(policy('daily', { id: 'p-daily-2' }), T1);
      expect(await code(c.policies.update('p-daily', 1, { enabled: true }, T2))).toBe('VERSION_MISMATCH');
      expect(await code(c.policies.update('p-none', undefined, { enabled: true }, T2))).toBe('NOT_FOUND');
      expect(await code(c.policies.update('p-none', 1, { enabled: true }, T2))).toBe('NOT_FOUND');
      expect(await code(c.policies.update('p-daily', 2, { name: 'hourly' }, T2))).toBe('CONFLICT');
      expect(await c.policies.getById('p-daily')).toEqual(u);
      // Unconditional (no expected version), one field: the rest stays.
      const v = await c.policies.update('p-daily', undefined, { enabled: true }, T3);
      expect(v).toMatchObject({ name: 'nightly', document: doc, enabled: true, version: 3, updatedAt: T3 });
      expect((await c.policies.getById('p-hourly'))?.version).toBe(1);
    });

    it('keeps the schedule state without touching version or updatedAt', async () => {
      const c = catalog();
      await c.policies.insert(policy('daily'), T0);
      await c.policies.setScheduleState('p-daily', { lastDueAt: T1, lastSessionId: 's-1' });
      expect(await c.policies.getById('p-daily')).toMatchObject({
        version: 1,
        updatedAt: T0,
        lastDueAt: T1,
        lastSessionId: 's-1',
      });
      // Only what is given changes.
      await c.policies.setScheduleState('p-daily', { lastDueAt: T2 });
      expect(await c.policies.getById('p-daily')).toMatchObject({ lastDueAt: T2, lastSessionId: 's-1' });
      await c.policies.setScheduleState('p-daily', { lastSessionId: 's-2' });
      expect(await c.policies.getById('p-daily')).toMatchObject({ lastDueAt: T2, lastSessionId: 's-2' });
      await c.policies.setScheduleState('p-daily', { lastDueAt: null, lastSessionId: null });
      expect(await c.policies.getById('p-daily')).toMatchObject({
        version: 1,
        updatedAt: T0,
        lastDueAt: null,
        lastSessionId: null,
      });
      await c.policies.setScheduleState('p-daily', {});
      expect(await code(c.policies.setScheduleState('p-none', { lastDueAt: T1 }))).toBe('NOT_FOUND');
      expect(await code(c.policies.setScheduleState('p-none', {}))).toBe('NOT_FOUND');
      // An update keeps the schedule state.
      await c.policies.setScheduleState('p-daily', { lastDueAt: T3, lastSessionId: 's-3' });
      expect(await c.policies.update('p-daily', 1, { enabled: false }, T4)).toMatchObject({
        version: 2,
        lastDueAt: T3,
        lastSessionId: 's-3',
      });
    });

    it('removes with a version; its restore points stay, with its id and name, orphaned', async () => {
      const c = catalog();
      await c.policies.insert(policy('daily'), T0);
      await c.policies.update('p-daily', 1, { enabled: false }, T1);
      await c.points.insert(point('rp-1'));
      expect(await code(c.policies.remove('p-daily', 1))).toBe('VERSION_MISMATCH');
      expect(await code(c.policies.remove('p-none', undefined))).toBe('NOT_FOUND');
      expect(await code(c.policies.remove('p-none', 1))).toBe('NOT_FOUND');
      expect(await c.points.list({ limit: 10, orphaned: true })).toEqual([]);
      await c.policies.remove('p-daily', 2);
      expect(await c.policies.getById('p-daily')).toBeUndefined();
      expect(await c.policies.list({ limit: 10 })).toEqual([]);
      expect(await c.points.get('rp-1')).toMatchObject({ policyId: 'p-daily', policyName: 'daily' });
      expect((await c.points.list({ limit: 10, orphaned: true })).map((p) => p.id)).toEqual(['rp-1']);
      await c.policies.insert(policy('weekly'), T2);
      expect(await code(c.policies.remove('p-weekly', 2))).toBe('VERSION_MISMATCH');
      await c.policies.remove('p-weekly', undefined);
      expect(await c.policies.get('weekly')).toBeUndefined();
    });
  });

  describe('restore points', () => {
    it('inserts and reads back every field (JSON included), refuses a taken id', async () => {
      const c = catalog();
      const overflow = { tags: { Long: 'x'.repeat(300) }, userData: 'IyEvYmluL3NoCg==' };
      const p = await c.points.insert(point('rp-1', { overflow, state: 'creating' }));
      expect(p).toEqual({
        id: 'rp-1',
        policyId: 'p-daily',
        policyName: 'daily',
        accountId: 'a-prod',
        awsAccountId: '111111111111',
        region: 'us-east-1',
        instanceId: 'i-1',
        sessionId: 's-1',
        taskId: 's-1-t1',
        createdAt: T0,
        state: 'creating',
        configuration: { instanceType: 't3.micro', tags: { Name: 'web' } },
        overflow,
        updatedAt: T0,
      });
      expect(await c.points.get('rp-1')).toEqual(p);
      expect(await c.points.get('rp-none')).toBeUndefined();
      // No policy, account, session or configuration: all null (points made by hand, found by a rescan).
      const bare = await c.points.insert(
        point('rp-2', {
          policyId: null,
          policyName: null,
          accountId: null,
          sessionId: null,
          taskId: null,
          configuration: null,
        }),
      );
      expect(await c.points.get('rp-2')).toEqual(bare);
      expect(bare).toMatchObject({ policyId: null, accountId: null, configuration: null, overflow: null });
      expect(await code(c.points.insert(point('rp-1', { instanceId: 'i-2' })))).toBe('CONFLICT');
      expect((await c.points.get('rp-1'))?.instanceId).toBe('i-1');
    });

    it('updates state, configuration, overflow and the instant, moving updatedAt', async () => {
      const c = catalog();
      await c.points.insert(point('rp-1', { state: 'creating', configuration: null }));
      const u = await c.points.update(
        'rp-1',
        { state: 'partial', configuration: { instanceType: 'm5.large' }, overflow: ['a'], createdAt: T1 },
        T2,
      );
      expect(u).toMatchObject({
        state: 'partial',
        configuration: { instanceType: 'm5.large' },
        overflow: ['a'],
        createdAt: T1,
        updatedAt: T2,
        instanceId: 'i-1',
        policyName: 'daily',
      });
      expect(await c.points.get('rp-1')).toEqual(u);
      const v = await c.points.update('rp-1', { overflow: null }, T3);
      expect(v).toMatchObject({
        state: 'partial',
        configuration: { instanceType: 'm5.large' },
        overflow: null,
      });
      expect(v.updatedAt).toBe(T3);
      expect((await c.points.update('rp-1', {}, T4)).updatedAt).toBe(T4);
      expect(await code(c.points.update('rp-none', { state: 'failed' }, T4))).toBe('NOT_FOUND');
    });

    it('lists newest first (instant, then id) with filters; deleted only when asked; keyset paging', async () => {
      const c = catalog();
      await c.points.insert(point('rp-a', { createdAt: T0 }));
      await c.points.insert(point('rp-b', { createdAt: T1, instanceId: 'i-2' }));
      await c.points.insert(point('rp-c', { createdAt: T1 }));
      await c.points.insert(point('rp-d', { createdAt: T2, region: 'eu-west-1', state: 'partial' }));
      await c.points.insert(
        point('rp-e', { createdAt: T3, accountId: 'a-dev', policyId: 'p-hourly', policyName: 'hourly' }),
      );
      await c.points.insert(point('rp-f', { createdAt: T4, state: 'deleted' }));
      await c.points.insert(
        point('rp-g', { createdAt: T2, state: 'failed', policyId: null, policyName: null }),
      );
      const ids = async (q: RestorePointQuery) => (await c.points.list(q)).map((p) => p.id);
      expect(await ids({ limit: 10 })).toEqual(['rp-e', 'rp-g', 'rp-d', 'rp-c', 'rp-b', 'rp-a']);
      expect(await ids({ limit: 10, instanceId: 'i-2' })).toEqual(['rp-b']);
      expect(await ids({ limit: 10, instanceId: 'i-1' })).toEqual(['rp-e', 'rp-g', 'rp-d', 'rp-c', 'rp-a']);
      expect(await ids({ limit: 10, policyId: 'p-hourly' })).toEqual(['rp-e']);
      expect(await ids({ limit: 10, accountId: 'a-prod', region: 'us-east-1' })).toEqual([
        'rp-g',
        'rp-c',
        'rp-b',
        'rp-a',
      ]);
      expect(await ids({ limit: 10, region: 'eu-west-1' })).toEqual(['rp-d']);
      expect(await ids({ limit: 10, states: ['deleted'] })).toEqual(['rp-f']);
      expect(await ids({ limit: 10, states: ['partial', 'failed'] })).toEqual(['rp-g', 'rp-d']);
      expect(await ids({ limit: 10, states: ['available', 'deleted'], instanceId: 'i-1' })).toEqual([
        'rp-f',
        'rp-e',
        'rp-c',
        'rp-a',
      ]);
      expect(await ids({ limit: 10, states: [] })).toEqual([]);
      // Pages of two, each starting after the previous page's last (instant, id).
      const pages: string[][] = [];
      let before: RestorePointQuery['before'];
      for (;;) {
        const page = await c.points.list({ limit: 2, before });
        if (page.length === 0) break;
        pages.push(page.map((p) => p.id));
        const last = page.at(-1)!;
        before = { createdAt: last.createdAt, id: last.id };
      }
      expect(pages).toEqual([
        ['rp-e', 'rp-g'],
        ['rp-d', 'rp-c'],
        ['rp-b', 'rp-a'],
      ]);
      // Within one instant, `before` goes by id.
      expect(await ids({ limit: 10, before: { createdAt: T1, id: 'rp-c' } })).toEqual(['rp-b', 'rp-a']);
      expect(await ids({ limit: 10, before: { createdAt: T2, id: 'rp-a' }, instanceId: 'i-1' })).toEqual([
        'rp-c',
        'rp-a',
      ]);
    });

    it('lists orphaned points: a policy id that names no policy (not points without a policy)', async () => {
      const c = catalog();
      await c.policies.insert(policy('daily'), T0);
      await c.points.insert(point('rp-live', { createdAt: T0 }));
      await c.points.insert(point('rp-old', { createdAt: T1, policyId: 'p-gone', policyName: 'gone' }));
      await c.points.insert(point('rp-old-2', { createdAt: T2, policyId: 'p-gone', policyName: 'gone' }));
      await c.points.insert(point('rp-hand', { createdAt: T3, policyId: null, policyName: null }));
      await c.points.insert(
        point('rp-old-del', { createdAt: T4, policyId: 'p-gone', policyName: 'gone', state: 'deleted' }),
      );
      const ids = async (q: RestorePointQuery) => (await c.points.list(q)).map((p) => p.id);
      expect(await ids({ limit: 10, orphaned: true })).toEqual(['rp-old-2', 'rp-old']);
      expect(await ids({ limit: 1, orphaned: true, before: { createdAt: T2, id: 'rp-old-2' } })).toEqual([
        'rp-old',
      ]);
      expect(await ids({ limit: 10, orphaned: true, states: ['deleted'] })).toEqual(['rp-old-del']);
      expect(await ids({ limit: 10 })).toEqual(['rp-hand', 'rp-old-2', 'rp-old', 'rp-live']);
      // A policy of that id appears (a re-created policy keeps its points): no longer orphaned.
      await c.policies.insert(policy('gone', { id: 'p-gone' }), T4);
      expect(await ids({ limit: 10, orphaned: true })).toEqual([]);
      await c.policies.remove('p-daily', undefined);
      expect(await ids({ limit: 10, orphaned: true })).toEqual(['rp-live']);
    });

    it('records snapshots per point: adds, reads, updates; refuses a known snapshot id or an unknown point', async () => {
      const c = catalog();
      await c.points.insert(point('rp-1'));
      await c.points.insert(point('rp-2', { createdAt: T1 }));
      const s = snapshot('snap-1', 'rp-1', { kmsKeyId: null });
      await c.points.addSnapshot(s);
      expect(await c.points.getSnapshot('snap-1')).toEqual(s);
      expect(await c.points.getSnapshot('snap-none')).toBeUndefined();
      const replica = snapshot('snap-1r', 'rp-1', {
        role: 'replica',
        accountId: null,
        awsAccountId: '222222222222',
        region: 'eu-west-1',
        volumeId: null,
        encrypted: true,
        kmsKeyId: 'arn:aws:kms:eu-west-1:222222222222:key/k1',
        sourceSnapshotId: 'snap-1',
        target: 'dr/eu-west-1',
        sealed: true,
        state: 'completed',
        createdAt: T1,
      });
      await c.points.addSnapshot(replica);
      expect(await c.points.getSnapshot('snap-1r')).toEqual(replica);
      expect(await code(c.points.addSnapshot(snapshot('snap-1', 'rp-2')))).toBe('CONFLICT');
      expect((await c.points.getSnapshot('snap-1'))?.pointId).toBe('rp-1');
      expect(await code(c.points.addSnapshot(snapshot('snap-x', 'rp-none')))).toBe('NOT_FOUND');
      expect(await c.points.getSnapshot('snap-x')).toBeUndefined();

      const u = await c.points.updateSnapshot('snap-1', {
        state: 'completed',
        sealed: true,
        sizeGiB: 16,
        encrypted: true,
        kmsKeyId: 'alias/aws/ebs',
      });
      expect(u).toEqual({
        ...s,
        state: 'completed',
        sealed: true,
        sizeGiB: 16,
        encrypted: true,
        kmsKeyId: 'alias/aws/ebs',
      });
      expect(await c.points.getSnapshot('snap-1')).toEqual(u);
      const d = await c.points.updateSnapshot('snap-1', { state: 'deleted', deletedAt: T2, kmsKeyId: null });
      expect(d).toMatchObject({ state: 'deleted', deletedAt: T2, kmsKeyId: null, sealed: true, sizeGiB: 16 });
      expect(await c.points.updateSnapshot('snap-1', {})).toEqual(d);
      expect(await code(c.points.updateSnapshot('snap-none', { sealed: true }))).toBe('NOT_FOUND');
      expect(await code(c.points.updateSnapshot('snap-none', {}))).toBe('NOT_FOUND');
    });

    it('answers the snapshots of points (by point, sources first, device) and snapshots by state and seal', async () => {
      const c = catalog();
      await c.points.insert(point('rp-1'));
      await c.points.insert(point('rp-2', { createdAt: T1 }));
      await c.points.insert(point('rp-3', { createdAt: T2 }));
      await c.points.addSnapshot(snapshot('snap-z', 'rp-2', { device: '/dev/xvdb', createdAt: T1 }));
      await c.points.addSnapshot(
        snapshot('snap-a', 'rp-2', {
          device: '/dev/xvda',
          role: 'replica',
          region: 'eu-west-1',
          target: 'prod/eu-west-1',
          sourceSnapshotId: 'snap-y',
          accountId: 'a-dr',
          createdAt: T3,
        }),
      );
      await c.points.addSnapshot(
        snapshot('snap-y', 'rp-2', { device: '/dev/xvda', createdAt: T1, state: 'completed' }),
      );
      await c.points.addSnapshot(
        snapshot('snap-b', 'rp-1', { device: '/dev/xvda', state: 'completed', sealed: true, createdAt: T0 }),
      );
      await c.points.addSnapshot(
        snapshot('snap-c', 'rp-3', {
          state: 'deleted',
          deletedAt: T4,
          sealed: true,
          createdAt: T2,
          region: 'eu-west-1',
        }),
      );
      const ids = (rows: PointSnapshotRecord[]) => rows.map((s) => s.snapshotId);
      expect(ids(await c.points.snapshotsOf(['rp-2', 'rp-1']))).toEqual([
        'snap-b',
        'snap-y',
        'snap-z',
        'snap-a',
      ]);
      expect(ids(await c.points.snapshotsOf(['rp-3']))).toEqual(['snap-c']);
      expect(await c.points.snapshotsOf(['rp-none'])).toEqual([]);
      expect(await c.points.snapshotsOf([])).toEqual([]);
      expect((await c.points.snapshotsOf(['rp-2']))[2]).toMatchObject({
        role: 'replica',
        target: 'prod/eu-west-1',
        sourceSnapshotId: 'snap-y',
      });

      const where = async (f: Parameters<Catalog['points']['snapshotsWhere']>[0]) =>
        ids(await c.points.snapshotsWhere(f));
      expect(await where({ limit: 10 })).toEqual(['snap-b', 'snap-y', 'snap-z', 'snap-c', 'snap-a']);
      expect(await where({ limit: 10, states: ['pending'] })).toEqual(['snap-z', 'snap-a']);
      expect(await where({ limit: 10, states: ['pending', 'completed'], sealed: false })).toEqual([
        'snap-y',
        'snap-z',
        'snap-a',
      ]);
      expect(await where({ limit: 10, sealed: true })).toEqual(['snap-b', 'snap-c']);
      expect(await where({ limit: 10, region: 'eu-west-1' })).toEqual(['snap-c', 'snap-a']);
      expect(await where({ limit: 10, accountId: 'a-dr' })).toEqual(['snap-a']);
      expect(await where({ limit: 10, states: ['error'] })).toEqual([]);
      expect(await where({ limit: 10, states: [] })).toEqual([]);
      expect(await where({ limit: 2, sealed: false })).toEqual(['snap-y', 'snap-z']);
    });

    it('holds: adds to an existing point only, lists oldest first, removes by kind or all', async () => {
      const c = catalog();
      await c.points.insert(point('rp-1'));
      await c.points.insert(point('rp-2', { createdAt: T1 }));
      const h1 = hold('h-1', 'rp-1', { createdAt: T2 });
      const h2 = hold('h-2', 'rp-1', {
        kind: 'restore',
        createdBy: null,
        reason: 'restore s-9',
        createdAt: T1,
      });
      const h3 = hold('h-3', 'rp-2', {
        kind: 'backup-base',
        createdBy: null,
        reason: 'base of s-8',
        createdAt: T3,
      });
      const h4 = hold('h-4', 'rp-1', {
        kind: 'restore',
        createdBy: null,
        reason: 'restore s-10',
        createdAt: T4,
      });
      for (const h of [h1, h2, h3, h4]) await c.points.addHold(h);
      expect(await code(c.points.addHold(hold('h-5', 'rp-none')))).toBe('NOT_FOUND');
      expect(await c.points.holdsOf(['rp-1'])).toEqual([h2, h1, h4]);
      expect(await c.points.holdsOf(['rp-1', 'rp-2'])).toEqual([h2, h1, h3, h4]);
      expect(await c.points.holdsOf(['rp-none'])).toEqual([]);
      expect(await c.points.holdsOf([])).toEqual([]);
      expect(await c.points.removeHolds('rp-1', 'restore')).toBe(2);
      expect(await c.points.holdsOf(['rp-1', 'rp-2'])).toEqual([h1, h3]);
      expect(await c.points.removeHolds('rp-1', 'restore')).toBe(0);
      expect(await c.points.removeHolds('rp-2', 'manual')).toBe(0);
      expect(await c.points.removeHolds('rp-1')).toBe(1);
      expect(await c.points.removeHolds('rp-none')).toBe(0);
      expect(await c.points.holdsOf(['rp-1', 'rp-2'])).toEqual([h3]);
    });
  });

  describe('AWS call counts', () => {
    it('adds up per session, API and region, and answers them by API then region', async () => {
      const c = catalog();
      await c.sessions.insert(newSessionFor('s-1'));
      await c.sessions.insert(newSessionFor('s-2'));
      expect(await c.awsCalls.ofSession('s-1')).toEqual([]);
      await c.awsCalls.add('s-1', [
        { api: 'ec2:CreateSnapshots', region: 'us-east-1', count: 2 },
        { api: 'ec2:DescribeSnapshots', region: 'us-east-1', count: 5 },
        // The same API and region twice in one call: added.
        { api: 'ec2:CreateSnapshots', region: 'us-east-1', count: 1 },
      ]);
      await c.awsCalls.add('s-2', [{ api: 'ec2:CreateSnapshots', region: 'us-east-1', count: 7 }]);
      await c.awsCalls.add('s-1', [
        { api: 'ec2:CreateSnapshots', region: 'us-east-1', count: 4 },
        { api: 'ec2:CreateSnapshots', region: 'eu-west-1', count: 1 },
        { api: 'ec2:CopySnapshot', region: 'eu-west-1', count: 3 },
      ]);
      await c.awsCalls.add('s-1', []);
      expect(await c.awsCalls.ofSession('s-1')).toEqual([
        { api: 'ec2:CopySnapshot', region: 'eu-west-1', count: 3 },
        { api: 'ec2:CreateSnapshots', region: 'eu-west-1', count: 1 },
        { api: 'ec2:CreateSnapshots', region: 'us-east-1', count: 7 },
        { api: 'ec2:DescribeSnapshots', region: 'us-east-1', count: 5 },
      ]);
      expect(await c.awsCalls.ofSession('s-2')).toEqual([
        { api: 'ec2:CreateSnapshots', region: 'us-east-1', count: 7 },
      ]);
      expect(await c.awsCalls.ofSession('s-none')).toEqual([]);
    });

    it('refuses counts of a session that does not exist (NOT_FOUND)', async () => {
      const c = catalog();
      expect(
        await code(c.awsCalls.add('s-none', [{ api: 'ec2:CreateSnapshots', region: 'us-east-1', count: 1 }])),
      ).toBe('NOT_FOUND');
      expect(await c.awsCalls.ofSession('s-none')).toEqual([]);
    });
  });

  describe('policies and restore points in transactions', () => {
    it('a transaction that throws leaves none of its policy, point, snapshot, hold or call-count writes', async () => {
      const c = catalog();
      await c.policies.insert(policy('daily'), T0);
      await c.points.insert(point('rp-1'));
      await c.points.addSnapshot(snapshot('snap-1', 'rp-1'));
      await c.points.addHold(hold('h-1', 'rp-1'));
      await c.sessions.insert(newSessionFor('s-1'));
      await c.awsCalls.add('s-1', [{ api: 'ec2:CreateSnapshots', region: 'us-east-1', count: 1 }]);
      const boom = new Error('boom');
      await expect(
        c.transaction(async (tx) => {
          await tx.policies.insert(policy('hourly'), T1);
          await tx.policies.update('p-daily', 1, { enabled: false }, T1);
          await tx.policies.setScheduleState('p-daily', { lastDueAt: T1, lastSessionId: 's-1' });
          await tx.points.insert(point('rp-2', { createdAt: T1 }));
          await tx.points.update('rp-1', { state: 'deleted' }, T1);
          await tx.points.addSnapshot(snapshot('snap-2', 'rp-2'));
          await tx.points.updateSnapshot('snap-1', { state: 'deleted', deletedAt: T1 });
          await tx.points.addHold(hold('h-2', 'rp-2'));
          expect(await tx.points.removeHolds('rp-1')).toBe(1);
          await tx.awsCalls.add('s-1', [
            { api: 'ec2:CreateSnapshots', region: 'us-east-1', count: 5 },
            { api: 'ec2:DeleteSnapshot', region: 'us-east-1', count: 1 },
          ]);
          // Visible inside.
          expect((await tx.points.list({ limit: 10 })).map((p) => p.id)).toEqual(['rp-2']);
          expect(await tx.awsCalls.ofSession('s-1')).toHaveLength(2);
          throw boom;
        }),
      ).rejects.toBe(boom);
      expect(await c.policies.get('hourly')).toBeUndefined();
      expect(await c.policies.getById('p-daily')).toMatchObject({
        version: 1,
        enabled: true,
        lastDueAt: null,
        lastSessionId: null,
      });
      expect((await c.points.list({ limit: 10 })).map((p) => [p.id, p.state])).toEqual([
        ['rp-1', 'available'],
      ]);
      expect(await c.points.get('rp-2')).toBeUndefined();
      expect(await c.points.getSnapshot('snap-2')).toBeUndefined();
      expect(await c.points.getSnapshot('snap-1')).toMatchObject({ state: 'pending', deletedAt: null });
      expect((await c.points.holdsOf(['rp-1', 'rp-2'])).map((h) => h.id)).toEqual(['h-1']);
      expect(await c.awsCalls.ofSession('s-1')).toEqual([
        { api: 'ec2:CreateSnapshots', region: 'us-east-1', count: 1 },
      ]);
    });

    it('a transaction that returns commits them all', async () => {
      const c = catalog();
      await c.sessions.insert(newSessionFor('s-1'));
      await c.transaction(async (tx) => {
        await tx.policies.insert(policy('daily'), T0);
        await tx.points.insert(point('rp-1'));
        await tx.points.addSnapshot(snapshot('snap-1', 'rp-1'));
        await tx.points.addHold(hold('h-1', 'rp-1'));
        await tx.awsCalls.add('s-1', [{ api: 'ec2:CreateSnapshots', region: 'us-east-1', count: 3 }]);
      });
      expect((await c.policies.get('daily'))?.id).toBe('p-daily');
      expect((await c.points.snapshotsOf(['rp-1'])).map((s) => s.snapshotId)).toEqual(['snap-1']);
      expect((await c.points.holdsOf(['rp-1'])).map((h) => h.id)).toEqual(['h-1']);
      expect(await c.awsCalls.ofSession('s-1')).toEqual([
        { api: 'ec2:CreateSnapshots', region: 'us-east-1', count: 3 },
      ]);
    });
  });
}

function newSessionFor(id: string) {
  return { id, kind: 'snapshot.policy', name: id, createdBy: null, createdAt: T0 };
}
