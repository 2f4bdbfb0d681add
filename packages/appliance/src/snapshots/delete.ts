import type { PointSnapshotRecord, RestorePointRecord } from '@lifeboat/catalog';
import type { TaskContext } from '../jobs/types.js';
import type { SnapshotEnv } from './env.js';
import { openSeal } from './seal.js';

export interface DeleteItem {
  point: RestorePointRecord;
  snapshot: PointSnapshotRecord;
  reason: string;
}

export interface DeleteReport {
  deleted: number;
  /** Already gone from AWS: recorded as deleted. */
  gone: number;
  /** Not deleted: the seal did not open under our key, or named another point or policy. */
  refused: number;
}

type Ctx = Pick<TaskContext, 'withRetries' | 'log' | 'session'>;

/**
 * Deletes snapshots only when AWS shows them with a seal that opens under our key and names this point (and this
 * policy when one is given): never an untagged, foreign, forged, replayed or marker-only one. Looks them up in
 * the session's batched DescribeSnapshots; a snapshot AWS no longer shows is recorded as deleted.
 */
export async function deleteVerified(
  env: SnapshotEnv,
  ctx: Ctx,
  items: DeleteItem[],
  policyId: string | null,
): Promise<DeleteReport> {
  const report: DeleteReport = { deleted: 0, gone: 0, refused: 0 };
  const groups = new Map<string, DeleteItem[]>();
  for (const item of items) {
    const key = `${item.snapshot.accountId ?? ''}/${item.snapshot.region}`;
    groups.set(key, [...(groups.get(key) ?? []), item]);
  }
  const touched = new Set<string>();
  for (const [key, group] of groups) {
    const accountId = group[0]!.snapshot.accountId;
    if (!accountId) {
      report.refused += group.length;
      await ctx.log('warn', `${group.length} snapshot(s) in an unregistered account: not deleted`);
      continue;
    }
    const account = await env.account(accountId);
    const region = group[0]!.snapshot.region;
    const ec2 = env.ec2(account, region, ctx.session.id);
    try {
      const views = await ctx.withRetries(() =>
        env.lookup.describe(
          `${key}/${ctx.session.id}`,
          ec2,
          group.map((g) => g.snapshot.snapshotId),
        ),
      );
      for (const { point, snapshot, reason } of group) {
        const id = snapshot.snapshotId;
        const view = views.get(id);
        if (!view) {
          await env.catalog.points.updateSnapshot(id, {
            state: 'deleted',
            deletedAt: env.clock.now().toISOString(),
          });
          report.gone++;
          touched.add(point.id);
          continue;
        }
        const opened = openSeal(env.secrets, id, view.tags);
        const seal = 'seal' in opened ? opened.seal : undefined;
        if (!seal || seal.point !== point.id || (policyId !== null && seal.policy !== policyId)) {
          report.refused++;
          const why = !seal
            ? `its seal is ${'refused' in opened ? opened.refused : 'missing'}`
            : 'its seal names another restore point or policy';
          await ctx.log('warn', `snapshot ${id} (${account.name}/${region}) not deleted: ${why}`);
          continue;
        }
        const result = await ctx.withRetries(() => ec2.deleteSnapshot(id));
        await env.catalog.points.updateSnapshot(id, {
          state: 'deleted',
          deletedAt: env.clock.now().toISOString(),
        });
        touched.add(point.id);
        if (result === 'deleted') report.deleted++;
        else report.gone++;
        await ctx.log(
          'info',
          `deleted ${snapshot.role} snapshot ${id} of ${point.id} (${snapshot.device}): ${reason}`,
        );
      }
    } finally {
      ec2.destroy();
    }
  }
  for (const pointId of touched) await settlePoint(env, pointId);
  return report;
}

/** A point whose every snapshot is deleted is `deleted`. */
export async function settlePoint(env: SnapshotEnv, pointId: string): Promise<void> {
  const snaps = await env.catalog.points.snapshotsOf([pointId]);
  if (snaps.length > 0 && snaps.every((s) => s.state === 'deleted')) {
    await env.catalog.points.update(pointId, { state: 'deleted' }, env.clock.now().toISOString());
  }
}
