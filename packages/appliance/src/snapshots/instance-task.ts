/**
 * One instance of a policy run: a crash-consistent snapshot set of its selected volumes (CreateSnapshots), the
 * two tag phases (clear markers at creation, the seal by CreateTags), the wait for completion (batched across the
 * session, the task's slot given up meanwhile), the replicas, and the instance's retention. Every step is
 * recorded in the catalog before the next side effect, so a restart resumes where it stopped: snapshots made but
 * not recorded are found by their token tag, snapshots recorded but not sealed are sealed.
 *
 * Room for application-consistent snapshots: a `prepare` phase (SSM pre-script) would come before `create` and
 * a `thaw` phase (post-script) right after it, both checkpointed like the others.
 */
import { randomUUID } from 'node:crypto';
import type { Ec2Snapshots, SnapshotView } from '@lifeboat/aws';
import type { PointSnapshotRecord, RestorePointRecord } from '@lifeboat/catalog';
import { type TaskContext, TaskError, type TaskKind, type TaskOutcome } from '../jobs/types.js';
import { deleteVerified } from './delete.js';
import type { SnapshotEnv } from './env.js';
import { markerTags } from './markers.js';
import { loadPointStates } from './points-load.js';
import { replicateTarget } from './replicate.js';
import { decideRetention } from './retention.js';
import { type SnapshotSeal, sealSet as sealSetTags, setReference } from './seal.js';
import { findByToken, type SnapshotTaskInput, waitFor } from './steps.js';

export const SNAPSHOT_TASK = 'snapshot.instance';
export type { ResolvedReplica, SelectedVolume, SnapshotTaskInput } from './steps.js';

/**
 * What a restart resumes from: the point, and once made, the phase-2 tags of every source snapshot: the sealed
 * configuration has a random nonce, so sealing again would give other slices, and a set sealed half before a
 * crash and half after would not reassemble.
 */
export interface Checkpoint {
  pointId: string;
  sealTags?: Record<string, Record<string, string>>;
}

const iso = (env: SnapshotEnv) => env.clock.now().toISOString();

export function snapshotTaskKind(env: SnapshotEnv): TaskKind {
  const run = (ctx: TaskContext) => runInstance(env, ctx);
  return { kind: SNAPSHOT_TASK, run, resume: run };
}

async function runInstance(env: SnapshotEnv, ctx: TaskContext): Promise<TaskOutcome> {
  const input = ctx.task.input as SnapshotTaskInput;
  const account = await env.account(input.accountId);
  const ec2 = env.ec2(account, input.region, ctx.session.id);
  try {
    const point = await pointOf(env, ctx, input);
    ctx.progress(0.05, 'snapshot set');
    let sources = (await env.catalog.points.snapshotsOf([point.id])).filter((s) => s.role === 'source');
    if (sources.length === 0) sources = await createSet(env, ctx, ec2, input, point);
    ctx.progress(0.2, 'sealing');
    await sealSet(env, ctx, ec2, input, point, sources);
    ctx.progress(0.3, 'waiting for the snapshots to complete');
    sources = await waitFor(env, ctx, ec2, `${account.id}/${input.region}`, sources);
    const failed = sources.filter((s) => s.state === 'error');
    const state = failed.length === 0 ? 'available' : failed.length < sources.length ? 'partial' : 'failed';
    await env.catalog.points.update(point.id, { state }, iso(env));
    if (state === 'failed') {
      throw new TaskError(
        'SNAPSHOT_FAILED',
        `every snapshot of ${input.instanceId} ended in error: ${failed.map((s) => s.snapshotId).join(', ')}`,
      );
    }
    const warnings: string[] = [];
    if (state === 'partial')
      warnings.push(`snapshots in error: ${failed.map((s) => `${s.device} ${s.snapshotId}`).join(', ')}`);
    ctx.progress(0.6, input.replicas.length > 0 ? 'replicating' : 'retention');
    for (const target of input.replicas) {
      try {
        await replicateTarget(
          env,
          ctx,
          ec2,
          input,
          point,
          sources.filter((s) => s.state === 'completed'),
          target,
        );
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        const message = err instanceof Error ? err.message : String(err);
        warnings.push(`replica to ${target.target}: ${message}`);
        await ctx.log('error', `replica to ${target.target} failed: ${message}`);
      }
    }
    ctx.progress(0.9, 'retention');
    const retention = await applyRetention(env, ctx, input, false);
    return {
      ...(warnings.length > 0 && { warning: warnings.join('; ') }),
      result: {
        pointId: point.id,
        snapshots: sources.map((s) => ({ device: s.device, snapshotId: s.snapshotId, state: s.state })),
        retention,
      },
    };
  } finally {
    ec2.destroy();
    await env.calls.flush(ctx.session.id);
  }
}

