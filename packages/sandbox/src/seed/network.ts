import { at, type Ec2, tagSpec } from './calls.js';
import { demoPublicKey } from './keys.js';

export interface Network {
  subnets: [string, string];
  groups: { web: string; db: string };
  images: { al2023: string; debian: string };
}

/** A VPC with two subnets (zones a and b), web and db security groups and the ops key pair, in one region. */
export function network(call: Ec2, cidrPrefix: string, zones: readonly string[], name: string): Network {
  const vpcId = at(
    call('CreateVpc', {
      CidrBlock: `${cidrPrefix}.0.0/16`,
      TagSpecification: [tagSpec('vpc', { Name: name })],
    }),
    'vpc',
    'vpcId',
  );
  const subnet = (n: number) =>
    at(
      call('CreateSubnet', {
        VpcId: vpcId,
        CidrBlock: `${cidrPrefix}.${n + 1}.0/24`,
        AvailabilityZone: zones[n],
        TagSpecification: [tagSpec('subnet', { Name: `${name}-${'ab'[n]}` })],
      }),
      'subnet',
      'subnetId',
    );
  const group = (groupName: string, description: string) =>
    at(
      call('CreateSecurityGroup', { GroupName: groupName, GroupDescription: description, VpcId: vpcId }),
      'groupId',
    );
  const web = group('web', 'web servers');
  const db = group('db', 'databases');
  call('AuthorizeSecurityGroupIngress', {
    GroupId: web,
    IpProtocol: 'tcp',
    FromPort: 443,
    ToPort: 443,
    CidrIp: '0.0.0.0/0',
  });
  call('AuthorizeSecurityGroupIngress', {
    GroupId: db,
    IpPermissions: [{ IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, Groups: [{ GroupId: web }] }],
  });
  call('ImportKeyPair', {
    KeyName: 'prod-ops',
    PublicKeyMaterial: Buffer.from(demoPublicKey()).toString('base64'),
  });
  const images = call('DescribeImages', { Owner: ['amazon'] }).imagesSet as Array<{
    name: string;
    imageId: string;
  }>;
  const find = (prefix: string) => images.find((i) => i.name.startsWith(prefix))!.imageId;
  return {
    subnets: [subnet(0), subnet(1)],
    groups: { web, db },
    images: { al2023: find('al2023-'), debian: find('debian-12-') },
  };
}
