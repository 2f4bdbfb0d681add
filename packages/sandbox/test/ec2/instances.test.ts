import {
  AssociateIamInstanceProfileCommand,
  DescribeIamInstanceProfileAssociationsCommand,
  DescribeInstanceAttributeCommand,
  DescribeInstancesCommand,
  DescribeVolumesCommand,
  DisassociateIamInstanceProfileCommand,
  type EC2Client,
  ModifyInstanceAttributeCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectAwsError } from './helpers/errors.js';
import { launch, publicImageId } from './helpers/fixtures.js';
import { startTestSandbox, type TestSandbox } from './helpers/sandbox.js';

let sb: TestSandbox;
let ec2: EC2Client;

beforeAll(async () => {
  sb = await startTestSandbox();
  ec2 = sb.ec2(0, 'us-east-1');
});
afterAll(() => sb.close());

async function describeOne(id: string) {
  const r = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
  return r.Reservations![0]!.Instances![0]!;
}

describe('RunInstances', () => {
  it('launches from an image with mappings, tags, key, profile and a root volume from the image snapshot', async () => {
    const imageId = await publicImageId(ec2);
    const r = await ec2.send(
      new RunInstancesCommand({
        ImageId: imageId,
        InstanceType: 'm5.large',
        MinCount: 2,
        MaxCount: 2,
        IamInstanceProfile: { Name: 'backup-agent' },
        BlockDeviceMappings: [
          { DeviceName: '/dev/xvda', Ebs: { VolumeSize: 10, VolumeType: 'gp3' } },
          { DeviceName: '/dev/sdf', Ebs: { VolumeSize: 2, DeleteOnTermination: false, Encrypted: true } },
        ],
        TagSpecifications: [
          { ResourceType: 'instance', Tags: [{ Key: 'App', Value: 'web' }] },
          { ResourceType: 'volume', Tags: [{ Key: 'App', Value: 'web-disk' }] },
        ],
      }),
    );
    expect(r.ReservationId).toMatch(/^r-[0-9a-f]{17}$/);
    expect(r.OwnerId).toBe('111111111111');
    expect(r.Instances).toHaveLength(2);
    const i = r.Instances![0]!;
    expect(i.InstanceId).toMatch(/^i-[0-9a-f]{17}$/);
    expect(i.State).toEqual({ Code: 0, Name: 'pending' });
    expect(i).toMatchObject({
      ImageId: imageId,
      InstanceType: 'm5.large',
      RootDeviceName: '/dev/xvda',
      AmiLaunchIndex: 0,
    });
    expect(i.IamInstanceProfile?.Arn).toBe('arn:aws:iam::111111111111:instance-profile/backup-agent');
    expect(i.Tags).toEqual([{ Key: 'App', Value: 'web' }]);
    expect(i.BlockDeviceMappings?.map((b) => b.DeviceName)).toEqual(['/dev/xvda', '/dev/sdf']);
    const vols = await ec2.send(
      new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [i.InstanceId!] }] }),
    );
    const root = vols.Volumes!.find((v) => v.Attachments![0]!.Device === '/dev/xvda')!;
    const data = vols.Volumes!.find((v) => v.Attachments![0]!.Device === '/dev/sdf')!;
    expect(root).toMatchObject({ Size: 10, VolumeType: 'gp3', State: 'in-use', Encrypted: false });
    expect(root.SnapshotId).toMatch(/^snap-/);
    expect(root.Attachments![0]).toMatchObject({ DeleteOnTermination: true, State: 'attached' });
    expect(data).toMatchObject({ Size: 2, Encrypted: true, SnapshotId: '' });
    expect(data.KmsKeyId).toMatch(/^arn:aws:kms:us-east-1:111111111111:key\//);
    expect(data.Attachments![0]!.DeleteOnTermination).toBe(false);
    expect(data.Tags).toEqual([{ Key: 'App', Value: 'web-disk' }]);
    // The root volume holds the image's root file system: the first block is not empty.
    const bytes = sb.blocks.readVolume(root.VolumeId!, 1024, 4096);
    expect(bytes.some((b) => b !== 0)).toBe(true);
  });

  it('answers the same reservation for a repeated ClientToken and refuses changed parameters', async () => {
    const first = await launch(ec2, { ClientToken: 'token-1' });
    const again = await launch(ec2, { ClientToken: 'token-1' });
    expect(again.map((i) => i.InstanceId)).toEqual(first.map((i) => i.InstanceId));
    await expectAwsError(
      launch(ec2, { ClientToken: 'token-1', InstanceType: 'm5.xlarge' }),
      'IdempotentParameterMismatch',
    );
  });

  it('refuses unknown images, subnets, groups and key pairs as AWS does', async () => {
    await expectAwsError(launch(ec2, { ImageId: 'ami-0123456789abcdef0' }), 'InvalidAMIID.NotFound');
    await expectAwsError(launch(ec2, { ImageId: 'bogus' }), 'InvalidAMIID.Malformed');
    await expectAwsError(launch(ec2, { SubnetId: 'subnet-0123456789abcdef0' }), 'InvalidSubnetID.NotFound');
    await expectAwsError(
      launch(ec2, { SecurityGroupIds: ['sg-0123456789abcdef0'] }),
      'InvalidGroup.NotFound',
    );
    await expectAwsError(launch(ec2, { KeyName: 'missing' }), 'InvalidKeyPair.NotFound');
    await expectAwsError(
      launch(ec2, { TagSpecifications: [{ ResourceType: 'snapshot', Tags: [{ Key: 'a', Value: 'b' }] }] }),
      'InvalidParameterValue',
    );
  });
});

