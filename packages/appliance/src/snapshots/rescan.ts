/**
 * Rescan: restore points rebuilt from the seals alone, configuration included. Per account × region, every
 * snapshot of ours that carries a seal (DescribeSnapshots by tag key) is opened; those that open under this
 * appliance's key ring make or complete their restore point. Into an empty catalog that gives what the old one
 * held; into a non-empty one it adds only what is missing. Forged, replayed, foreign and marker-only snapshots
 * are counted and never listed.
 */
import type { SnapshotView } from '@lifeboat/aws';
import type { AccountRecord, PointSnapshotRecord } from '@lifeboat/catalog';
import { isCatalogError } from '@lifeboat/catalog';
import type { TaskContext, TaskKind } from '../jobs/types.js';
import type { SnapshotEnv } from './env.js';
import { openConfiguration, openSeal, SEAL_TAG, type SnapshotSeal } from './seal.js';

export const RESCAN_TASK = 'rescan.region';

export interface RescanTaskInput {
  accountId: string;
  region: string;
}

export interface RescanResult {
  seen: number;
  points: number;
  newPoints: number;
  newSnapshots: number;
  refused: Record<string, number>;
}

export function rescanTaskKind(env: SnapshotEnv): TaskKind {
  const run = (ctx: TaskContext) => rescanRegion(env, ctx);
  return { kind: RESCAN_TASK, run, resume: run, canResume: () => true };
}

async function rescanRegion(env: SnapshotEnv, ctx: TaskContext) {
  const input = ctx.task.input as RescanTaskInput;
  const account = await env.account(input.accountId);
  const ec2 = env.ec2(account, input.region, ctx.session.id);
  try {
    const found = await ctx.withRetries(() =>
      ec2.describeSnapshots({ filters: [{ Name: 'tag-key', Values: [SEAL_TAG] }] }),
    );
    const result: RescanResult = {
      seen: found.length,
      points: 0,
      newPoints: 0,
      newSnapshots: 0,
      refused: {},
    };
    const byPoint = new Map<string, Array<{ view: SnapshotView; seal: SnapshotSeal }>>();
    for (const view of found) {
      const opened = openSeal(env.secrets, view.snapshotId, view.tags);
      if ('refused' in opened) {
        result.refused[opened.refused] = (result.refused[opened.refused] ?? 0) + 1;
        continue;
      }
      const list = byPoint.get(opened.seal.point) ?? [];
      list.push({ view, seal: opened.seal });
      byPoint.set(opened.seal.point, list);
    }
    result.points = byPoint.size;
    for (const [pointId, snaps] of byPoint) {
      const r = await rebuildPoint(env, account, input.region, pointId, snaps);
      if (r.created) result.newPoints++;
      result.newSnapshots += r.added;
    }
    await ctx.log(
      'info',
      `${account.name}/${input.region}: ${found.length} sealed snapshot(s), ${result.points} restore point(s), ` +
        `${result.newPoints} new, ${result.newSnapshots} snapshot(s) added` +
        (Object.keys(result.refused).length > 0 ? `; ignored: ${JSON.stringify(result.refused)}` : ''),
    );
    return { result };
  } finally {
    ec2.destroy();
    await env.calls.flush(ctx.session.id);
  }
}

async function rebuildPoint(
  env: SnapshotEnv,
  account: AccountRecord,
  region: string,
  pointId: string,
  snaps: Array<{ view: SnapshotView; seal: SnapshotSeal }>,
): Promise<{ created: boolean; added: number }> {
  const first = snaps[0]!.seal;
  const opened = openConfiguration(
    env.secrets,
    pointId,
    first,
    snaps.map((s) => s.view.tags),
  );
  const configuration = 'configuration' in opened ? opened.configuration : null;
  const owner = await ownerAccount(env, first.awsAccount);
  let created = false;
  let point = await env.catalog.points.get(pointId);
  if (!point) {
    try {
      point = await env.catalog.points.insert({
        id: pointId,
        policyId: first.policy,
        policyName: first.policyName,
        accountId: owner?.id ?? null,
        awsAccountId: first.awsAccount,
        region: first.region,
        instanceId: first.instance,
        sessionId: first.session,
        taskId: null,
        createdAt: first.at,
        state: 'available',
        configuration,
        overflow: null,
      });
      created = true;
    } catch (err) {
      // Another region's task of this rescan made it first.
      if (!isCatalogError(err) || err.code !== 'CONFLICT') throw err;
      point = (await env.catalog.points.get(pointId))!;
    }
  } else if (point.configuration === null && configuration !== null) {
    await env.catalog.points.update(pointId, { configuration }, env.clock.now().toISOString());
  }
  let added = 0;
  for (const { view, seal } of snaps) {
    const known = await env.catalog.points.getSnapshot(view.snapshotId);
    if (known) {
      if (!known.sealed) await env.catalog.points.updateSnapshot(view.snapshotId, { sealed: true });
      continue;
    }
    const record: PointSnapshotRecord = {
      snapshotId: view.snapshotId,
      pointId,
      role: seal.role,
      accountId: account.id,
      awsAccountId: account.awsAccountId,
      region,
      device: seal.device,
      volumeId: seal.volume,
      sizeGiB: view.sizeGiB || seal.sizeGiB,
      encrypted: view.encrypted,
      kmsKeyId: view.kmsKeyId,
      state: view.state === 'completed' ? 'completed' : view.state === 'pending' ? 'pending' : 'error',
      sealed: true,
      sourceSnapshotId: seal.source,
      target: seal.role === 'replica' ? `${account.name}/${region}` : null,
      createdAt: seal.role === 'source' ? seal.at : view.startTime,
      deletedAt: null,
    };
    try {
      await env.catalog.points.addSnapshot(record);
      added++;
    } catch (err) {
      if (!isCatalogError(err) || err.code !== 'CONFLICT') throw err;
    }
  }
  if (point.state === 'deleted' && added > 0) {
    await env.catalog.points.update(pointId, { state: 'available' }, env.clock.now().toISOString());
  }
  return { created, added };
}

async function ownerAccount(env: SnapshotEnv, awsAccountId: string): Promise<AccountRecord | undefined> {
  for (let after: string | undefined; ; ) {
    const page = await env.catalog.accounts.list({ limit: 100, ...(after && { after }) });
    const a = page.find((x) => x.awsAccountId === awsAccountId);
    if (a) return a;
    if (page.length < 100) return undefined;
    after = page[page.length - 1]!.name;
  }
}
