import {
  CreateSnapshotCommand,
  CreateVolumeCommand,
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  type EC2Client,
  RegisterImageCommand,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

async function completedSnapshot(): Promise<string> {
  const v = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 2 }));
  sb.advance(2);
  const s = await ec2.send(new CreateSnapshotCommand({ VolumeId: v.VolumeId! }));
  sb.advance(3);
  return s.SnapshotId!;
}

describe('images', () => {
  it('has public Amazon images backed by snapshots', async () => {
    const r = await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }));
    expect(r.Images!.length).toBeGreaterThanOrEqual(2);
    const img = r.Images![0]!;
    expect(img).toMatchObject({
      ImageOwnerAlias: 'amazon',
      Public: true,
      State: 'available',
      RootDeviceType: 'ebs',
    });
    expect(img.ImageId).toMatch(/^ami-[0-9a-f]{17}$/);
    expect(img.BlockDeviceMappings?.[0]?.Ebs?.SnapshotId).toMatch(/^snap-/);
    const none = await ec2.send(new DescribeImagesCommand({ Owners: ['self'] }));
    expect(none.Images).toEqual([]);
    const byName = await ec2.send(
      new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: ['debian-12-*'] }] }),
    );
    expect(byName.Images).toHaveLength(1);
  });

  it('registers an image from a snapshot, protects the snapshot, launches from it, deregisters', async () => {
    const snapshotId = await completedSnapshot();
    const { ImageId } = await ec2.send(
      new RegisterImageCommand({
        Name: 'golden-web-1',
        RootDeviceName: '/dev/xvda',
        Architecture: 'x86_64',
        VirtualizationType: 'hvm',
        BlockDeviceMappings: [
          { DeviceName: '/dev/xvda', Ebs: { SnapshotId: snapshotId, VolumeType: 'gp3' } },
        ],
        TagSpecifications: [{ ResourceType: 'image', Tags: [{ Key: 'Role', Value: 'golden' }] }],
      }),
    );
    await expectAwsError(
      ec2.send(
        new RegisterImageCommand({
          Name: 'golden-web-1',
          RootDeviceName: '/dev/xvda',
          BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: snapshotId } }],
        }),
      ),
      'InvalidAMIName.Duplicate',
    );
    const own = await ec2.send(new DescribeImagesCommand({ Owners: ['self'] }));
    expect(own.Images?.map((i) => i.ImageId)).toEqual([ImageId]);
    expect(own.Images?.[0]).toMatchObject({
      Name: 'golden-web-1',
      Public: false,
      OwnerId: '111111111111',
      Tags: [{ Key: 'Role', Value: 'golden' }],
    });
    expect(own.Images?.[0]?.BlockDeviceMappings?.[0]?.Ebs).toMatchObject({
      SnapshotId: snapshotId,
      VolumeSize: 2,
    });
    const bySnapshot = await ec2.send(
      new DescribeImagesCommand({
        Filters: [{ Name: 'block-device-mapping.snapshot-id', Values: [snapshotId] }],
      }),
    );
    expect(bySnapshot.Images).toHaveLength(1);
    const e = await expectAwsError(
      ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId })),
      'InvalidSnapshot.InUse',
    );
    expect(e.message).toContain(ImageId!);
    const [i] = await launch(ec2, { ImageId });
    expect(i?.ImageId).toBe(ImageId);
    // Not visible to other accounts until shared.
    await expectAwsError(
      sb.ec2(1).send(new DescribeImagesCommand({ ImageIds: [ImageId!] })),
      'InvalidAMIID.NotFound',
    );
    const exec = await ec2.send(new DescribeImagesCommand({ ExecutableUsers: ['self'] }));
    expect(exec.Images?.map((x) => x.ImageId)).toContain(ImageId);
    await ec2.send(new DeregisterImageCommand({ ImageId: ImageId! }));
    await ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId }));
    await expectAwsError(
      ec2.send(new DescribeImagesCommand({ ImageIds: [ImageId!] })),
      'InvalidAMIID.NotFound',
    );
  });
});
