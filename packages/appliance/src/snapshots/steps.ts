/**
 * What the snapshot task and its replication share: the task's input, the lookup of a request's snapshots by
 * token, and the wait for snapshots to complete (batched, the task's slot given up).
 */
import type { Ec2Snapshots, InstanceConfiguration, SnapshotView } from '@lifeboat/aws';
import type { PointSnapshotRecord } from '@lifeboat/catalog';
import type { TaskContext } from '../jobs/types.js';
import type { SnapshotEnv } from './env.js';
import { TOKEN_TAG } from './markers.js';
import type { RetentionRules } from './retention.js';

export interface SelectedVolume {
  device: string;
  volumeId: string;
  sizeGiB: number;
  encrypted: boolean;
  kmsKeyId: string | null;
}

export interface ResolvedReplica {
  /** `<account name>/<region>`: the policy's name of the target, the key of its retention. */
  target: string;
  accountId: string;
  awsAccountId: string;
  region: string;
  kmsKey: string | null;
  shareKmsKey: string | null;
  keep: number;
}

export interface SnapshotTaskInput {
  policyId: string;
  policyName: string;
  accountId: string;
  awsAccountId: string;
  region: string;
  instanceId: string;
  instanceName: string | null;
  configuration: InstanceConfiguration;
  /** The volumes the set covers (the excluded ones left out), by device. */
  volumes: SelectedVolume[];
  excludeBoot: boolean;
  excludeVolumeIds: string[];
  replicas: ResolvedReplica[];
  retention: RetentionRules;
}

/** Looks snapshots up by their token tag: three tries over about seven seconds of the appliance's clock. */
export async function findByToken(
  ctx: Pick<TaskContext, 'sleep'>,
  ec2: Ec2Snapshots,
  token: string,
): Promise<SnapshotView[]> {
  for (let i = 0; ; i++) {
    const found = await ec2.describeSnapshots({ filters: [{ Name: `tag:${TOKEN_TAG}`, Values: [token] }] });
    if (found.length > 0 || i === 3) return found;
    await ctx.sleep(1000 * 2 ** i);
  }
}

/** Waits (slot given up) until every pending snapshot completed or failed; records the outcome. */
export async function waitFor(
  env: SnapshotEnv,
  ctx: TaskContext,
  ec2: Ec2Snapshots,
  key: string,
  snapshots: PointSnapshotRecord[],
): Promise<PointSnapshotRecord[]> {
  const pending = snapshots.filter((s) => s.state === 'pending');
  if (pending.length === 0) return snapshots;
  const views = await ctx.park(() =>
    Promise.all(
      pending.map((s) => env.lookup.waitDone(`${key}/${ctx.session.id}`, ec2, s.snapshotId, ctx.signal)),
    ),
  );
  for (const [i, s] of pending.entries()) {
    const v = views[i];
    const state = !v ? 'error' : v.state === 'completed' ? 'completed' : 'error';
    if (!v) await ctx.log('error', `snapshot ${s.snapshotId} is no longer shown by AWS`);
    else if (state === 'error')
      await ctx.log('error', `snapshot ${s.snapshotId}: ${v.state} ${v.stateMessage ?? ''}`);
    await env.catalog.points.updateSnapshot(s.snapshotId, {
      state,
      ...(v && { sizeGiB: v.sizeGiB, encrypted: v.encrypted, kmsKeyId: v.kmsKeyId }),
    });
    s.state = state;
    if (v) {
      s.encrypted = v.encrypted;
      s.kmsKeyId = v.kmsKeyId;
    }
  }
  return snapshots;
}
