import {
  CopySnapshotCommand,
  CreateSnapshotCommand,
  CreateSnapshotsCommand,
  CreateVolumeCommand,
  DeleteSnapshotCommand,
  DescribeSnapshotAttributeCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  type EC2Client,
  ModifySnapshotAttributeCommand,
  ResetSnapshotAttributeCommand,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKmsKey } from '../kms/clients.js';
import { expectAwsError } from './helpers/errors.js';
import { launch } from './helpers/fixtures.js';
import { startTestSandbox, type TestSandbox } from './helpers/sandbox.js';

let sb: TestSandbox;
let ec2: EC2Client;

beforeAll(async () => {
  sb = await startTestSandbox();
  ec2 = sb.ec2(0, 'us-east-1');
});
afterAll(() => sb.close());

async function newVolume(
  client = ec2,
  extra: Partial<ConstructorParameters<typeof CreateVolumeCommand>[0]> = {},
) {
  const v = await client.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1, ...extra }));
  sb.advance(2);
  return v.VolumeId!;
}

async function snap(id: string, client = ec2) {
  const r = await client.send(new DescribeSnapshotsCommand({ SnapshotIds: [id] }));
  return r.Snapshots![0]!;
}

describe('CreateSnapshot', () => {
  it('captures the bytes at the instant and completes over time', async () => {
    const vol = await newVolume();
    sb.blocks.writeVolume(vol, 0, Buffer.from('first'));
    const s = await ec2.send(
      new CreateSnapshotCommand({
        VolumeId: vol,
        Description: 'nightly',
        TagSpecifications: [{ ResourceType: 'snapshot', Tags: [{ Key: 'Backup', Value: 'yes' }] }],
      }),
    );
    expect(s.SnapshotId).toMatch(/^snap-[0-9a-f]{17}$/);
    expect(s).toMatchObject({
      State: 'pending',
      VolumeId: vol,
      VolumeSize: 1,
      Description: 'nightly',
      OwnerId: '111111111111',
    });
    expect(s.Tags).toEqual([{ Key: 'Backup', Value: 'yes' }]);
    sb.blocks.writeVolume(vol, 0, Buffer.from('later'));
    sb.advance(1);
    const mid = await snap(s.SnapshotId!);
    expect(mid.State).toBe('pending');
    expect(mid.Progress).toMatch(/^\d+%$/);
    await expectAwsError(
      ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', SnapshotId: s.SnapshotId! })),
      'IncorrectState',
    );
    sb.advance(2);
    expect(await snap(s.SnapshotId!)).toMatchObject({ State: 'completed', Progress: '100%' });
    const restored = await ec2.send(
      new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', SnapshotId: s.SnapshotId! }),
    );
    expect(restored).toMatchObject({ Size: 1, SnapshotId: s.SnapshotId });
    expect(sb.blocks.readVolume(restored.VolumeId!, 0, 5).toString()).toBe('first');
  });

  it('refuses unknown volumes', async () => {
    await expectAwsError(
      ec2.send(new CreateSnapshotCommand({ VolumeId: 'vol-0123456789abcdef0' })),
      'InvalidVolume.NotFound',
    );
  });
});

describe('CreateSnapshots', () => {
  it('snapshots every volume of an instance, honouring ExcludeBootVolume and copying volume tags', async () => {
    const [i] = await launch(ec2, {
      Placement: { AvailabilityZone: 'us-east-1a' },
      BlockDeviceMappings: [
        { DeviceName: '/dev/sdf', Ebs: { VolumeSize: 1 } },
        { DeviceName: '/dev/sdg', Ebs: { VolumeSize: 1 } },
      ],
      TagSpecifications: [{ ResourceType: 'volume', Tags: [{ Key: 'App', Value: 'db' }] }],
    });
    const id = i!.InstanceId!;
    const all = await ec2.send(
      new CreateSnapshotsCommand({
        InstanceSpecification: { InstanceId: id },
        Description: 'consistent',
        CopyTagsFromSource: 'volume',
      }),
    );
    expect(all.Snapshots).toHaveLength(3);
    expect(all.Snapshots!.every((s) => s.State === 'pending' && s.Description === 'consistent')).toBe(true);
    expect(all.Snapshots![0]!.Tags).toEqual([{ Key: 'App', Value: 'db' }]);
    const startTimes = new Set(all.Snapshots!.map((s) => s.StartTime?.toISOString()));
    expect(startTimes.size).toBe(1);
    const vols = await ec2.send(
      new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [id] }] }),
    );
    const sdg = vols.Volumes!.find((v) => v.Attachments![0]!.Device === '/dev/sdg')!.VolumeId!;
    const some = await ec2.send(
      new CreateSnapshotsCommand({
        InstanceSpecification: { InstanceId: id, ExcludeBootVolume: true, ExcludeDataVolumeIds: [sdg] },
        TagSpecifications: [{ ResourceType: 'snapshot', Tags: [{ Key: 'Run', Value: '2' }] }],
      }),
    );
    expect(some.Snapshots).toHaveLength(1);
    expect(some.Snapshots![0]!.Tags).toEqual([{ Key: 'Run', Value: '2' }]);
    await expectAwsError(
      ec2.send(new CreateSnapshotsCommand({ InstanceSpecification: { InstanceId: 'i-0123456789abcdef0' } })),
      'InvalidInstanceID.NotFound',
    );
  });
});