describe('DescribeInstances', () => {
  it('filters by tag, tag-key, state, id, vpc and subnet', async () => {
    const [a] = await launch(ec2, {
      TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Environment', Value: 'prod' }] }],
    });
    const [b] = await launch(ec2, {
      TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Environment', Value: 'dev' }] }],
    });
    const ids = async (filters: Array<{ Name: string; Values: string[] }>) => {
      const r = await ec2.send(new DescribeInstancesCommand({ Filters: filters }));
      return r.Reservations!.flatMap((x) => x.Instances!.map((i) => i.InstanceId));
    };
    expect(await ids([{ Name: 'tag:Environment', Values: ['prod'] }])).toEqual([a!.InstanceId]);
    expect(await ids([{ Name: 'tag:Environment', Values: ['prod', 'dev'] }])).toEqual([
      a!.InstanceId,
      b!.InstanceId,
    ]);
    expect(await ids([{ Name: 'tag-key', Values: ['Environment'] }])).toHaveLength(2);
    expect(await ids([{ Name: 'instance-id', Values: [b!.InstanceId!] }])).toEqual([b!.InstanceId]);
    expect(
      await ids([
        { Name: 'vpc-id', Values: [a!.VpcId!] },
        { Name: 'tag:Environment', Values: ['d*'] },
      ]),
    ).toEqual([b!.InstanceId]);
    expect(
      await ids([
        { Name: 'subnet-id', Values: [a!.SubnetId!] },
        { Name: 'tag:Environment', Values: ['prod'] },
      ]),
    ).toEqual([a!.InstanceId]);
    expect(await ids([{ Name: 'instance-state-name', Values: ['stopped'] }])).toEqual([]);
    await expectAwsError(
      ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'bogus', Values: ['x'] }] })),
      'InvalidParameterValue',
    );
  });

  it('pages with MaxResults and NextToken', async () => {
    const other = sb.ec2(2, 'eu-west-1');
    await launch(other, { MinCount: 7, MaxCount: 7 });
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const r = await other.send(new DescribeInstancesCommand({ MaxResults: 5, NextToken: token }));
      seen.push(...r.Reservations!.flatMap((x) => x.Instances!.map((i) => i.InstanceId!)));
      token = r.NextToken;
      pages++;
    } while (token);
    expect(pages).toBe(2);
    expect(new Set(seen).size).toBe(7);
    await expectAwsError(
      other.send(new DescribeInstancesCommand({ MaxResults: 2 })),
      'InvalidParameterValue',
    );
    await expectAwsError(
      other.send(new DescribeInstancesCommand({ NextToken: 'garbage' })),
      'InvalidPaginationToken',
    );
    await expectAwsError(
      other.send(new DescribeInstancesCommand({ MaxResults: 5, InstanceIds: [seen[0]!] })),
      'InvalidParameterCombination',
    );
  });

  it('names missing and malformed instance ids', async () => {
    const e = await expectAwsError(
      ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] })),
      'InvalidInstanceID.NotFound',
    );
    expect(e.message).toContain("'i-0123456789abcdef0'");
    await expectAwsError(
      ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-xyz'] })),
      'InvalidInstanceID.Malformed',
    );
  });
});

