import {
  AttachVolumeCommand,
  CreateVolumeCommand,
  DeleteVolumeCommand,
  DescribeVolumesCommand,
  DescribeVolumesModificationsCommand,
  DetachVolumeCommand,
  type EC2Client,
  ModifyVolumeCommand,
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

async function state(id: string) {
  const r = await ec2.send(new DescribeVolumesCommand({ VolumeIds: [id] }));
  return r.Volumes![0]!;
}

describe('volumes', () => {
  it('creates an empty volume that becomes available over time, with AWS defaults', async () => {
    const v = await ec2.send(
      new CreateVolumeCommand({
        AvailabilityZone: 'us-east-1a',
        Size: 20,
        TagSpecifications: [{ ResourceType: 'volume', Tags: [{ Key: 'Name', Value: 'scratch' }] }],
      }),
    );
    expect(v.VolumeId).toMatch(/^vol-[0-9a-f]{17}$/);
    expect(v).toMatchObject({ State: 'creating', Size: 20, VolumeType: 'gp2', Iops: 100, Encrypted: false });
    expect(v.Tags).toEqual([{ Key: 'Name', Value: 'scratch' }]);
    sb.advance(2);
    expect((await state(v.VolumeId!)).State).toBe('available');
  });

  it('checks parameters as AWS does', async () => {
    await expectAwsError(
      ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a' })),
      'MissingParameter',
    );
    await expectAwsError(
      ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'eu-west-1a', Size: 1 })),
      'InvalidZone.NotFound',
    );
    await expectAwsError(
      ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1, KmsKeyId: 'alias/mine' })),
      'InvalidParameterDependency',
    );
    await expectAwsError(
      ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 10, VolumeType: 'io1' })),
      'InvalidParameterCombination',
    );
    await expectAwsError(
      ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 20000 })),
      'InvalidParameterValue',
    );
    await expectAwsError(
      ec2.send(
        new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', SnapshotId: 'snap-0123456789abcdef0' }),
      ),
      'InvalidSnapshot.NotFound',
    );
    await expectAwsError(
      ec2.send(new DescribeVolumesCommand({ VolumeIds: ['vol-0123456789abcdef0'] })),
      'InvalidVolume.NotFound',
    );
    await expectAwsError(
      ec2.send(new DescribeVolumesCommand({ VolumeIds: ['vol-x'] })),
      'InvalidVolumeID.Malformed',
    );
  });

  it('encrypts with a given key or the default EBS key', async () => {
    // EC2 resolves the alias and reports the key's ARN.
    const backupKey = await createKmsKey(sb.sandbox, 0, 'us-east-1', 'alias/backup');
    const a = await ec2.send(
      new CreateVolumeCommand({
        AvailabilityZone: 'us-east-1a',
        Size: 1,
        VolumeType: 'gp3',
        Encrypted: true,
        KmsKeyId: 'alias/backup',
      }),
    );
    expect(a).toMatchObject({
      Encrypted: true,
      KmsKeyId: backupKey,
      Iops: 3000,
      Throughput: 125,
    });
    const b = await ec2.send(
      new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1, Encrypted: true }),
    );
    expect(b.KmsKeyId).toMatch(/^arn:aws:kms:us-east-1:111111111111:key\/[0-9a-f-]{36}$/);
  });

  it('attaches, refuses deletion while attached, detaches over time, then deletes', async () => {
    const [i] = await launch(ec2, { Placement: { AvailabilityZone: 'us-east-1b' } });
    const id = i!.InstanceId!;
    sb.advance(3);
    const v = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1b', Size: 4 }));
    const far = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1c', Size: 4 }));
    await expectAwsError(
      ec2.send(new AttachVolumeCommand({ VolumeId: v.VolumeId!, InstanceId: id, Device: '/dev/sdf' })),
      'IncorrectState',
    );
    sb.advance(2);
    await expectAwsError(
      ec2.send(new AttachVolumeCommand({ VolumeId: far.VolumeId!, InstanceId: id, Device: '/dev/sdf' })),
      'InvalidVolume.ZoneMismatch',
    );
    const a = await ec2.send(
      new AttachVolumeCommand({ VolumeId: v.VolumeId!, InstanceId: id, Device: '/dev/sdf' }),
    );
    expect(a).toMatchObject({ State: 'attaching', InstanceId: id, Device: '/dev/sdf', VolumeId: v.VolumeId });
    await expectAwsError(
      ec2.send(new AttachVolumeCommand({ VolumeId: v.VolumeId!, InstanceId: id, Device: '/dev/sdg' })),
      'VolumeInUse',
    );
    sb.advance(2);
    const attached = await state(v.VolumeId!);
    expect(attached.State).toBe('in-use');
    expect(attached.Attachments?.[0]?.State).toBe('attached');
    const byAttachment = await ec2.send(
      new DescribeVolumesCommand({
        Filters: [
          { Name: 'attachment.instance-id', Values: [id] },
          { Name: 'status', Values: ['in-use'] },
        ],
      }),
    );
    expect(byAttachment.Volumes).toHaveLength(2);
    await expectAwsError(ec2.send(new DeleteVolumeCommand({ VolumeId: v.VolumeId! })), 'VolumeInUse');
    const root = byAttachment.Volumes!.find((x) => x.Attachments![0]!.Device === '/dev/xvda')!;
    await expectAwsError(ec2.send(new DetachVolumeCommand({ VolumeId: root.VolumeId! })), 'IncorrectState');
    const d = await ec2.send(new DetachVolumeCommand({ VolumeId: v.VolumeId! }));
    expect(d.State).toBe('detaching');
    sb.advance(2);
    expect((await state(v.VolumeId!)).State).toBe('available');
    await expectAwsError(ec2.send(new DetachVolumeCommand({ VolumeId: v.VolumeId! })), 'IncorrectState');
    await ec2.send(new DeleteVolumeCommand({ VolumeId: v.VolumeId! }));
    await expectAwsError(
      ec2.send(new DeleteVolumeCommand({ VolumeId: v.VolumeId! })),
      'InvalidVolume.NotFound',
    );
  });

  it('grows a volume with ModifyVolume and reports the modification', async () => {
    const v = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 2 }));
    sb.advance(2);
    sb.blocks.writeVolume(v.VolumeId!, 0, Buffer.from('keep me'));
    const m = await ec2.send(new ModifyVolumeCommand({ VolumeId: v.VolumeId!, Size: 3 }));
    expect(m.VolumeModification).toMatchObject({
      ModificationState: 'modifying',
      OriginalSize: 2,
      TargetSize: 3,
    });
    await expectAwsError(
      ec2.send(new ModifyVolumeCommand({ VolumeId: v.VolumeId!, Size: 4 })),
      'IncorrectModificationState',
    );
    expect((await state(v.VolumeId!)).Size).toBe(3);
    sb.advance(5);
    const d = await ec2.send(new DescribeVolumesModificationsCommand({ VolumeIds: [v.VolumeId!] }));
    expect(d.VolumesModifications?.[0]).toMatchObject({
      ModificationState: 'completed',
      Progress: 100,
      TargetSize: 3,
    });
    await expectAwsError(
      ec2.send(new ModifyVolumeCommand({ VolumeId: v.VolumeId!, Size: 1 })),
      'InvalidParameterValue',
    );
    expect(sb.blocks.readVolume(v.VolumeId!, 0, 7).toString()).toBe('keep me');
  });

  it('pages DescribeVolumes', async () => {
    const other = sb.ec2(2, 'us-east-1');
    for (let n = 0; n < 6; n++)
      await other.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1 }));
    const p1 = await other.send(new DescribeVolumesCommand({ MaxResults: 5 }));
    expect(p1.Volumes).toHaveLength(5);
    const p2 = await other.send(new DescribeVolumesCommand({ MaxResults: 5, NextToken: p1.NextToken }));
    expect(p2.Volumes).toHaveLength(1);
    expect(p2.NextToken).toBeUndefined();
  });
});
