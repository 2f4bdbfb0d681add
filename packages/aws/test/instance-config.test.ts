import type { Instance, Volume } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { instanceConfiguration } from '../src/instance-config.js';

const KMS = 'arn:aws:kms:eu-central-1:123456789012:key/0f1e2d3c-4b5a-6978-8899-aabbccddeeff';

/** As DescribeInstances answers (trimmed to what matters, plus some fields a configuration leaves out). */
const instance: Instance = {
  InstanceId: 'i-0123456789abcdef0',
  InstanceType: 'm6i.large',
  Architecture: 'x86_64',
  BootMode: 'uefi-preferred',
  CurrentInstanceBootMode: 'uefi',
  EnaSupport: true,
  ImageId: 'ami-0abcdef1234567890',
  KeyName: 'ops-2024',
  LaunchTime: new Date('2025-01-02T03:04:05Z'),
  State: { Code: 16, Name: 'running' },
  Placement: { AvailabilityZone: 'eu-central-1a', Tenancy: 'default', GroupName: 'web-spread', GroupId: '' },
  SubnetId: 'subnet-0aaa1111bbbb2222c',
  VpcId: 'vpc-0123abcd4567ef890',
  PrivateIpAddress: '10.0.1.10',
  PublicIpAddress: '3.120.1.2',
  SecurityGroups: [
    { GroupId: 'sg-0aaaaaaaaaaaaaaaa', GroupName: 'web' },
    { GroupId: 'sg-0bbbbbbbbbbbbbbbb', GroupName: 'ssh-from-bastion' },
  ],
  NetworkInterfaces: [
    {
      // Listed second by AWS, device index 1: sorted after the primary interface.
      NetworkInterfaceId: 'eni-0222222222222222b',
      SubnetId: 'subnet-0ddd3333eeee4444f',
      Description: 'replication',
      SourceDestCheck: false,
      InterfaceType: 'interface',
      Attachment: { DeviceIndex: 1, NetworkCardIndex: 0, DeleteOnTermination: false },
      Groups: [{ GroupId: 'sg-0bbbbbbbbbbbbbbbb', GroupName: 'ssh-from-bastion' }],
      PrivateIpAddress: '10.0.2.20',
      PrivateIpAddresses: [
        { PrivateIpAddress: '10.0.2.21', Primary: false },
        { PrivateIpAddress: '10.0.2.20', Primary: true },
      ],
      Association: { PublicIp: '18.1.2.3', IpOwnerId: '123456789012' },
    },
    {
      NetworkInterfaceId: 'eni-0111111111111111a',
      SubnetId: 'subnet-0aaa1111bbbb2222c',
      Description: '',
      SourceDestCheck: true,
      InterfaceType: 'interface',
      Attachment: { DeviceIndex: 0, NetworkCardIndex: 0, DeleteOnTermination: true },
      Groups: [
        { GroupId: 'sg-0aaaaaaaaaaaaaaaa', GroupName: 'web' },
        { GroupId: 'sg-0bbbbbbbbbbbbbbbb', GroupName: 'ssh-from-bastion' },
      ],
      PrivateIpAddresses: [{ PrivateIpAddress: '10.0.1.10', Primary: true }],
      Ipv6Addresses: [{ Ipv6Address: '2a05:d014::1' }],
      Association: { PublicIp: '3.120.1.2', IpOwnerId: 'amazon' },
      MacAddress: '02:00:00:00:00:01',
    },
  ],
  MetadataOptions: {
    State: 'applied',
    HttpTokens: 'required',
    HttpPutResponseHopLimit: 2,
    HttpEndpoint: 'enabled',
    InstanceMetadataTags: 'disabled',
  },
  IamInstanceProfile: { Arn: 'arn:aws:iam::123456789012:instance-profile/web', Id: 'AIPAEXAMPLE' },
  EbsOptimized: true,
  Monitoring: { State: 'enabled' },
  HibernationOptions: { Configured: false },
  CpuOptions: { CoreCount: 1, ThreadsPerCore: 2 },
  RootDeviceName: '/dev/xvda',
  RootDeviceType: 'ebs',
  BlockDeviceMappings: [
    { DeviceName: '/dev/xvda', Ebs: { VolumeId: 'vol-0aaaaaaaaaaaaaaa1', DeleteOnTermination: true } },
    { DeviceName: '/dev/sdf', Ebs: { VolumeId: 'vol-0aaaaaaaaaaaaaaa2', DeleteOnTermination: false } },
  ],
  Tags: [
    { Key: 'Name', Value: 'web-1' },
    { Key: 'env', Value: 'prod' },
    { Key: 'empty', Value: '' },
  ],
};

const volumes = new Map<string, Volume>([
  [
    'vol-0aaaaaaaaaaaaaaa1',
    {
      VolumeId: 'vol-0aaaaaaaaaaaaaaa1',
      VolumeType: 'gp3',
      Size: 30,
      Iops: 3000,
      Throughput: 125,
      Encrypted: true,
      KmsKeyId: KMS,
    },
  ],
  [
    'vol-0aaaaaaaaaaaaaaa2',
    { VolumeId: 'vol-0aaaaaaaaaaaaaaa2', VolumeType: 'io2', Size: 500, Iops: 16000, Encrypted: false },
  ],
  [
    // Attached to it but missing from its mapping: still a block device of the configuration.
    'vol-0aaaaaaaaaaaaaaa3',
    {
      VolumeId: 'vol-0aaaaaaaaaaaaaaa3',
      VolumeType: 'st1',
      Size: 1000,
      Encrypted: false,
      Attachments: [{ InstanceId: 'i-0123456789abcdef0', Device: '/dev/sdg', DeleteOnTermination: false }],
    },
  ],
  [
    'vol-0ffffffffffffffff',
    {
      VolumeId: 'vol-0ffffffffffffffff',
      Size: 8,
      Attachments: [{ InstanceId: 'i-0fedcba9876543210', Device: '/dev/xvda' }],
    },
  ],
]);