describe('state transitions', () => {
  it('moves pending -> running -> stopping -> stopped -> pending -> running over time', async () => {
    const [i] = await launch(ec2);
    const id = i!.InstanceId!;
    expect((await describeOne(id)).State?.Name).toBe('pending');
    await expectAwsError(ec2.send(new StopInstancesCommand({ InstanceIds: [id] })), 'IncorrectInstanceState');
    sb.advance(3);
    expect((await describeOne(id)).State?.Name).toBe('running');
    const stop = await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    expect(stop.StoppingInstances?.[0]).toMatchObject({
      CurrentState: { Code: 64, Name: 'stopping' },
      PreviousState: { Code: 16, Name: 'running' },
    });
    await expectAwsError(
      ec2.send(new StartInstancesCommand({ InstanceIds: [id] })),
      'IncorrectInstanceState',
    );
    sb.advance(3);
    const stopped = await describeOne(id);
    expect(stopped.State?.Name).toBe('stopped');
    expect(stopped.StateReason?.Code).toBe('Client.UserInitiatedShutdown');
    const start = await ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
    expect(start.StartingInstances?.[0]?.CurrentState?.Name).toBe('pending');
    sb.advance(3);
    expect((await describeOne(id)).State?.Name).toBe('running');
  });

  it('terminates: shutting-down then terminated, DeleteOnTermination volumes go, others stay', async () => {
    const [i] = await launch(ec2, {
      BlockDeviceMappings: [{ DeviceName: '/dev/sdf', Ebs: { VolumeSize: 1, DeleteOnTermination: false } }],
    });
    const id = i!.InstanceId!;
    const vols = await ec2.send(
      new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [id] }] }),
    );
    expect(vols.Volumes).toHaveLength(2);
    const kept = vols.Volumes!.find((v) => v.Attachments![0]!.Device === '/dev/sdf')!.VolumeId!;
    const gone = vols.Volumes!.find((v) => v.Attachments![0]!.Device === '/dev/xvda')!.VolumeId!;
    const t = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    expect(t.TerminatingInstances?.[0]?.CurrentState?.Name).toBe('shutting-down');
    sb.advance(3);
    const after = await describeOne(id);
    expect(after.State).toEqual({ Code: 48, Name: 'terminated' });
    const v = await ec2.send(new DescribeVolumesCommand({ VolumeIds: [kept] }));
    expect(v.Volumes?.[0]?.State).toBe('available');
    await expectAwsError(
      ec2.send(new DescribeVolumesCommand({ VolumeIds: [gone] })),
      'InvalidVolume.NotFound',
    );
    await expectAwsError(
      ec2.send(new StartInstancesCommand({ InstanceIds: [id] })),
      'IncorrectInstanceState',
    );
  });

  it('keeps terminated instances visible for about an hour, then forgets them', async () => {
    const [i] = await launch(ec2);
    const id = i!.InstanceId!;
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    sb.advance(30 * 60);
    expect((await describeOne(id)).State?.Name).toBe('terminated');
    sb.advance(31 * 60);
    await expectAwsError(
      ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] })),
      'InvalidInstanceID.NotFound',
    );
  });

  it('refuses to terminate or stop protected instances until the attribute is changed', async () => {
    const [i] = await launch(ec2, { DisableApiTermination: true });
    const id = i!.InstanceId!;
    sb.advance(3);
    const e = await expectAwsError(
      ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] })),
      'OperationNotPermitted',
    );
    expect(e.message).toContain('disableApiTermination');
    const attr = await ec2.send(
      new DescribeInstanceAttributeCommand({ InstanceId: id, Attribute: 'disableApiTermination' }),
    );
    expect(attr.DisableApiTermination?.Value).toBe(true);
    await ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, DisableApiStop: { Value: true } }));
    await expectAwsError(ec2.send(new StopInstancesCommand({ InstanceIds: [id] })), 'OperationNotPermitted');
    const stopAttr = await ec2.send(
      new DescribeInstanceAttributeCommand({ InstanceId: id, Attribute: 'disableApiStop' }),
    );
    expect(stopAttr.DisableApiStop?.Value).toBe(true);
    await ec2.send(
      new ModifyInstanceAttributeCommand({ InstanceId: id, DisableApiTermination: { Value: false } }),
    );
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
  });
});

describe('instance profiles', () => {
  it('associates, describes and disassociates', async () => {
    const [i] = await launch(ec2);
    const id = i!.InstanceId!;
    const a = await ec2.send(
      new AssociateIamInstanceProfileCommand({
        InstanceId: id,
        IamInstanceProfile: { Name: 'lifeboat-agent' },
      }),
    );
    expect(a.IamInstanceProfileAssociation?.AssociationId).toMatch(/^iip-assoc-[0-9a-f]{17}$/);
    await expectAwsError(
      ec2.send(
        new AssociateIamInstanceProfileCommand({ InstanceId: id, IamInstanceProfile: { Name: 'other' } }),
      ),
      'IncorrectState',
    );
    const d = await ec2.send(
      new DescribeIamInstanceProfileAssociationsCommand({ Filters: [{ Name: 'instance-id', Values: [id] }] }),
    );
    expect(d.IamInstanceProfileAssociations?.[0]).toMatchObject({
      InstanceId: id,
      State: 'associated',
      IamInstanceProfile: { Arn: 'arn:aws:iam::111111111111:instance-profile/lifeboat-agent' },
    });
    await ec2.send(
      new DisassociateIamInstanceProfileCommand({
        AssociationId: a.IamInstanceProfileAssociation!.AssociationId!,
      }),
    );
    expect((await describeOne(id)).IamInstanceProfile).toBeUndefined();
    await expectAwsError(
      ec2.send(new DisassociateIamInstanceProfileCommand({ AssociationId: 'iip-assoc-0123456789abcdef0' })),
      'InvalidAssociationID.NotFound',
    );
  });
});
