import {
  AuthorizeSecurityGroupIngressCommand,
  CreateKeyPairCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DeleteKeyPairCommand,
  DeleteSecurityGroupCommand,
  DeleteSubnetCommand,
  DeleteVpcCommand,
  DescribeAvailabilityZonesCommand,
  DescribeKeyPairsCommand,
  DescribeRegionsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  type EC2Client,
  ImportKeyPairCommand,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectAwsError } from './helpers/errors.js';
import { startTestSandbox, type TestSandbox } from './helpers/sandbox.js';

let sb: TestSandbox;
let ec2: EC2Client;

beforeAll(async () => {
  sb = await startTestSandbox();
  ec2 = sb.ec2(0, 'us-east-1');
});
afterAll(() => sb.close());

describe('regions and zones', () => {
  it('lists the sandbox regions with endpoints', async () => {
    const r = await ec2.send(new DescribeRegionsCommand({}));
    expect(r.Regions?.map((x) => x.RegionName)).toEqual(sb.sandbox.regions.map((x) => x.name));
    expect(r.Regions?.[0]?.Endpoint).toBe('ec2.us-east-1.amazonaws.com');
    const f = await ec2.send(
      new DescribeRegionsCommand({ Filters: [{ Name: 'region-name', Values: ['eu-*'] }] }),
    );
    expect(f.Regions?.map((x) => x.RegionName)).toEqual(['eu-west-1']);
  });

  it('lists the zones of the request region', async () => {
    const r = await sb.ec2(0, 'eu-west-1').send(new DescribeAvailabilityZonesCommand({}));
    expect(r.AvailabilityZones?.map((z) => [z.ZoneName, z.ZoneId, z.State])).toEqual([
      ['eu-west-1a', 'euw1-az1', 'available'],
      ['eu-west-1b', 'euw1-az2', 'available'],
      ['eu-west-1c', 'euw1-az3', 'available'],
    ]);
  });
});

describe('VPCs and subnets', () => {
  it('has a default VPC with a default subnet per zone', async () => {
    const vpcs = await ec2.send(
      new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }),
    );
    expect(vpcs.Vpcs).toHaveLength(1);
    expect(vpcs.Vpcs?.[0]).toMatchObject({ CidrBlock: '172.31.0.0/16', IsDefault: true, State: 'available' });
    const subnets = await ec2.send(
      new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcs.Vpcs![0]!.VpcId!] }] }),
    );
    expect(subnets.Subnets?.map((s) => s.AvailabilityZone).sort()).toEqual([
      'us-east-1a',
      'us-east-1b',
      'us-east-1c',
    ]);
    expect(subnets.Subnets?.every((s) => s.DefaultForAz)).toBe(true);
  });

  it('creates, describes and deletes a VPC with a subnet', async () => {
    const { Vpc } = await ec2.send(
      new CreateVpcCommand({
        CidrBlock: '10.1.0.0/16',
        TagSpecifications: [{ ResourceType: 'vpc', Tags: [{ Key: 'Name', Value: 'test' }] }],
      }),
    );
    expect(Vpc?.VpcId).toMatch(/^vpc-[0-9a-f]{17}$/);
    expect(Vpc?.Tags).toEqual([{ Key: 'Name', Value: 'test' }]);
    const { Subnet } = await ec2.send(
      new CreateSubnetCommand({
        VpcId: Vpc!.VpcId!,
        CidrBlock: '10.1.1.0/24',
        AvailabilityZone: 'us-east-1b',
      }),
    );
    expect(Subnet).toMatchObject({
      CidrBlock: '10.1.1.0/24',
      AvailabilityZone: 'us-east-1b',
      AvailableIpAddressCount: 251,
    });
    await expectAwsError(
      ec2.send(new CreateSubnetCommand({ VpcId: Vpc!.VpcId!, CidrBlock: '10.1.1.128/25' })),
      'InvalidSubnet.Conflict',
    );
    await expectAwsError(
      ec2.send(new CreateSubnetCommand({ VpcId: Vpc!.VpcId!, CidrBlock: '10.2.0.0/24' })),
      'InvalidSubnet.Range',
    );
    const byTag = await ec2.send(
      new DescribeVpcsCommand({ Filters: [{ Name: 'tag:Name', Values: ['test'] }] }),
    );
    expect(byTag.Vpcs?.map((v) => v.VpcId)).toEqual([Vpc!.VpcId]);
    await expectAwsError(ec2.send(new DeleteVpcCommand({ VpcId: Vpc!.VpcId! })), 'DependencyViolation');
    await ec2.send(new DeleteSubnetCommand({ SubnetId: Subnet!.SubnetId! }));
    await ec2.send(new DeleteVpcCommand({ VpcId: Vpc!.VpcId! }));
    await expectAwsError(
      ec2.send(new DescribeVpcsCommand({ VpcIds: [Vpc!.VpcId!] })),
      'InvalidVpcID.NotFound',
    );
  });

  it('keeps accounts and regions apart', async () => {
    const mine = await ec2.send(new DescribeVpcsCommand({}));
    const theirs = await sb.ec2(1, 'us-east-1').send(new DescribeVpcsCommand({}));
    const elsewhere = await sb.ec2(0, 'eu-west-1').send(new DescribeVpcsCommand({}));
    const ids = (r: typeof mine) => (r.Vpcs ?? []).map((v) => v.VpcId);
    expect(ids(theirs).some((id) => ids(mine).includes(id))).toBe(false);
    expect(ids(elsewhere).some((id) => ids(mine).includes(id))).toBe(false);
    expect(theirs.Vpcs?.[0]?.OwnerId).toBe('222222222222');
  });
});

