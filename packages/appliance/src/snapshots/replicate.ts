/**
 * Replicas: each completed source snapshot copied to the target (CopySnapshot in the target account and region,
 * re-encrypted with the target's key), sealed there as the same restore point. Into another account the source
 * is shared first, and unshared once the copy completed; a source under the AWS managed aws/ebs key cannot be
 * shared, so it is first copied under the customer managed key the policy names (`shareKmsKey`), or the
 * replica fails saying so. Copies wait in a queue under AWS's limit of concurrent copies per destination region.
 */
import type { Ec2Snapshots } from '@lifeboat/aws';
import type { PointSnapshotRecord, RestorePointRecord } from '@lifeboat/catalog';
import { type TaskContext, TaskError } from '../jobs/types.js';
import type { SnapshotEnv } from './env.js';
import { markerTags } from './markers.js';
import { configPiecesOf, openSeal, replicaSeal, sealTags } from './seal.js';
import { findByToken, type ResolvedReplica, type SnapshotTaskInput, waitFor } from './steps.js';

export async function replicateTarget(
  env: SnapshotEnv,
  ctx: TaskContext,
  sourceEc2: Ec2Snapshots,
  input: SnapshotTaskInput,
  point: RestorePointRecord,
  sources: PointSnapshotRecord[],
  target: ResolvedReplica,
): Promise<void> {
  if (sources.length === 0) return;
  const account = await env.account(target.accountId);
  const dest = env.ec2(account, target.region, ctx.session.id);
  const crossAccount = target.awsAccountId !== input.awsAccountId;
  try {
    const existing = (await env.catalog.points.snapshotsOf([point.id])).filter(
      (s) => s.role === 'replica' && s.target === target.target,
    );
    const replicas: PointSnapshotRecord[] = [];
    await Promise.all(
      sources.map(async (s) => {
        const done = existing.find((r) => r.sourceSnapshotId === s.snapshotId);
        replicas.push(
          done ?? (await copyOne(env, ctx, sourceEc2, dest, input, point, s, target, crossAccount)),
        );
      }),
    );
    replicas.sort((a, b) => a.device.localeCompare(b.device));
    await sealReplicas(env, ctx, sourceEc2, dest, input, replicas);
    await waitFor(env, ctx, dest, `${account.id}/${target.region}`, replicas);
    const failed = replicas.filter((r) => r.state === 'error');
    if (failed.length > 0) {
      throw new TaskError(
        'REPLICA_FAILED',
        `copies ended in error: ${failed.map((r) => r.snapshotId).join(', ')}`,
      );
    }
    await ctx.log('info', `replicated to ${target.target}: ${replicas.map((r) => r.snapshotId).join(', ')}`);
  } finally {
    dest.destroy();
  }
}

async function copyOne(
  env: SnapshotEnv,
  ctx: TaskContext,
  sourceEc2: Ec2Snapshots,
  dest: Ec2Snapshots,
  input: SnapshotTaskInput,
  point: RestorePointRecord,
  source: PointSnapshotRecord,
  target: ResolvedReplica,
  crossAccount: boolean,
): Promise<PointSnapshotRecord> {
  let from = source.snapshotId;
  let temporary: string | null = null;
  if (crossAccount) {
    if (source.encrypted && source.kmsKeyId && (await isAwsManaged(ctx, sourceEc2, source.kmsKeyId))) {
      if (!target.shareKmsKey) {
        throw new TaskError(
          'REPLICA_KEY_NOT_SHAREABLE',
          `snapshot ${source.snapshotId} is encrypted with the AWS managed key aws/ebs of account ${input.awsAccountId}, ` +
            `which cannot be shared with account ${target.awsAccountId}: name a customer managed key of ` +
            `${input.awsAccountId} in ${input.region} that ${target.awsAccountId} may use as the replica's shareKmsKey`,
        );
      }
      temporary = await copyWithToken(env, ctx, sourceEc2, {
        sourceRegion: input.region,
        sourceSnapshotId: source.snapshotId,
        kmsKeyId: target.shareKmsKey,
        token: `${point.id}/share/${target.target}/${source.device}`,
        description: `Lifeboat: ${source.snapshotId} under a shareable key for ${target.target} (temporary)`,
      });
      const tempId = temporary;
      const t = await ctx.park(() =>
        env.lookup.waitDone(
          `${input.accountId}/${input.region}/${ctx.session.id}`,
          sourceEc2,
          tempId,
          ctx.signal,
        ),
      );
      if (t?.state !== 'completed') {
        throw new TaskError(
          'REPLICA_FAILED',
          `the shareable copy ${temporary} ended ${t?.state ?? 'missing'}`,
        );
      }
      from = temporary;
    }
    await ctx.withRetries(() => sourceEc2.share(from, target.awsAccountId, 'add'));
  }
  const queue = env.copyQueue(target.awsAccountId, target.region);
  const replicaId = await queue.run(async () => {
    const id = await copyWithToken(env, ctx, dest, {
      sourceRegion: input.region,
      sourceSnapshotId: from,
      kmsKeyId: target.kmsKey,
      token: `${point.id}/${target.target}/${source.device}`,
      description: `Lifeboat ${input.policyName}: replica of ${source.snapshotId} (${point.id})`,
    });
    const record: PointSnapshotRecord = {
      ...source,
      snapshotId: id,
      role: 'replica',
      accountId: target.accountId,
      awsAccountId: target.awsAccountId,
      region: target.region,
      state: 'pending',
      sealed: false,
      sourceSnapshotId: source.snapshotId,
      target: target.target,
      encrypted: source.encrypted || target.kmsKey !== null,
      kmsKeyId: target.kmsKey,
      createdAt: env.clock.now().toISOString(),
    };
    await env.catalog.points.addSnapshot(record);
    await sealReplicas(env, ctx, sourceEc2, dest, input, [record]);
    // The copy counts against AWS's concurrent-copy limit until it completes: hold the queue's slot till then.
    await waitFor(env, ctx, dest, `${target.accountId}/${target.region}`, [record]);
    return record;
  }, ctx.signal);
  if (crossAccount) {
    await ctx.withRetries(() => sourceEc2.share(from, target.awsAccountId, 'remove'));
    if (temporary) await ctx.withRetries(() => sourceEc2.deleteSnapshot(temporary));
  }
  return replicaId;
}