describe('DescribeSnapshots', () => {
  it('selects by owner, restorable-by, id, filters and pages', async () => {
    const client = sb.ec2(2, 'us-east-1');
    const vol = await newVolume(client);
    const ids: string[] = [];
    for (let n = 0; n < 6; n++) {
      const s = await client.send(
        new CreateSnapshotCommand({
          VolumeId: vol,
          TagSpecifications: [{ ResourceType: 'snapshot', Tags: [{ Key: 'n', Value: String(n) }] }],
        }),
      );
      ids.push(s.SnapshotId!);
    }
    const own = await client.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }));
    expect(own.Snapshots?.map((s) => s.SnapshotId).sort()).toEqual([...ids].sort());
    const byTag = await client.send(
      new DescribeSnapshotsCommand({ Filters: [{ Name: 'tag:n', Values: ['1', '3'] }] }),
    );
    expect(byTag.Snapshots).toHaveLength(2);
    const byVolume = await client.send(
      new DescribeSnapshotsCommand({
        Filters: [
          { Name: 'volume-id', Values: [vol] },
          { Name: 'status', Values: ['pending'] },
        ],
      }),
    );
    expect(byVolume.Snapshots).toHaveLength(6);
    const p1 = await client.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], MaxResults: 5 }));
    const p2 = await client.send(
      new DescribeSnapshotsCommand({ OwnerIds: ['self'], MaxResults: 5, NextToken: p1.NextToken }),
    );
    expect(p1.Snapshots).toHaveLength(5);
    expect(p2.Snapshots).toHaveLength(1);
    expect(p2.NextToken).toBeUndefined();
    await expectAwsError(
      client.send(new DescribeSnapshotsCommand({ SnapshotIds: ['snap-0123456789abcdef0'] })),
      'InvalidSnapshot.NotFound',
    );
    // Another account sees none of them.
    const other = await sb
      .ec2(1, 'us-east-1')
      .send(new DescribeSnapshotsCommand({ OwnerIds: ['333333333333'] }));
    expect(other.Snapshots).toEqual([]);
  });
});

describe('sharing', () => {
  it('shares with an account, which can describe and restore; reset withdraws it', async () => {
    const vol = await newVolume();
    sb.blocks.writeVolume(vol, 4096, Buffer.from('shared bytes'));
    const s = await ec2.send(new CreateSnapshotCommand({ VolumeId: vol }));
    sb.advance(3);
    const backup = sb.ec2(1, 'us-east-1');
    await expectAwsError(
      backup.send(new DescribeSnapshotsCommand({ SnapshotIds: [s.SnapshotId!] })),
      'InvalidSnapshot.NotFound',
    );
    await ec2.send(
      new ModifySnapshotAttributeCommand({
        SnapshotId: s.SnapshotId!,
        Attribute: 'createVolumePermission',
        CreateVolumePermission: { Add: [{ UserId: '222222222222' }] },
      }),
    );
    const attr = await ec2.send(
      new DescribeSnapshotAttributeCommand({
        SnapshotId: s.SnapshotId!,
        Attribute: 'createVolumePermission',
      }),
    );
    expect(attr.CreateVolumePermissions).toEqual([{ UserId: '222222222222' }]);
    const seen = await backup.send(new DescribeSnapshotsCommand({ RestorableByUserIds: ['self'] }));
    expect(seen.Snapshots?.map((x) => x.SnapshotId)).toContain(s.SnapshotId);
    expect(seen.Snapshots?.find((x) => x.SnapshotId === s.SnapshotId)?.OwnerId).toBe('111111111111');
    const notOwn = await backup.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }));
    expect(notOwn.Snapshots?.map((x) => x.SnapshotId)).not.toContain(s.SnapshotId);
    const restored = await backup.send(
      new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', SnapshotId: s.SnapshotId! }),
    );
    expect(sb.blocks.readVolume(restored.VolumeId!, 4096, 12).toString()).toBe('shared bytes');
    await expectAwsError(
      backup.send(new DeleteSnapshotCommand({ SnapshotId: s.SnapshotId! })),
      'UnauthorizedOperation',
      403,
    );
    await ec2.send(
      new ResetSnapshotAttributeCommand({ SnapshotId: s.SnapshotId!, Attribute: 'createVolumePermission' }),
    );
    await expectAwsError(
      backup.send(new DescribeSnapshotsCommand({ SnapshotIds: [s.SnapshotId!] })),
      'InvalidSnapshot.NotFound',
    );
  });

  it('makes a snapshot public with Group all, and refuses malformed accounts', async () => {
    const vol = await newVolume();
    const s = await ec2.send(new CreateSnapshotCommand({ VolumeId: vol }));
    await ec2.send(
      new ModifySnapshotAttributeCommand({
        SnapshotId: s.SnapshotId!,
        Attribute: 'createVolumePermission',
        CreateVolumePermission: { Add: [{ Group: 'all' }] },
      }),
    );
    const pub = await sb
      .ec2(2, 'us-east-1')
      .send(new DescribeSnapshotsCommand({ RestorableByUserIds: ['all'] }));
    expect(pub.Snapshots?.map((x) => x.SnapshotId)).toContain(s.SnapshotId);
    await expectAwsError(
      ec2.send(
        new ModifySnapshotAttributeCommand({
          SnapshotId: s.SnapshotId!,
          Attribute: 'createVolumePermission',
          CreateVolumePermission: { Add: [{ UserId: 'nobody' }] },
        }),
      ),
      'InvalidUserID.Malformed',
    );
  });
});

