/**
 * The EC2 (and KMS) calls of backup policies, for one account × region: the instances to protect with their
 * configuration, crash-consistent snapshot sets (CreateSnapshots), tags, batched DescribeSnapshots, copies,
 * sharing, deletion, and what a KMS key is. Every request is counted (`onCall`, per API and region) for the
 * session's cost history. Clients are made with `maxAttempts: 1` by default: the job engine retries throttling and
 * 5xx itself, with backoff on the appliance's clock, and a hidden SDK retry would be neither logged nor counted.
 */
import {
  CopySnapshotCommand,
  CreateSnapshotsCommand,
  CreateTagsCommand,
  DeleteSnapshotCommand,
  DescribeInstancesCommand,
  type DescribeInstancesCommandOutput,
  DescribeSnapshotsCommand,
  type DescribeSnapshotsCommandOutput,
  DescribeVolumesCommand,
  type DescribeVolumesCommandOutput,
  EC2Client,
  type Filter,
  GetEbsDefaultKmsKeyIdCommand,
  type Instance,
  ModifySnapshotAttributeCommand,
  type Snapshot,
  type Tag,
  type Volume,
} from '@aws-sdk/client-ec2';
import { DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  type AccountAccess,
  type AwsAccounts,
  awsError,
  type InstanceView,
  instanceView,
} from './accounts.js';
import { type InstanceConfiguration, instanceConfiguration } from './instance-config.js';

/** Told of every request sent: `ec2:CreateSnapshots`, `us-east-1`. */
export type AwsCallCounter = (api: string, region: string) => void;

export type AwsTags = Record<string, string>;

export interface SnapshotView {
  snapshotId: string;
  volumeId: string | null;
  /** EC2's: pending, completed, error, recoverable, recovering. */
  state: string;
  stateMessage: string | null;
  progress: string | null;
  startTime: string;
  sizeGiB: number;
  encrypted: boolean;
  kmsKeyId: string | null;
  ownerId: string;
  description: string | null;
  tags: AwsTags;
}

export interface ProtectedInstance {
  view: InstanceView;
  configuration: InstanceConfiguration;
}

export interface KeyView {
  arn: string;
  keyId: string;
  /** `AWS` for an AWS managed key (aws/ebs), `CUSTOMER` for a customer managed one. */
  manager: string;
  /** Enabled, Disabled, PendingDeletion, ... */
  state: string;
}

export interface Ec2SnapshotsOptions {
  onCall?: AwsCallCounter;
  /** Default 1 (the caller retries). */
  maxAttempts?: number;
}

const tagList = (tags: AwsTags): Tag[] => Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));

export function tagRecord(tags: Tag[] | undefined): AwsTags {
  const out: AwsTags = {};
  for (const t of tags ?? []) if (t.Key) out[t.Key] = t.Value ?? '';
  return out;
}

function snapshotView(s: Snapshot): SnapshotView {
  return {
    snapshotId: s.SnapshotId!,
    volumeId: s.VolumeId && s.VolumeId !== 'vol-ffffffff' ? s.VolumeId : null,
    state: s.State ?? 'pending',
    stateMessage: s.StateMessage ?? null,
    progress: s.Progress ?? null,
    startTime: s.StartTime ? new Date(s.StartTime).toISOString() : new Date(0).toISOString(),
    sizeGiB: s.VolumeSize ?? 0,
    encrypted: s.Encrypted ?? false,
    kmsKeyId: s.KmsKeyId ?? null,
    ownerId: s.OwnerId ?? '',
    description: s.Description ?? null,
    tags: tagRecord(s.Tags),
  };
}

/** DescribeSnapshots takes this many ids per request here (AWS sets no documented cap; URLs stay short). */
const IDS_PER_DESCRIBE = 200;

export class Ec2Snapshots {
  private readonly ec2: EC2Client;
  private readonly kms: KMSClient;

