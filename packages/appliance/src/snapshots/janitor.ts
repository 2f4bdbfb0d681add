/**
 * The janitor: leftovers of interrupted sessions, found by their clear markers in each account × region and
 * judged by the catalog's session records and the seals, never by the markers alone.
 * - A snapshot the catalog recorded but whose seal never arrived (a crash between the two tag phases) is sealed
 *   now, from its restore point's record; its point is settled (states read from AWS).
 * - A snapshot the catalog did not record, whose token names one of our restore points that already has its
 *   snapshot for that role (a late duplicate of a retried CreateSnapshots or CopySnapshot), is deleted.
 * - Anything else (another appliance's, a forged or foreign seal, a marker-only snapshot of a session we do not
 *   know) is left alone and counted.
 * Then retention runs for the policy and instance of every point it settled.
 */
import type { Ec2Snapshots, SnapshotView } from '@lifeboat/aws';
import type { PointSnapshotRecord, RestorePointRecord } from '@lifeboat/catalog';
import type { TaskContext, TaskKind } from '../jobs/types.js';
import type { PolicyDocument } from '../policies/document.js';
import type { SnapshotEnv } from './env.js';
import { applyRetention, type Checkpoint } from './instance-task.js';
import { MARKER_TAG, SESSION_TAG, TOKEN_TAG } from './markers.js';
import { retentionOf } from './retention.js';
import { openSeal, sealSet, setReference } from './seal.js';

export const JANITOR_TASK = 'janitor.region';

export interface JanitorTaskInput {
  accountId: string;
  region: string;
}

export function janitorTaskKind(env: SnapshotEnv): TaskKind {
  const run = (ctx: TaskContext) => janitorRegion(env, ctx);
  return { kind: JANITOR_TASK, run, resume: run, canResume: () => true };
}

async function janitorRegion(env: SnapshotEnv, ctx: TaskContext) {
  const input = ctx.task.input as JanitorTaskInput;
  const account = await env.account(input.accountId);
  const ec2 = env.ec2(account, input.region, ctx.session.id);
  const result = { seen: 0, sealed: 0, duplicatesDeleted: 0, left: 0, pointsSettled: 0, retentionDeleted: 0 };
  try {
    const found = await ctx.withRetries(() =>
      ec2.describeSnapshots({ filters: [{ Name: 'tag-key', Values: [MARKER_TAG] }] }),
    );
    result.seen = found.length;
    const settle = new Set<string>();
    for (const view of found) {
      const opened = openSeal(env.secrets, view.snapshotId, view.tags);
      const known = await env.catalog.points.getSnapshot(view.snapshotId);
      if ('seal' in opened) {
        if (known && !known.sealed)
          await env.catalog.points.updateSnapshot(view.snapshotId, { sealed: true });
        continue;
      }
      if (opened.refused !== 'unsealed') {
        result.left++;
        continue;
      }
      if (known) {
        if (await runningTask(env, known.pointId)) continue;
        settle.add(known.pointId);
        continue;
      }
      if (await isLateDuplicate(env, view)) {
        await ctx.withRetries(() => ec2.deleteSnapshot(view.snapshotId));
        await ctx.log('info', `deleted ${view.snapshotId}: a late duplicate (token ${view.tags[TOKEN_TAG]})`);
        result.duplicatesDeleted++;
        continue;
      }
      result.left++;
    }
    // Points left `creating` by a task that ended (failed, interrupted) or never recorded the outcome.
    for (const p of await env.catalog.points.list({
      accountId: account.id,
      region: input.region,
      states: ['creating'],
      limit: 500,
    })) {
      if (!(await runningTask(env, p.id))) settle.add(p.id);
    }
    for (const pointId of settle) {
      const point = await env.catalog.points.get(pointId);
      if (!point) continue;
      result.sealed += await sealRecorded(env, ctx, ec2, point, found);
      await settleStates(env, point, found);
      result.pointsSettled++;
      result.retentionDeleted += await retain(env, ctx, point);
    }
    await ctx.log('info', `${account.name}/${input.region}: ${JSON.stringify(result)}`);
    return { result };
  } finally {
    ec2.destroy();
    await env.calls.flush(ctx.session.id);
  }
}

/** Whether the task that makes this point still runs (then its leftovers are not leftovers). */
async function runningTask(env: SnapshotEnv, pointId: string): Promise<boolean> {
  const point = await env.catalog.points.get(pointId);
  if (!point?.taskId) return false;
  const task = await env.catalog.tasks.get(point.taskId);
  return task?.state === 'running' || task?.state === 'queued';
}

