/**
 * From a policy to a session: the instances it selects now (a fresh DescribeInstances + DescribeVolumes per
 * account × region, so that tags and configurations are current and each instance's task needs no Describe of
 * its own), one snapshot task per instance, a retention task per account × region for the policy's instances no
 * longer selected or gone, and a failing task per account × region that could not be read (with AWS's error).
 */
import { randomUUID } from 'node:crypto';
import type { ProtectedInstance } from '@lifeboat/aws';
import type { AccountRecord } from '@lifeboat/catalog';
import type { Clock } from '../clock.js';
import { withRetries } from '../jobs/retry.js';
import type { TaskSpec } from '../jobs/types.js';
import type { SnapshotEnv } from '../snapshots/env.js';
import { SNAPSHOT_TASK } from '../snapshots/instance-task.js';
import { type RetentionRules, retentionOf } from '../snapshots/retention.js';
import type { ResolvedReplica, SelectedVolume, SnapshotTaskInput } from '../snapshots/steps.js';
import { type PolicyDocument, sameDevice, selects } from './document.js';

export const REGION_FAILED_TASK = 'policy.region';
export const RETENTION_TASK = 'snapshot.retention';

export interface RegionFailedInput {
  account: string;
  region: string;
  error: { code: string; message: string };
}

export interface RetentionTaskInput {
  policyId: string;
  accountId: string;
  region: string;
  instances: Array<{ instanceId: string; gone: boolean }>;
  retention: RetentionRules;
}

export interface Plan {
  tasks: TaskSpec[];
  /** The key the planner's AWS calls were counted under (moved to the session once it exists). */
  callsKey: string;
  instances: number;
}

export const retentionRules = (doc: PolicyDocument): RetentionRules => retentionOf(doc);

export async function resolveReplicas(env: SnapshotEnv, doc: PolicyDocument): Promise<ResolvedReplica[]> {
  const out: ResolvedReplica[] = [];
  for (const r of doc.replicas ?? []) {
    const a = await env.accountByName(r.account);
    out.push({
      target: `${r.account}/${r.region}`,
      accountId: a.id,
      awsAccountId: a.awsAccountId,
      region: r.region,
      kmsKey: r.kmsKey ?? null,
      shareKmsKey: r.shareKmsKey ?? null,
      keep: r.keep,
    });
  }
  return out;
}

/** The volumes a policy covers on an instance, and what CreateSnapshots must leave out. */
export function volumesOf(doc: PolicyDocument, p: ProtectedInstance) {
  const excluded = doc.resources.exclude?.devices ?? [];
  const isExcluded = (device: string | null) =>
    device !== null && excluded.some((d) => sameDevice(d, device));
  const root = p.configuration.rootDeviceName ?? null;
  const volumes: SelectedVolume[] = [];
  const excludeVolumeIds: string[] = [];
  let excludeBoot = false;
  for (const v of p.view.volumes) {
    if (isExcluded(v.device)) {
      if (root && v.device && sameDevice(root, v.device)) excludeBoot = true;
      else excludeVolumeIds.push(v.volumeId);
      continue;
    }
    volumes.push({
      device: v.device ?? v.volumeId,
      volumeId: v.volumeId,
      sizeGiB: v.sizeGiB,
      encrypted: v.encrypted,
      kmsKeyId: v.kmsKeyId,
    });
  }
  return {
    volumes,
    excludeVolumeIds,
    excludeBoot,
    excludedDevices: p.view.volumes.filter((v) => isExcluded(v.device)).map((v) => v.device ?? v.volumeId),
  };
}