/** The task's restore point: made (state creating) and checkpointed before any snapshot exists. */
async function pointOf(
  env: SnapshotEnv,
  ctx: TaskContext,
  input: SnapshotTaskInput,
): Promise<RestorePointRecord> {
  const cp = ctx.task.checkpoint as Checkpoint | null;
  if (cp?.pointId) {
    const found = await env.catalog.points.get(cp.pointId);
    if (found) return found;
  }
  const point = await env.catalog.points.insert({
    id: cp?.pointId ?? randomUUID(),
    policyId: input.policyId,
    policyName: input.policyName,
    accountId: input.accountId,
    awsAccountId: input.awsAccountId,
    region: input.region,
    instanceId: input.instanceId,
    sessionId: ctx.session.id,
    taskId: ctx.task.id,
    createdAt: iso(env),
    state: 'creating',
    configuration: input.configuration,
    overflow: null,
  });
  await ctx.checkpoint({ pointId: point.id } satisfies Checkpoint);
  return point;
}

/**
 * CreateSnapshots, tagged with the point's id as its token. Before any repeat (a retry after a 5xx or a network
 * error, or a restart) the snapshots are looked up by that token first, for a bounded time, since EC2's Describe
 * calls are eventually consistent; copies found beyond the first set (a late duplicate) are deleted.
 */
async function createSet(
  env: SnapshotEnv,
  ctx: TaskContext,
  ec2: Ec2Snapshots,
  input: SnapshotTaskInput,
  point: RestorePointRecord,
): Promise<PointSnapshotRecord[]> {
  const token = point.id;
  const made = await ctx.withRetries(async (attempt) => {
    if (attempt > 1 || ctx.task.attempts > 1) {
      const found = await findByToken(ctx, ec2, token);
      if (found.length > 0) return found;
    }
    return ec2.createSnapshotSet(input.instanceId, {
      excludeBoot: input.excludeBoot,
      excludeVolumeIds: input.excludeVolumeIds,
      tags: markerTags(ctx.session.id, ctx.task.id, token, env.clock.now()),
      description: `Lifeboat ${input.policyName}: ${input.instanceId} (${point.id})`,
    });
  });
  const set = firstSet(made);
  const late = made.filter((s) => !set.includes(s));
  for (const s of late) {
    await ctx.log('warn', `deleting ${s.snapshotId}: a duplicate of this restore point's set`);
    await ctx.withRetries(() => ec2.deleteSnapshot(s.snapshotId));
  }
  if (set.length === 0) {
    throw new TaskError(
      'NOTHING_TO_SNAPSHOT',
      `${input.instanceId} has no volume left to snapshot after the exclusions`,
    );
  }
  const byVolume = new Map(input.volumes.map((v) => [v.volumeId, v]));
  const records: PointSnapshotRecord[] = [];
  for (const s of set) {
    const v = s.volumeId ? byVolume.get(s.volumeId) : undefined;
    const record: PointSnapshotRecord = {
      snapshotId: s.snapshotId,
      pointId: point.id,
      role: 'source',
      accountId: input.accountId,
      awsAccountId: input.awsAccountId,
      region: input.region,
      device: v?.device ?? s.volumeId ?? 'unknown',
      volumeId: s.volumeId,
      sizeGiB: s.sizeGiB || v?.sizeGiB || 0,
      encrypted: s.encrypted,
      kmsKeyId: s.kmsKeyId ?? v?.kmsKeyId ?? null,
      state: 'pending',
      sealed: false,
      sourceSnapshotId: null,
      target: null,
      createdAt: s.startTime,
      deletedAt: null,
    };
    await env.catalog.points.addSnapshot(record);
    records.push(record);
  }
  // The point's instant is the set's; the seals (written next) say the same.
  Object.assign(point, await env.catalog.points.update(point.id, { createdAt: set[0]!.startTime }, iso(env)));
  await ctx.log('info', `snapshot set ${set.map((s) => s.snapshotId).join(', ')} of ${input.instanceId}`);
  return records.sort((a, b) => a.device.localeCompare(b.device));
}