/** Made by one of our sessions for one of our points that has its snapshots recorded already. */
async function isLateDuplicate(env: SnapshotEnv, view: SnapshotView): Promise<boolean> {
  const session = view.tags[SESSION_TAG];
  const token = view.tags[TOKEN_TAG];
  if (!session || !token || !(await env.catalog.sessions.get(session))) return false;
  const pointId = token.split('/')[0]!;
  const point = await env.catalog.points.get(pointId);
  if (!point || point.sessionId !== session) return false;
  const recorded = await env.catalog.points.snapshotsOf([pointId]);
  return recorded.length > 0;
}

/** Phase 2 for the point's recorded sources that lack their seal (replicas are sealed by their task). */
async function sealRecorded(
  env: SnapshotEnv,
  ctx: TaskContext,
  ec2: Ec2Snapshots,
  point: RestorePointRecord,
  found: SnapshotView[],
): Promise<number> {
  const snaps = await env.catalog.points.snapshotsOf([point.id]);
  const sources = snaps.filter((s) => s.role === 'source').sort((a, b) => a.device.localeCompare(b.device));
  const unsealed = sources.filter(
    (s) => !s.sealed && s.accountId === point.accountId && s.region === point.region,
  );
  if (unsealed.length === 0) return 0;
  // The task's own phase-2 tags when it got as far as making them (sealing again would give other slices).
  const task = point.taskId ? await env.catalog.tasks.get(point.taskId) : undefined;
  const saved = (task?.checkpoint as Checkpoint | null)?.sealTags;
  const policy = point.policyId ? await env.catalog.policies.getById(point.policyId) : undefined;
  const sealed = sealSet(env.secrets, {
    pointId: point.id,
    configuration: (point.configuration as never) ?? null,
    snapshots: sources.map((s) => ({
      snapshotId: s.snapshotId,
      seal: {
        v: 1 as const,
        point: point.id,
        policy: point.policyId,
        policyName: point.policyName ?? policy?.name ?? null,
        session: point.sessionId,
        instance: point.instanceId,
        awsAccount: point.awsAccountId,
        region: point.region,
        at: point.createdAt,
        device: s.device,
        volume: s.volumeId,
        sizeGiB: s.sizeGiB,
        role: 'source' as const,
        source: null,
        set: setReference(sources.map((x) => x.snapshotId)),
      },
    })),
  });
  let n = 0;
  for (const s of unsealed) {
    if (!found.some((f) => f.snapshotId === s.snapshotId)) continue;
    const tags =
      saved?.[s.snapshotId] ??
      Object.fromEntries(sealed.tags.get(s.snapshotId)!.map((t) => [t.Key, t.Value]));
    await ctx.withRetries(() => ec2.createTags([s.snapshotId], tags));
    await env.catalog.points.updateSnapshot(s.snapshotId, { sealed: true });
    await ctx.log('info', `sealed ${s.snapshotId} of ${point.id}: its seal had not been written`);
    n++;
  }
  return n;
}

/** Snapshot states from AWS (absent: deleted), then the point's state from its sources. */
async function settleStates(
  env: SnapshotEnv,
  point: RestorePointRecord,
  found: SnapshotView[],
): Promise<void> {
  const snaps = await env.catalog.points.snapshotsOf([point.id]);
  const here = snaps.filter((s) => s.accountId === point.accountId && s.region === point.region);
  for (const s of here) {
    const v = found.find((f) => f.snapshotId === s.snapshotId);
    const state: PointSnapshotRecord['state'] = !v
      ? s.state === 'deleted' || s.sealed
        ? s.state
        : 'deleted'
      : v.state === 'completed'
        ? 'completed'
        : v.state === 'pending'
          ? 'pending'
          : 'error';
    if (state !== s.state) await env.catalog.points.updateSnapshot(s.snapshotId, { state });
    s.state = state;
  }
  const sources = snaps.filter((s) => s.role === 'source');
  const alive = sources.filter((s) => s.state === 'completed' || s.state === 'pending');
  const state =
    sources.length === 0 || alive.length === 0
      ? 'failed'
      : alive.length === sources.length
        ? 'available'
        : 'partial';
  if (point.state === 'creating' || point.state !== state) {
    await env.catalog.points.update(point.id, { state }, env.clock.now().toISOString());
  }
}

async function retain(env: SnapshotEnv, ctx: TaskContext, point: RestorePointRecord): Promise<number> {
  if (!point.policyId) return 0;
  const policy = await env.catalog.policies.getById(point.policyId);
  if (!policy) return 0;
  const r = await applyRetention(
    env,
    ctx,
    {
      policyId: policy.id,
      instanceId: point.instanceId,
      retention: retentionOf(policy.document as unknown as PolicyDocument),
    },
    false,
  );
  return r.deleted;
}