  constructor(
    accounts: AwsAccounts,
    access: AccountAccess,
    readonly region: string,
    options: Ec2SnapshotsOptions = {},
  ) {
    const config = accounts.clientConfig(access, region, { maxAttempts: options.maxAttempts ?? 1 });
    this.ec2 = new EC2Client(config);
    this.kms = new KMSClient(config);
    const onCall = options.onCall;
    if (onCall) {
      const counter = (service: string) =>
        ((next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) =>
          (args: unknown) => {
            onCall(`${service}:${String(context.commandName ?? '?').replace(/Command$/, '')}`, region);
            return next(args);
          }) as never;
      const options = { step: 'finalizeRequest', name: 'lifeboatCallCounter', priority: 'low' } as never;
      this.ec2.middlewareStack.add(counter('ec2'), options);
      this.kms.middlewareStack.add(counter('kms'), options);
    }
  }

  destroy(): void {
    this.ec2.destroy();
    this.kms.destroy();
  }

  /** Every instance of the region (terminated ones left out) with its volumes and configuration. */
  async instances(): Promise<ProtectedInstance[]> {
    const found: Instance[] = [];
    const volumes = new Map<string, Volume>();
    try {
      let token: string | undefined;
      do {
        const page: DescribeInstancesCommandOutput = await this.ec2.send(
          new DescribeInstancesCommand({ MaxResults: 500, ...(token && { NextToken: token }) }),
        );
        for (const r of page.Reservations ?? []) found.push(...(r.Instances ?? []));
        token = page.NextToken;
      } while (token);
      if (found.length > 0) {
        do {
          const page: DescribeVolumesCommandOutput = await this.ec2.send(
            new DescribeVolumesCommand({ MaxResults: 500, ...(token && { NextToken: token }) }),
          );
          for (const v of page.Volumes ?? []) if (v.VolumeId) volumes.set(v.VolumeId, v);
          token = page.NextToken;
        } while (token);
      }
    } catch (err) {
      throw awsError(err, `EC2 DescribeInstances in ${this.region}`);
    }
    return found
      .filter((i) => i.InstanceId && i.State?.Name !== 'terminated')
      .map((i) => ({ view: instanceView(i, volumes), configuration: instanceConfiguration(i, volumes) }));
  }

  /**
   * One crash-consistent set: a snapshot of each volume of the instance but the excluded ones, all at one
   * instant, tagged at creation (so that none is ever untagged).
   */
  async createSnapshotSet(
    instanceId: string,
    options: { excludeBoot: boolean; excludeVolumeIds: string[]; tags: AwsTags; description: string },
  ): Promise<SnapshotView[]> {
    try {
      const r = await this.ec2.send(
        new CreateSnapshotsCommand({
          InstanceSpecification: {
            InstanceId: instanceId,
            ExcludeBootVolume: options.excludeBoot,
            ...(options.excludeVolumeIds.length > 0 && { ExcludeDataVolumeIds: options.excludeVolumeIds }),
          },
          Description: options.description,
          TagSpecifications: [{ ResourceType: 'snapshot', Tags: tagList(options.tags) }],
        }),
      );
      return (r.Snapshots ?? []).map((s) =>
        snapshotView({
          SnapshotId: s.SnapshotId,
          VolumeId: s.VolumeId,
          State: s.State,
          StartTime: s.StartTime,
          VolumeSize: s.VolumeSize,
          Encrypted: s.Encrypted,
          OwnerId: s.OwnerId,
          Progress: s.Progress,
          Description: s.Description,
          Tags: s.Tags,
        }),
      );
    } catch (err) {
      throw awsError(err, `EC2 CreateSnapshots of ${instanceId}`);
    }
  }

  async createTags(resourceIds: string[], tags: AwsTags): Promise<void> {
    try {
      await this.ec2.send(new CreateTagsCommand({ Resources: resourceIds, Tags: tagList(tags) }));
    } catch (err) {
      throw awsError(err, `EC2 CreateTags on ${resourceIds.join(', ')}`);
    }
  }

  /**
   * Our own snapshots by id (batched; ids AWS does not know are left out, not an error: a deleted snapshot is
   * simply absent), or by filters (paginated).
   */
  async describeSnapshots(query: { ids: string[] } | { filters: Filter[] }): Promise<SnapshotView[]> {
    const out: SnapshotView[] = [];
    try {
      if ('ids' in query) {
        for (let i = 0; i < query.ids.length; i += IDS_PER_DESCRIBE) {
          // By filter, not SnapshotIds: one unknown id would fail the whole request (InvalidSnapshot.NotFound).
          const ids = query.ids.slice(i, i + IDS_PER_DESCRIBE);
          out.push(...(await this.describePages([{ Name: 'snapshot-id', Values: ids }])));
        }
        return out;
      }
      return await this.describePages(query.filters);
    } catch (err) {
      throw awsError(err, `EC2 DescribeSnapshots in ${this.region}`);
    }
  }

