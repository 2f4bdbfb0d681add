import {
  CopySnapshotCommand,
  CreateSnapshotCommand,
  CreateSnapshotsCommand,
  CreateTagsCommand,
  CreateVolumeCommand,
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  type EC2Client,
  ModifySnapshotAttributeCommand,
  RegisterImageCommand,
} from '@aws-sdk/client-ec2';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createKmsKey } from '../kms/clients.js';
import { expectAwsError } from './helpers/errors.js';
import { launch } from './helpers/fixtures.js';
import { startTestSandbox, type TestSandbox } from './helpers/sandbox.js';

/**
 * What a backup policy does with EC2 snapshots: crash-consistent sets (CreateSnapshots), two-phase tagging,
 * batched waits (DescribeSnapshots by ids and filters), replication (CopySnapshot across regions and accounts,
 * re-encrypted) and deletion; with AWS's quotas and the eventual consistency of Describe calls. Default timing:
 * snapshots stay pending for 2 s of the sandbox clock, which the tests move.
 */
let sb: TestSandbox;
let ec2: EC2Client;

beforeAll(async () => {
  sb = await startTestSandbox();
  ec2 = sb.ec2(0, 'us-east-1');
});
afterAll(() => sb.close());

/** The sandbox's admin API over HTTP, as the product's tests reach it. */
async function admin(method: string, path: string, body?: unknown) {
  const r = await fetch(`${sb.sandbox.endpoint}/_sandbox/${path}`, {
    method,
    headers: { authorization: `Bearer ${sb.sandbox.adminToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

async function newVolume(client = ec2, az = 'us-east-1a') {
  const v = await client.send(new CreateVolumeCommand({ AvailabilityZone: az, Size: 1 }));
  sb.advance(1);
  return v.VolumeId!;
}

async function describeIds(ids: string[], client = ec2) {
  return (await client.send(new DescribeSnapshotsCommand({ SnapshotIds: ids }))).Snapshots!;
}

async function ownCount(client: EC2Client) {
  return (await client.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }))).Snapshots!.length;
}

describe('CreateSnapshots (crash-consistent sets)', () => {
  it('snapshots the instance minus exclusions, one StartTime, tags from the spec and the volume', async () => {
    const [i] = await launch(ec2, {
      Placement: { AvailabilityZone: 'us-east-1a' },
      BlockDeviceMappings: [
        { DeviceName: '/dev/sdf', Ebs: { VolumeSize: 2 } },
        { DeviceName: '/dev/sdg', Ebs: { VolumeSize: 3 } },
      ],
      TagSpecifications: [{ ResourceType: 'volume', Tags: [{ Key: 'App', Value: 'db' }] }],
    });
    const id = i!.InstanceId!;
    const vols = (
      await ec2.send(
        new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [id] }] }),
      )
    ).Volumes!;
    const byDevice = (d: string) => vols.find((v) => v.Attachments![0]!.Device === d)!;
    const root = vols.find((v) => v.Attachments![0]!.Device === i!.RootDeviceName)!;
    const sdf = byDevice('/dev/sdf');
    const sdg = byDevice('/dev/sdg');

    const set = await ec2.send(
      new CreateSnapshotsCommand({
        InstanceSpecification: { InstanceId: id, ExcludeDataVolumeIds: [sdg.VolumeId!] },
        Description: 'policy p1',
        TagSpecifications: [{ ResourceType: 'snapshot', Tags: [{ Key: 'lifeboat:policy', Value: 'p1' }] }],
        CopyTagsFromSource: 'volume',
      }),
    );
    const snaps = set.Snapshots!;
    expect(snaps.map((s) => s.VolumeId).sort()).toEqual([root.VolumeId, sdf.VolumeId].sort());
    const start = snaps[0]!.StartTime!.toISOString();
    for (const s of snaps) {
      const v = s.VolumeId === sdf.VolumeId ? sdf : root;
      expect(s.SnapshotId).toMatch(/^snap-[0-9a-f]{17}$/);
      expect(s.StartTime!.toISOString()).toBe(start);
      expect(s).toMatchObject({
        State: 'pending',
        VolumeSize: v.Size,
        Encrypted: false,
        OwnerId: '111111111111',
        Description: 'policy p1',
        Progress: '0%',
      });
      expect(s.Tags).toEqual([
        { Key: 'App', Value: 'db' },
        { Key: 'lifeboat:policy', Value: 'p1' },
      ]);
    }
    // Phase two: tags that name the set, once its snapshot ids are known.
    const ids = snaps.map((s) => s.SnapshotId!);
    await ec2.send(
      new CreateTagsCommand({ Resources: ids, Tags: [{ Key: 'lifeboat:set', Value: 'set-1' }] }),
    );
    const seen = await describeIds(ids);
    expect(seen.map((s) => s.SnapshotId).sort()).toEqual([...ids].sort());
    for (const s of seen) {
      expect(s.StartTime!.toISOString()).toBe(start);
      expect(s.Tags).toContainEqual({ Key: 'lifeboat:set', Value: 'set-1' });
      expect(s.Tags).toContainEqual({ Key: 'lifeboat:policy', Value: 'p1' });
    }

    // ExcludeBootVolume leaves the data volumes only; tags are not copied without CopyTagsFromSource.
    const data = await ec2.send(
      new CreateSnapshotsCommand({ InstanceSpecification: { InstanceId: id, ExcludeBootVolume: true } }),
    );
    expect(data.Snapshots!.map((s) => s.VolumeId).sort()).toEqual([sdf.VolumeId, sdg.VolumeId].sort());
    expect(data.Snapshots!.every((s) => s.Tags === undefined || s.Tags.length === 0)).toBe(true);

    // Refusals leave no snapshot behind.
    const before = await ownCount(ec2);
    await expectAwsError(
      ec2.send(
        new CreateSnapshotsCommand({
          InstanceSpecification: { InstanceId: id, ExcludeDataVolumeIds: [root.VolumeId!] },
        }),
      ),
      'InvalidParameterValue',
    );
    await expectAwsError(
      ec2.send(
        new CreateSnapshotsCommand({
          InstanceSpecification: { InstanceId: id },
          TagSpecifications: [{ ResourceType: 'volume', Tags: [{ Key: 'a', Value: 'b' }] }],
        }),
      ),
      'InvalidParameterValue',
    );
    // The volume's tag and 50 more: over the 50 tags a snapshot may carry.
    const fifty = Array.from({ length: 50 }, (_, n) => ({ Key: `t${n}`, Value: 'v' }));
    await expectAwsError(
      ec2.send(
        new CreateSnapshotsCommand({
          InstanceSpecification: { InstanceId: id },
          TagSpecifications: [{ ResourceType: 'snapshot', Tags: fifty }],
          CopyTagsFromSource: 'volume',
        }),
      ),
      'TagLimitExceeded',
    );
    await expectAwsError(
      ec2.send(new CreateSnapshotsCommand({ InstanceSpecification: { InstanceId: 'i-nope' } })),
      'InvalidInstanceID.Malformed',
    );
    expect(await ownCount(ec2)).toBe(before);

    // The wait: pending until the sandbox clock passes, then completed, by id and by the set's tag.
    sb.advance(3);
    const done = await ec2.send(
      new DescribeSnapshotsCommand({
        OwnerIds: ['self'],
        Filters: [
          { Name: 'tag:lifeboat:set', Values: ['set-1'] },
          { Name: 'status', Values: ['completed'] },
        ],
      }),
    );
    expect(done.Snapshots!.map((s) => s.SnapshotId).sort()).toEqual([...ids].sort());
  });
});

describe('DescribeSnapshots', () => {
  it('answers id lists, filters, Owner self and pages as AWS does', async () => {
    const client = sb.ec2(1, 'us-east-1');
    const vol = await newVolume(client);
    const ids: string[] = [];
    for (let n = 0; n < 7; n++) {
      const s = await client.send(
        new CreateSnapshotCommand({
          VolumeId: vol,
          TagSpecifications: [
            { ResourceType: 'snapshot', Tags: [{ Key: n % 2 ? 'odd' : 'even', Value: String(n) }] },
          ],
        }),
      );
      ids.push(s.SnapshotId!);
    }
    expect((await describeIds(ids.slice(0, 3), client)).map((s) => s.SnapshotId).sort()).toEqual(
      ids.slice(0, 3).sort(),
    );
    // One unknown id fails the whole call (AWS: "If you specify an invalid snapshot ID, an error is returned").
    const missing = 'snap-0123456789abcdef0';
    const e = await expectAwsError(describeIds([ids[0]!, missing], client), 'InvalidSnapshot.NotFound');
    expect(e.message).toBe(`The snapshot '${missing}' does not exist.`);
    await expectAwsError(describeIds(['snap-nope'], client), 'InvalidSnapshotID.Malformed');
    // As a filter value an unknown id is simply not matched.
    const byFilter = await client.send(
      new DescribeSnapshotsCommand({ Filters: [{ Name: 'snapshot-id', Values: [ids[1]!, missing] }] }),
    );
    expect(byFilter.Snapshots!.map((s) => s.SnapshotId)).toEqual([ids[1]]);

    const tagKey = await client.send(
      new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: [{ Name: 'tag-key', Values: ['odd'] }] }),
    );
    expect(tagKey.Snapshots).toHaveLength(3);
    const tagValue = await client.send(
      new DescribeSnapshotsCommand({ Filters: [{ Name: 'tag:even', Values: ['0', '6'] }] }),
    );
    expect(tagValue.Snapshots!.map((s) => s.SnapshotId).sort()).toEqual([ids[0], ids[6]].sort());
    const pendingOfVolume = await client.send(
      new DescribeSnapshotsCommand({
        Filters: [
          { Name: 'volume-id', Values: [vol] },
          { Name: 'status', Values: ['pending'] },
        ],
      }),
    );
    expect(pendingOfVolume.Snapshots).toHaveLength(7);

    // Pages of Owner self with a filter: 5 then 2, nothing repeated.
    const filters = [{ Name: 'volume-id', Values: [vol] }];
    const p1 = await client.send(
      new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: filters, MaxResults: 5 }),
    );
    const p2 = await client.send(
      new DescribeSnapshotsCommand({
        OwnerIds: ['self'],
        Filters: filters,
        MaxResults: 5,
        NextToken: p1.NextToken,
      }),
    );
    expect(p1.Snapshots).toHaveLength(5);
    expect(p2.NextToken).toBeUndefined();
    expect([...p1.Snapshots!, ...p2.Snapshots!].map((s) => s.SnapshotId).sort()).toEqual([...ids].sort());
    // MaxResults: 5..1000, more than 1000 reads as 1000; not together with SnapshotIds (API reference).
    await expectAwsError(
      client.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], MaxResults: 4 })),
      'InvalidParameterValue',
    );
    const big = await client.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], MaxResults: 5000 }));
    expect(big.Snapshots).toHaveLength(7);
    expect(big.NextToken).toBeUndefined();
    await expectAwsError(
      client.send(new DescribeSnapshotsCommand({ SnapshotIds: [ids[0]!], MaxResults: 5 })),
      'InvalidParameterCombination',
    );
    await expectAwsError(
      client.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], MaxResults: 5, NextToken: 'bogus' })),
      'InvalidPaginationToken',
    );
  });
});

describe('CreateTags on snapshots', () => {
  it('holds 50 tags per snapshot, TagSpecifications included; refuses long keys and values, aws: keys', async () => {
    const vol = await newVolume();
    const ten = Array.from({ length: 10 }, (_, n) => ({ Key: `spec${n}`, Value: 'v' }));
    const a = await ec2.send(
      new CreateSnapshotCommand({
        VolumeId: vol,
        TagSpecifications: [{ ResourceType: 'snapshot', Tags: ten }],
      }),
    );
    const b = await ec2.send(new CreateSnapshotCommand({ VolumeId: vol }));
    const forty = Array.from({ length: 40 }, (_, n) => ({ Key: `k${n}`, Value: 'v' }));
    await ec2.send(new CreateTagsCommand({ Resources: [a.SnapshotId!], Tags: forty }));
    // a is full: a call naming a and b changes neither.
    const e = await expectAwsError(
      ec2.send(
        new CreateTagsCommand({
          Resources: [b.SnapshotId!, a.SnapshotId!],
          Tags: [{ Key: 'x', Value: 'y' }],
        }),
      ),
      'TagLimitExceeded',
    );
    expect(e.message).toBe('The maximum number of Tags for a resource has been reached.');
    expect((await describeIds([b.SnapshotId!]))[0]!.Tags ?? []).toEqual([]);
    // Overwriting an existing key does not add a tag.
    await ec2.send(
      new CreateTagsCommand({ Resources: [a.SnapshotId!], Tags: [{ Key: 'k0', Value: 'new' }] }),
    );
    const tags = (await describeIds([a.SnapshotId!]))[0]!.Tags!;
    expect(tags).toHaveLength(50);
    expect(tags).toContainEqual({ Key: 'k0', Value: 'new' });

    const id = b.SnapshotId!;
    const key = await expectAwsError(
      ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'k'.repeat(129), Value: 'v' }] })),
      'InvalidParameterValue',
    );
    expect(key.message).toBe('Tag key exceeds the maximum length of 128 characters');
    await ec2.send(
      new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'k'.repeat(128), Value: 'v'.repeat(256) }] }),
    );
    const value = await expectAwsError(
      ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'k', Value: 'v'.repeat(257) }] })),
      'InvalidParameterValue',
    );
    expect(value.message).toBe('Tag value exceeds the maximum length of 256 characters');
    const reserved = await expectAwsError(
      ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'aws:backup', Value: 'v' }] })),
      'InvalidParameterValue',
    );
    expect(reserved.message).toBe("Tag keys starting with 'aws:' are reserved for internal use");
    // Another account's snapshot cannot be tagged, shared or not.
    await expectAwsError(
      sb.ec2(1).send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'a', Value: 'b' }] })),
      'InvalidSnapshot.NotFound',
    );
  });
});

describe('DeleteSnapshot', () => {
  it('refuses a snapshot an AMI uses, and other accounts', async () => {
    const vol = await newVolume();
    const s = await ec2.send(new CreateSnapshotCommand({ VolumeId: vol }));
    const id = s.SnapshotId!;
    sb.advance(3);
    const { ImageId } = await ec2.send(
      new RegisterImageCommand({
        Name: 'uses-snapshot',
        RootDeviceName: '/dev/xvda',
        Architecture: 'x86_64',
        VirtualizationType: 'hvm',
        BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: id } }],
      }),
    );
    const inUse = await expectAwsError(
      ec2.send(new DeleteSnapshotCommand({ SnapshotId: id })),
      'InvalidSnapshot.InUse',
    );
    expect(inUse.message).toBe(`The snapshot ${id} is currently in use by ${ImageId}`);
    // Not shared: another account cannot see it at all. Shared: it can see it, but not delete it.
    const other = sb.ec2(1);
    await expectAwsError(
      other.send(new DeleteSnapshotCommand({ SnapshotId: id })),
      'InvalidSnapshot.NotFound',
    );
    await ec2.send(
      new ModifySnapshotAttributeCommand({
        SnapshotId: id,
        Attribute: 'createVolumePermission',
        CreateVolumePermission: { Add: [{ UserId: '222222222222' }] },
      }),
    );
    await expectAwsError(
      other.send(new DeleteSnapshotCommand({ SnapshotId: id })),
      'UnauthorizedOperation',
      403,
    );
    await ec2.send(new DeregisterImageCommand({ ImageId: ImageId! }));
    await ec2.send(new DeleteSnapshotCommand({ SnapshotId: id }));
    await expectAwsError(describeIds([id]), 'InvalidSnapshot.NotFound');
  });
});

describe('replication and quotas', () => {
  afterEach(async () => {
    await admin('PUT', 'quotas', { concurrentSnapshotCopies: 20, snapshotsPerRegion: 100000 });
    await admin('POST', 'consistency', { describeLagSeconds: 0 });
  });

  it('copies across regions and accounts, re-encrypted under the destination key', async () => {
    const vol = await newVolume();
    sb.blocks.writeVolume(vol, 0, Buffer.from('replica'));
    const s = await ec2.send(new CreateSnapshotCommand({ VolumeId: vol }));
    sb.advance(3);
    await ec2.send(
      new ModifySnapshotAttributeCommand({
        SnapshotId: s.SnapshotId!,
        Attribute: 'createVolumePermission',
        CreateVolumePermission: { Add: [{ UserId: '222222222222' }] },
      }),
    );
    const key = await createKmsKey(sb.sandbox, 1, 'eu-west-1');
    const vault = sb.ec2(1, 'eu-west-1');
    const c = await vault.send(
      new CopySnapshotCommand({
        SourceRegion: 'us-east-1',
        SourceSnapshotId: s.SnapshotId!,
        Encrypted: true,
        KmsKeyId: key,
        TagSpecifications: [
          { ResourceType: 'snapshot', Tags: [{ Key: 'lifeboat:source', Value: s.SnapshotId! }] },
        ],
      }),
    );
    const [copy] = await describeIds([c.SnapshotId!], vault);
    expect(copy).toMatchObject({ OwnerId: '222222222222', Encrypted: true, KmsKeyId: key, State: 'pending' });
    expect(copy!.Tags).toEqual([{ Key: 'lifeboat:source', Value: s.SnapshotId }]);
    sb.advance(3);
    const restored = await vault.send(
      new CreateVolumeCommand({ AvailabilityZone: 'eu-west-1a', SnapshotId: c.SnapshotId! }),
    );
    expect(sb.blocks.readVolume(restored.VolumeId!, 0, 7).toString()).toBe('replica');
  });

  it('allows 20 pending copies per destination region and account, adjustable through admin quotas', async () => {
    const q = await admin('GET', 'quotas');
    expect(q.body).toMatchObject({
      concurrentSnapshotCopies: 20,
      snapshotsPerRegion: 100000,
      enabled: false,
    });
    expect((await admin('PUT', 'quotas', { concurrentSnapshotCopies: -1 })).status).toBe(400);
    const set = await admin('PUT', 'quotas', { concurrentSnapshotCopies: 2 });
    expect(set.body).toMatchObject({ concurrentSnapshotCopies: 2, snapshotsPerRegion: 100000 });

    const vol = await newVolume();
    const s = await ec2.send(new CreateSnapshotCommand({ VolumeId: vol }));
    sb.advance(3);
    const copy = (client: EC2Client) =>
      client.send(new CopySnapshotCommand({ SourceRegion: 'us-east-1', SourceSnapshotId: s.SnapshotId! }));
    const eu = sb.ec2(0, 'eu-west-1');
    const first = await copy(eu);
    await copy(eu);
    const e = await expectAwsError(copy(eu), 'ResourceLimitExceeded');
    expect(e.message).toBe(
      'Too many snapshot copies in progress. The limit is 2 for this destination region.',
    );
    // Per destination region, per account; the source region's own copies and other accounts are not counted.
    await copy(sb.ec2(0, 'us-west-2'));
    await copy(ec2);
    // A deleted pending copy frees its slot; completed copies do not count.
    await eu.send(new DeleteSnapshotCommand({ SnapshotId: first.SnapshotId! }));
    await copy(eu);
    await expectAwsError(copy(eu), 'ResourceLimitExceeded');
    sb.advance(3);
    await copy(eu);
    await copy(eu);
  });

  it('refuses snapshots past the per-region quota (SnapshotLimitExceeded), set through admin quotas', async () => {
    // Account 333333333333 in us-west-2 has no snapshot yet.
    const dr = sb.ec2(2, 'us-west-2');
    const [i] = await launch(dr, {
      Placement: { AvailabilityZone: 'us-west-2a' },
      BlockDeviceMappings: [{ DeviceName: '/dev/sdf', Ebs: { VolumeSize: 1 } }],
    });
    sb.advance(3);
    expect((await admin('PUT', 'quotas', { snapshotsPerRegion: 3 })).body.snapshotsPerRegion).toBe(3);
    const vol = await newVolume(dr, 'us-west-2a');
    await dr.send(new CreateSnapshotCommand({ VolumeId: vol }));
    await dr.send(new CreateSnapshotCommand({ VolumeId: vol }));
    // Two volumes would make 4: the set is refused whole.
    await expectAwsError(
      dr.send(new CreateSnapshotsCommand({ InstanceSpecification: { InstanceId: i!.InstanceId! } })),
      'SnapshotLimitExceeded',
    );
    expect(await ownCount(dr)).toBe(2);
    const third = await dr.send(new CreateSnapshotCommand({ VolumeId: vol }));
    await expectAwsError(dr.send(new CreateSnapshotCommand({ VolumeId: vol })), 'SnapshotLimitExceeded');
    sb.advance(3);
    await expectAwsError(
      dr.send(new CopySnapshotCommand({ SourceRegion: 'us-west-2', SourceSnapshotId: third.SnapshotId! })),
      'SnapshotLimitExceeded',
    );
    // Per region: another region of the same account still has room.
    await sb
      .ec2(2, 'eu-west-1')
      .send(new CopySnapshotCommand({ SourceRegion: 'us-west-2', SourceSnapshotId: third.SnapshotId! }));
    await dr.send(new DeleteSnapshotCommand({ SnapshotId: third.SnapshotId! }));
    await dr.send(new CreateSnapshotCommand({ VolumeId: vol }));
  });

  it('hides new snapshots from DescribeSnapshots for the configured lag; tags written meanwhile show after', async () => {
    expect((await admin('GET', 'consistency')).body).toEqual({ describeLagSeconds: 0 });
    expect((await admin('POST', 'consistency', { describeLagSeconds: -1 })).status).toBe(400);
    expect((await admin('POST', 'consistency', { describeLagSeconds: 5 })).body).toEqual({
      describeLagSeconds: 5,
    });
    const client = sb.ec2(2, 'us-east-1');
    const vol = await newVolume(client);
    const s = await client.send(
      new CreateSnapshotCommand({
        VolumeId: vol,
        TagSpecifications: [{ ResourceType: 'snapshot', Tags: [{ Key: 'phase', Value: '1' }] }],
      }),
    );
    const id = s.SnapshotId!;
    await expectAwsError(describeIds([id], client), 'InvalidSnapshot.NotFound');
    const byTag = await client.send(
      new DescribeSnapshotsCommand({ Filters: [{ Name: 'tag:phase', Values: ['1'] }] }),
    );
    expect(byTag.Snapshots).toEqual([]);
    // CreateTags reaches it at once; DescribeSnapshots shows both phases once the window has passed.
    await client.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'set', Value: 'nightly' }] }));
    sb.advance(4);
    expect(await ownCount(client)).toBe(0);
    sb.advance(1);
    const [seen] = await describeIds([id], client);
    expect(seen!.Tags).toEqual([
      { Key: 'phase', Value: '1' },
      { Key: 'set', Value: 'nightly' },
    ]);
    const tagged = await client.send(
      new DescribeSnapshotsCommand({
        OwnerIds: ['self'],
        Filters: [{ Name: 'tag:set', Values: ['nightly'] }],
      }),
    );
    expect(tagged.Snapshots!.map((x) => x.SnapshotId)).toEqual([id]);
    // Copies too, in their destination.
    const eu = sb.ec2(2, 'eu-west-1');
    const c = await eu.send(new CopySnapshotCommand({ SourceRegion: 'us-east-1', SourceSnapshotId: id }));
    await expectAwsError(describeIds([c.SnapshotId!], eu), 'InvalidSnapshot.NotFound');
    sb.advance(5);
    expect((await describeIds([c.SnapshotId!], eu))[0]!.SnapshotId).toBe(c.SnapshotId);
  });
});