describe('CopySnapshot', () => {
  it('copies to another region with encryption, completing over time; later copies are incremental', async () => {
    const vol = await newVolume();
    sb.blocks.writeVolume(vol, 0, Buffer.from('v1'));
    const s1 = await ec2.send(new CreateSnapshotCommand({ VolumeId: vol }));
    const euKey = await createKmsKey(sb.sandbox, 0, 'eu-west-1');
    const eu = sb.ec2(0, 'eu-west-1');
    await expectAwsError(
      eu.send(new CopySnapshotCommand({ SourceRegion: 'us-east-1', SourceSnapshotId: s1.SnapshotId! })),
      'IncorrectState',
    );
    sb.advance(3);
    const c1 = await eu.send(
      new CopySnapshotCommand({
        SourceRegion: 'us-east-1',
        SourceSnapshotId: s1.SnapshotId!,
        Encrypted: true,
        KmsKeyId: euKey,
        TagSpecifications: [{ ResourceType: 'snapshot', Tags: [{ Key: 'Copy', Value: '1' }] }],
      }),
    );
    expect(c1.Tags).toEqual([{ Key: 'Copy', Value: '1' }]);
    const copied = await snap(c1.SnapshotId!, eu);
    expect(copied).toMatchObject({
      State: 'pending',
      Encrypted: true,
      KmsKeyId: euKey,
      Description: `[Copied ${s1.SnapshotId} from us-east-1]`,
      VolumeSize: 1,
    });
    sb.advance(3);
    expect((await snap(c1.SnapshotId!, eu)).State).toBe('completed');
    const restored = await eu.send(
      new CreateVolumeCommand({ AvailabilityZone: 'eu-west-1a', SnapshotId: c1.SnapshotId! }),
    );
    expect(restored.Encrypted).toBe(true);
    expect(sb.blocks.readVolume(restored.VolumeId!, 0, 2).toString()).toBe('v1');
    // Second copy of the same lineage under the same key: incremental, so it joins the source's lineage.
    sb.blocks.writeVolume(vol, 0, Buffer.from('v2'));
    const s2 = await ec2.send(new CreateSnapshotCommand({ VolumeId: vol }));
    sb.advance(3);
    const c2 = await eu.send(
      new CopySnapshotCommand({
        SourceRegion: 'us-east-1',
        SourceSnapshotId: s2.SnapshotId!,
        Encrypted: true,
        KmsKeyId: euKey,
      }),
    );
    expect(sb.blocks.lineageOf(c2.SnapshotId!)).toBe(sb.blocks.lineageOf(s2.SnapshotId!));
    expect(sb.blocks.lineageOf(c1.SnapshotId!)).not.toBe(sb.blocks.lineageOf(s1.SnapshotId!));
    await expectAwsError(
      eu.send(
        new CopySnapshotCommand({ SourceRegion: 'us-east-1', SourceSnapshotId: 'snap-0123456789abcdef0' }),
      ),
      'InvalidSnapshot.NotFound',
    );
    await expectAwsError(
      eu.send(
        new CopySnapshotCommand({
          SourceRegion: 'us-east-1',
          SourceSnapshotId: s2.SnapshotId!,
          KmsKeyId: 'alias/x',
        }),
      ),
      'InvalidParameterDependency',
    );
  });
});

describe('DeleteSnapshot', () => {
  it('deletes, then answers InvalidSnapshot.NotFound', async () => {
    const vol = await newVolume();
    const s = await ec2.send(new CreateSnapshotCommand({ VolumeId: vol }));
    await ec2.send(new DeleteSnapshotCommand({ SnapshotId: s.SnapshotId! }));
    await expectAwsError(
      ec2.send(new DeleteSnapshotCommand({ SnapshotId: s.SnapshotId! })),
      'InvalidSnapshot.NotFound',
    );
    await expectAwsError(
      ec2.send(new DeleteSnapshotCommand({ SnapshotId: 'snap-bad' })),
      'InvalidSnapshotID.Malformed',
    );
  });
});