  private async describePages(filters: Filter[]): Promise<SnapshotView[]> {
    const out: SnapshotView[] = [];
    let token: string | undefined;
    do {
      const page: DescribeSnapshotsCommandOutput = await this.ec2.send(
        new DescribeSnapshotsCommand({
          OwnerIds: ['self'],
          Filters: filters,
          MaxResults: 1000,
          ...(token && { NextToken: token }),
        }),
      );
      out.push(...(page.Snapshots ?? []).map(snapshotView));
      token = page.NextToken;
    } while (token);
    return out;
  }

  /** Copies a snapshot into this region (and this account), encrypted with `kmsKeyId` when given. */
  async copySnapshot(options: {
    sourceRegion: string;
    sourceSnapshotId: string;
    kmsKeyId?: string;
    tags: AwsTags;
    description: string;
  }): Promise<string> {
    try {
      const r = await this.ec2.send(
        new CopySnapshotCommand({
          SourceRegion: options.sourceRegion,
          SourceSnapshotId: options.sourceSnapshotId,
          Description: options.description,
          ...(options.kmsKeyId && { Encrypted: true, KmsKeyId: options.kmsKeyId }),
          TagSpecifications: [{ ResourceType: 'snapshot', Tags: tagList(options.tags) }],
        }),
      );
      if (!r.SnapshotId) throw new Error('CopySnapshot returned no snapshot id');
      return r.SnapshotId;
    } catch (err) {
      throw awsError(err, `EC2 CopySnapshot of ${options.sourceSnapshotId} from ${options.sourceRegion}`);
    }
  }

  /** Lets another account create volumes from (and copy) a snapshot, or takes that back. */
  async share(snapshotId: string, accountId: string, action: 'add' | 'remove'): Promise<void> {
    try {
      await this.ec2.send(
        new ModifySnapshotAttributeCommand({
          SnapshotId: snapshotId,
          Attribute: 'createVolumePermission',
          OperationType: action,
          UserIds: [accountId],
        }),
      );
    } catch (err) {
      throw awsError(err, `EC2 ModifySnapshotAttribute (${action} ${accountId}) on ${snapshotId}`);
    }
  }

  /** Deletes a snapshot; `gone` when AWS no longer knows it (deleted before: the wanted end state). */
  async deleteSnapshot(snapshotId: string): Promise<'deleted' | 'gone'> {
    try {
      await this.ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId }));
      return 'deleted';
    } catch (err) {
      if ((err as { name?: string }).name === 'InvalidSnapshot.NotFound') return 'gone';
      throw awsError(err, `EC2 DeleteSnapshot ${snapshotId}`);
    }
  }

  /** The account's default EBS encryption key in this region (aws/ebs unless changed). */
  async defaultEbsKey(): Promise<string> {
    try {
      const r = await this.ec2.send(new GetEbsDefaultKmsKeyIdCommand({}));
      return r.KmsKeyId ?? 'alias/aws/ebs';
    } catch (err) {
      throw awsError(err, `EC2 GetEbsDefaultKmsKeyId in ${this.region}`);
    }
  }

  /** What a key id, ARN or alias names. */
  async describeKey(keyId: string): Promise<KeyView> {
    try {
      const r = await this.kms.send(new DescribeKeyCommand({ KeyId: keyId }));
      const m = r.KeyMetadata;
      if (!m?.Arn || !m.KeyId) throw new Error('DescribeKey returned no key');
      return {
        arn: m.Arn,
        keyId: m.KeyId,
        manager: m.KeyManager ?? 'CUSTOMER',
        state: m.KeyState ?? 'Enabled',
      };
    } catch (err) {
      throw awsError(err, `KMS DescribeKey ${keyId} in ${this.region}`);
    }
  }
}