describe('security groups', () => {
  it('creates a group, authorizes ingress, refuses duplicates and the default group deletion', async () => {
    const { GroupId } = await ec2.send(
      new CreateSecurityGroupCommand({ GroupName: 'web', Description: 'web servers' }),
    );
    expect(GroupId).toMatch(/^sg-[0-9a-f]{17}$/);
    await expectAwsError(
      ec2.send(new CreateSecurityGroupCommand({ GroupName: 'web', Description: 'again' })),
      'InvalidGroup.Duplicate',
    );
    const auth = await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId,
        IpPermissions: [
          { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
        ],
      }),
    );
    expect(auth.Return).toBe(true);
    expect(auth.SecurityGroupRules?.[0]).toMatchObject({
      IpProtocol: 'tcp',
      FromPort: 443,
      CidrIpv4: '0.0.0.0/0',
    });
    const d = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [GroupId!] }));
    expect(d.SecurityGroups?.[0]?.IpPermissions?.[0]).toMatchObject({
      FromPort: 443,
      ToPort: 443,
      IpRanges: [{ CidrIp: '0.0.0.0/0' }],
    });
    const def = await ec2.send(new DescribeSecurityGroupsCommand({ GroupNames: ['default'] }));
    await expectAwsError(
      ec2.send(new DeleteSecurityGroupCommand({ GroupId: def.SecurityGroups![0]!.GroupId! })),
      'CannotDelete',
    );
    await ec2.send(new DeleteSecurityGroupCommand({ GroupId }));
    await expectAwsError(
      ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [GroupId!] })),
      'InvalidGroup.NotFound',
    );
  });
});

describe('key pairs', () => {
  it('creates a usable key, imports one, describes and deletes', async () => {
    const k = await ec2.send(new CreateKeyPairCommand({ KeyName: 'ops' }));
    expect(k.KeyMaterial).toContain('BEGIN RSA PRIVATE KEY');
    expect(k.KeyPairId).toMatch(/^key-[0-9a-f]{17}$/);
    await expectAwsError(ec2.send(new CreateKeyPairCommand({ KeyName: 'ops' })), 'InvalidKeyPair.Duplicate');
    const pub = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBi8x5j6bCPdVcRXq0eVQ1Wz0Hh0AoQyOzE1Q9lJxw3R test@host';
    const imp = await ec2.send(
      new ImportKeyPairCommand({ KeyName: 'laptop', PublicKeyMaterial: Buffer.from(pub) }),
    );
    expect(imp.KeyFingerprint).toBeTruthy();
    const all = await ec2.send(new DescribeKeyPairsCommand({}));
    expect(all.KeyPairs?.map((x) => x.KeyName).sort()).toEqual(['laptop', 'ops']);
    const one = await ec2.send(new DescribeKeyPairsCommand({ KeyNames: ['laptop'], IncludePublicKey: true }));
    expect(one.KeyPairs?.[0]).toMatchObject({ KeyType: 'ed25519', PublicKey: pub });
    await expectAwsError(
      ec2.send(new DescribeKeyPairsCommand({ KeyNames: ['nope'] })),
      'InvalidKeyPair.NotFound',
    );
    await ec2.send(new DeleteKeyPairCommand({ KeyName: 'laptop' }));
    await ec2.send(new DeleteKeyPairCommand({ KeyName: 'laptop' })); // idempotent, as on AWS
    const left = await ec2.send(new DescribeKeyPairsCommand({}));
    expect(left.KeyPairs?.map((x) => x.KeyName)).toEqual(['ops']);
  });
});