async function copyWithToken(
  env: SnapshotEnv,
  ctx: TaskContext,
  ec2: Ec2Snapshots,
  o: {
    sourceRegion: string;
    sourceSnapshotId: string;
    kmsKeyId: string | null;
    token: string;
    description: string;
  },
): Promise<string> {
  return ctx.withRetries(
    async (attempt) => {
      if (attempt > 1 || ctx.task.attempts > 1) {
        const found = await findByToken(ctx, ec2, o.token);
        if (found.length > 0) return found.map((f) => f.snapshotId).sort()[0]!;
      }
      return ec2.copySnapshot({
        sourceRegion: o.sourceRegion,
        sourceSnapshotId: o.sourceSnapshotId,
        ...(o.kmsKeyId && { kmsKeyId: o.kmsKeyId }),
        tags: markerTags(ctx.session.id, ctx.task.id, o.token, env.clock.now()),
        description: o.description,
      });
    },
    { attempts: 10 },
  );
}

const managed = new Map<string, boolean>();

/** Whether a key is AWS managed (aws/ebs); asked once per key. */
async function isAwsManaged(ctx: TaskContext, ec2: Ec2Snapshots, keyId: string): Promise<boolean> {
  const known = managed.get(keyId);
  if (known !== undefined) return known;
  const key = await ctx.withRetries(() => ec2.describeKey(keyId));
  managed.set(keyId, key.manager === 'AWS');
  return key.manager === 'AWS';
}

/**
 * A replica's seal is its source's (read back from AWS and verified) naming the replica's own id and its source;
 * it carries the same configuration slices as its source.
 */
async function sealReplicas(
  env: SnapshotEnv,
  ctx: TaskContext,
  sourceEc2: Ec2Snapshots,
  dest: Ec2Snapshots,
  input: SnapshotTaskInput,
  replicas: PointSnapshotRecord[],
): Promise<void> {
  const todo = replicas.filter((r) => !r.sealed);
  if (todo.length === 0) return;
  const views = await ctx.withRetries(() =>
    env.lookup.describe(
      `${input.accountId}/${input.region}/${ctx.session.id}`,
      sourceEc2,
      todo.map((r) => r.sourceSnapshotId!),
    ),
  );
  for (const r of todo) {
    const source = views.get(r.sourceSnapshotId!);
    const opened = source ? openSeal(env.secrets, source.snapshotId, source.tags) : undefined;
    if (!source || !opened || !('seal' in opened)) {
      throw new TaskError(
        'SOURCE_NOT_SEALED',
        `source snapshot ${r.sourceSnapshotId} shows no valid seal: replica ${r.snapshotId} not sealed`,
      );
    }
    const tags = sealTags(
      env.secrets,
      r.snapshotId,
      replicaSeal(opened.seal, source.snapshotId),
      configPiecesOf(source.tags),
    );
    await ctx.withRetries(() =>
      dest.createTags([r.snapshotId], Object.fromEntries(tags.map((t) => [t.Key, t.Value]))),
    );
    await env.catalog.points.updateSnapshot(r.snapshotId, { sealed: true });
    r.sealed = true;
  }
}