describe('instanceConfiguration', () => {
  it('captures what a restore needs, and only that', () => {
    expect(instanceConfiguration(instance, volumes)).toEqual({
      instanceId: 'i-0123456789abcdef0',
      instanceType: 'm6i.large',
      architecture: 'x86_64',
      bootMode: 'uefi',
      imageBootMode: 'uefi-preferred',
      enaSupport: true,
      imageId: 'ami-0abcdef1234567890',
      keyName: 'ops-2024',
      availabilityZone: 'eu-central-1a',
      tenancy: 'default',
      placementGroup: 'web-spread',
      subnetId: 'subnet-0aaa1111bbbb2222c',
      vpcId: 'vpc-0123abcd4567ef890',
      privateIpAddress: '10.0.1.10',
      networkInterfaces: [
        {
          deviceIndex: 0,
          networkCardIndex: 0,
          networkInterfaceId: 'eni-0111111111111111a',
          subnetId: 'subnet-0aaa1111bbbb2222c',
          privateIpAddresses: ['10.0.1.10'],
          ipv6Addresses: ['2a05:d014::1'],
          securityGroupIds: ['sg-0aaaaaaaaaaaaaaaa', 'sg-0bbbbbbbbbbbbbbbb'],
          sourceDestCheck: true,
          deleteOnTermination: true,
          interfaceType: 'interface',
          publicIp: { address: '3.120.1.2', elastic: false },
        },
        {
          deviceIndex: 1,
          networkCardIndex: 0,
          networkInterfaceId: 'eni-0222222222222222b',
          subnetId: 'subnet-0ddd3333eeee4444f',
          privateIpAddresses: ['10.0.2.20', '10.0.2.21'],
          securityGroupIds: ['sg-0bbbbbbbbbbbbbbbb'],
          description: 'replication',
          sourceDestCheck: false,
          deleteOnTermination: false,
          interfaceType: 'interface',
          publicIp: { address: '18.1.2.3', elastic: true },
        },
      ],
      securityGroups: [
        { id: 'sg-0aaaaaaaaaaaaaaaa', name: 'web' },
        { id: 'sg-0bbbbbbbbbbbbbbbb', name: 'ssh-from-bastion' },
      ],
      metadataOptions: {
        httpTokens: 'required',
        httpPutResponseHopLimit: 2,
        httpEndpoint: 'enabled',
        instanceMetadataTags: 'disabled',
      },
      iamInstanceProfileArn: 'arn:aws:iam::123456789012:instance-profile/web',
      ebsOptimized: true,
      monitoring: true,
      hibernation: false,
      cpuOptions: { coreCount: 1, threadsPerCore: 2 },
      rootDeviceName: '/dev/xvda',
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volumeId: 'vol-0aaaaaaaaaaaaaaa1',
          volumeType: 'gp3',
          sizeGiB: 30,
          iops: 3000,
          throughput: 125,
          deleteOnTermination: true,
          encrypted: true,
          kmsKeyId: KMS,
        },
        {
          deviceName: '/dev/sdf',
          volumeId: 'vol-0aaaaaaaaaaaaaaa2',
          volumeType: 'io2',
          sizeGiB: 500,
          iops: 16000,
          deleteOnTermination: false,
          encrypted: false,
        },
        {
          deviceName: '/dev/sdg',
          volumeId: 'vol-0aaaaaaaaaaaaaaa3',
          volumeType: 'st1',
          sizeGiB: 1000,
          deleteOnTermination: false,
          encrypted: false,
        },
      ],
      tags: { Name: 'web-1', env: 'prod', empty: '' },
    });
  });

  it('omits what AWS did not say; survives a JSON round trip unchanged', () => {
    const config = instanceConfiguration({ InstanceId: 'i-0000000000000000a' }, new Map());
    expect(config).toEqual({ instanceId: 'i-0000000000000000a' });
    const full = instanceConfiguration(instance, volumes);
    expect(JSON.parse(JSON.stringify(full))).toEqual(full);
    expect(JSON.stringify(full)).not.toContain('undefined');
    expect(JSON.stringify(full)).not.toContain('null');
  });

  it('keeps a mapped volume that DescribeVolumes did not return, with what the mapping says', () => {
    const config = instanceConfiguration(
      {
        InstanceId: 'i-0000000000000000b',
        BlockDeviceMappings: [{ DeviceName: '/dev/sda1', Ebs: { VolumeId: 'vol-x' } }],
      },
      new Map(),
    );
    expect(config.blockDevices).toEqual([{ deviceName: '/dev/sda1', volumeId: 'vol-x' }]);
  });

  it('refuses an instance without an id', () => {
    expect(() => instanceConfiguration({}, new Map())).toThrow(/InstanceId/);
  });
});