/** The earliest set by start time (one CreateSnapshots call = one start time). */
function firstSet(snapshots: SnapshotView[]): SnapshotView[] {
  if (snapshots.length === 0) return [];
  const first = snapshots.map((s) => s.startTime).sort()[0];
  return snapshots.filter((s) => s.startTime === first);
}

/** Phase 2 of tagging: each snapshot's seal (bound to its id) and its share of the sealed configuration. */
async function sealSet(
  env: SnapshotEnv,
  ctx: TaskContext,
  ec2: Ec2Snapshots,
  input: SnapshotTaskInput,
  point: RestorePointRecord,
  sources: PointSnapshotRecord[],
): Promise<void> {
  if (sources.every((s) => s.sealed)) return;
  const cp = ctx.task.checkpoint as Checkpoint | null;
  let tagsBySnapshot = cp?.sealTags;
  if (!tagsBySnapshot || sources.some((s) => !tagsBySnapshot![s.snapshotId])) {
    const sealed = sealSetTags(env.secrets, {
      pointId: point.id,
      configuration: input.configuration,
      snapshots: sources.map((s) => ({ snapshotId: s.snapshotId, seal: baseSeal(input, point, s, sources) })),
    });
    if (sealed.configuration?.overflow) {
      await env.catalog.points.update(
        point.id,
        { overflow: { left: sealed.configuration.dropped, configuration: input.configuration } },
        iso(env),
      );
      await ctx.log(
        'info',
        `the configuration did not fit the tags (left out: ${sealed.configuration.dropped.join(', ')}): kept whole in the catalog`,
      );
    }
    tagsBySnapshot = Object.fromEntries(
      [...sealed.tags].map(([id, tags]) => [id, Object.fromEntries(tags.map((t) => [t.Key, t.Value]))]),
    );
    await ctx.checkpoint({ pointId: point.id, sealTags: tagsBySnapshot } satisfies Checkpoint);
  }
  for (const s of sources) {
    if (s.sealed) continue;
    const tags = tagsBySnapshot[s.snapshotId]!;
    await ctx.withRetries(() => ec2.createTags([s.snapshotId], tags));
    await env.catalog.points.updateSnapshot(s.snapshotId, { sealed: true });
    s.sealed = true;
  }
}

/** A source snapshot's seal, but its configuration reference (sealSet adds that). */
function baseSeal(
  input: Pick<SnapshotTaskInput, 'policyId' | 'policyName' | 'instanceId' | 'awsAccountId' | 'region'>,
  point: RestorePointRecord,
  s: PointSnapshotRecord,
  sources: PointSnapshotRecord[],
): Omit<SnapshotSeal, 'config'> {
  return {
    v: 1,
    point: point.id,
    policy: input.policyId,
    policyName: input.policyName,
    session: point.sessionId,
    instance: input.instanceId,
    awsAccount: input.awsAccountId,
    region: input.region,
    at: point.createdAt,
    device: s.device,
    volume: s.volumeId,
    sizeGiB: s.sizeGiB,
    role: 'source',
    source: null,
    set: setReference(sources.map((x) => x.snapshotId)),
  };
}

/** The instance's retention under this policy; returns what it did. */
export async function applyRetention(
  env: SnapshotEnv,
  ctx: TaskContext,
  input: Pick<SnapshotTaskInput, 'policyId' | 'instanceId' | 'retention'>,
  instanceGone: boolean,
): Promise<{ deleted: number; refused: number; kept: string[] }> {
  const states = await loadPointStates(env.catalog, {
    policyId: input.policyId,
    instanceId: input.instanceId,
  });
  const decision = decideRetention(states, input.retention, env.clock.now().getTime(), instanceGone);
  const kept = decision.kept.map((k) => `${k.point.id} (${k.layer}): ${k.reason}`);
  for (const k of kept) await ctx.log('info', `kept ${k}`);
  if (decision.delete.length === 0) return { deleted: 0, refused: 0, kept };
  const r = await deleteVerified(env, ctx, decision.delete, input.policyId);
  return { deleted: r.deleted + r.gone, refused: r.refused, kept };
}