export async function planRun(
  env: SnapshotEnv,
  clock: Clock,
  policy: { id: string; name: string; document: PolicyDocument },
): Promise<Plan> {
  const doc = policy.document;
  const callsKey = `plan-${randomUUID()}`;
  const replicas = await resolveReplicas(env, doc);
  const retention = retentionRules(doc);
  const tasks: TaskSpec[] = [];
  const selectedKeys = new Set<string>();
  const seenRegions = new Map<string, Set<string>>();
  let instances = 0;
  for (const name of doc.resources.accounts) {
    const account = await env.accountByName(name);
    for (const region of doc.resources.regions) {
      let found: ProtectedInstance[];
      try {
        found = await readRegion(env, clock, account, region, callsKey);
      } catch (err) {
        const e = err as { awsCode?: string; code?: string; message?: string };
        tasks.push({
          kind: REGION_FAILED_TASK,
          resource: `${name}/${region}`,
          account: name,
          region,
          input: {
            account: name,
            region,
            error: { code: e.awsCode ?? e.code ?? 'ERROR', message: e.message ?? String(err) },
          } satisfies RegionFailedInput,
        });
        continue;
      }
      seenRegions.set(`${account.id}/${region}`, new Set(found.map((f) => f.view.instanceId)));
      for (const p of found) {
        if (!selects(doc, { instanceId: p.view.instanceId, tags: p.view.tags })) continue;
        const v = volumesOf(doc, p);
        selectedKeys.add(`${account.id}/${region}/${p.view.instanceId}`);
        instances++;
        tasks.push({
          kind: SNAPSHOT_TASK,
          resource: p.view.instanceId,
          account: name,
          region,
          input: {
            policyId: policy.id,
            policyName: policy.name,
            accountId: account.id,
            awsAccountId: account.awsAccountId,
            region,
            instanceId: p.view.instanceId,
            instanceName: p.view.name,
            configuration: p.configuration,
            volumes: v.volumes,
            excludeBoot: v.excludeBoot,
            excludeVolumeIds: v.excludeVolumeIds,
            replicas,
            retention,
          } satisfies SnapshotTaskInput,
        });
      }
    }
  }
  tasks.push(...(await retentionTasks(env, policy.id, retention, selectedKeys, seenRegions)));
  return { tasks, callsKey, instances };
}

async function readRegion(
  env: SnapshotEnv,
  clock: Clock,
  account: AccountRecord,
  region: string,
  callsKey: string,
): Promise<ProtectedInstance[]> {
  const ec2 = env.ec2(account, region, callsKey);
  try {
    return await withRetries(() => ec2.instances(), { clock });
  } finally {
    ec2.destroy();
  }
}

/** The policy's instances that have restore points but were not selected this time (deselected, or gone). */
async function retentionTasks(
  env: SnapshotEnv,
  policyId: string,
  retention: RetentionRules,
  selected: Set<string>,
  seenRegions: Map<string, Set<string>>,
): Promise<TaskSpec[]> {
  const byRegion = new Map<string, RetentionTaskInput>();
  let before: { createdAt: string; id: string } | undefined;
  for (;;) {
    const page = await env.catalog.points.list({ policyId, limit: 500, ...(before && { before }) });
    for (const p of page) {
      if (!p.accountId) continue;
      const key = `${p.accountId}/${p.region}`;
      if (selected.has(`${key}/${p.instanceId}`)) continue;
      const t = byRegion.get(key) ?? {
        policyId,
        accountId: p.accountId,
        region: p.region,
        instances: [],
        retention,
      };
      byRegion.set(key, t);
      if (t.instances.some((i) => i.instanceId === p.instanceId)) continue;
      const seen = seenRegions.get(key);
      const inventory = await env.catalog.inventory.get(p.accountId, p.region, p.instanceId);
      const gone = seen ? !seen.has(p.instanceId) : inventory?.state === 'gone' || !inventory;
      t.instances.push({ instanceId: p.instanceId, gone });
    }
    if (page.length < 500) break;
    const last = page[page.length - 1]!;
    before = { createdAt: last.createdAt, id: last.id };
  }
  const out: TaskSpec[] = [];
  for (const t of byRegion.values()) {
    const a = await env.catalog.accounts.getById(t.accountId);
    out.push({
      kind: RETENTION_TASK,
      resource: `retention ${t.region}`,
      account: a?.name ?? t.accountId,
      region: t.region,
      input: t,
    });
  }
  return out;
}
