/**
 * An instance's configuration as a later restore needs it: what to launch (type, image, architecture, boot mode,
 * key pair, instance profile, metadata options, CPU options, hibernation…), where (availability zone, placement,
 * subnet, network interfaces with their private addresses and security groups), with which disks (the block device
 * mapping with each volume's type, size, IOPS, throughput and encryption) and which tags. Captured from
 * DescribeInstances and DescribeVolumes at backup time and kept with the restore point (sealed in the snapshots'
 * tags, and in the catalog), so it is a stored format: fields are only ever added. Undefined facts are omitted,
 * as are empty lists and maps.
 */
import type { Instance, InstanceNetworkInterface, Volume } from '@aws-sdk/client-ec2';

export interface InstanceConfiguration {
  instanceId: string;
  instanceType?: string;
  /** i386, x86_64, arm64, x86_64_mac, arm64_mac. */
  architecture?: string;
  /** 'windows' for Windows instances (absent for Linux/UNIX). */
  platform?: string;
  /** The instance's boot mode (legacy-bios, uefi): CurrentInstanceBootMode. */
  bootMode?: string;
  /** The boot mode its image specified (legacy-bios, uefi, uefi-preferred), when the image names one. */
  imageBootMode?: string;
  enaSupport?: boolean;
  imageId?: string;
  keyName?: string;
  availabilityZone?: string;
  /** default, dedicated, host. */
  tenancy?: string;
  placementGroup?: string;
  placementGroupId?: string;
  partitionNumber?: number;
  subnetId?: string;
  vpcId?: string;
  /** The primary private IPv4 address of the primary network interface. */
  privateIpAddress?: string;
  /** By network card index, then device index. */
  networkInterfaces?: NetworkInterfaceConfiguration[];
  securityGroups?: Array<{ id: string; name?: string }>;
  metadataOptions?: {
    /** optional, required (IMDSv2). */
    httpTokens?: string;
    httpPutResponseHopLimit?: number;
    /** enabled, disabled. */
    httpEndpoint?: string;
    /** enabled, disabled: instance tags in the metadata. */
    instanceMetadataTags?: string;
  };
  iamInstanceProfileArn?: string;
  ebsOptimized?: boolean;
  /** Detailed monitoring is on (or being turned on). */
  monitoring?: boolean;
  /** Configured for hibernation. */
  hibernation?: boolean;
  cpuOptions?: { coreCount?: number; threadsPerCore?: number };
  rootDeviceName?: string;
  /** In the instance's mapping order; then volumes attached to it that its mapping did not list. */
  blockDevices?: BlockDeviceConfiguration[];
  tags?: Record<string, string>;
}

export interface NetworkInterfaceConfiguration {
  deviceIndex?: number;
  networkCardIndex?: number;
  networkInterfaceId?: string;
  subnetId?: string;
  /** Its private IPv4 addresses, the primary one first. */
  privateIpAddresses?: string[];
  ipv6Addresses?: string[];
  securityGroupIds?: string[];
  description?: string;
  sourceDestCheck?: boolean;
  deleteOnTermination?: boolean;
  /** interface, efa, efa-only, trunk… */
  interfaceType?: string;
  /** Its public IPv4 address; `elastic` when it is an Elastic IP (owned by an account, not by Amazon). */
  publicIp?: { address: string; elastic: boolean };
}

export interface BlockDeviceConfiguration {
  deviceName: string;
  volumeId?: string;
  /** gp2, gp3, io1, io2, st1, sc1, standard. */
  volumeType?: string;
  sizeGiB?: number;
  iops?: number;
  /** MiB/s (gp3). */
  throughput?: number;
  deleteOnTermination?: boolean;
  encrypted?: boolean;
  kmsKeyId?: string;
}

/** The configuration of `instance`; `volumes` are the region's volumes by id (those attached to it suffice). */
export function instanceConfiguration(
  instance: Instance,
  volumes: Map<string, Volume>,
): InstanceConfiguration {
  const i = instance;
  if (!i.InstanceId) throw new Error('an instance without an InstanceId');
  const p = i.Placement;
  const m = i.MetadataOptions;
  const tags: Record<string, string> = {};
  for (const t of i.Tags ?? []) if (t.Key !== undefined) tags[t.Key] = t.Value ?? '';
  const enis = [...(i.NetworkInterfaces ?? [])].sort(
    (a, b) =>
      (a.Attachment?.NetworkCardIndex ?? 0) - (b.Attachment?.NetworkCardIndex ?? 0) ||
      (a.Attachment?.DeviceIndex ?? 0) - (b.Attachment?.DeviceIndex ?? 0),
  );
  const monitoring = i.Monitoring?.State;
  return compact<InstanceConfiguration>({
    instanceId: i.InstanceId,
    instanceType: i.InstanceType,
    architecture: i.Architecture,
    platform: i.Platform,
    bootMode: i.CurrentInstanceBootMode,
    imageBootMode: i.BootMode,
    enaSupport: i.EnaSupport,
    imageId: i.ImageId,
    keyName: i.KeyName,
    availabilityZone: p?.AvailabilityZone,
    tenancy: p?.Tenancy,
    placementGroup: p?.GroupName || undefined,
    placementGroupId: p?.GroupId || undefined,
    partitionNumber: p?.PartitionNumber,
    subnetId: i.SubnetId,
    vpcId: i.VpcId,
    privateIpAddress: i.PrivateIpAddress,
    networkInterfaces: enis.map(networkInterface),
    securityGroups: (i.SecurityGroups ?? [])
      .filter((g) => g.GroupId)
      .map((g) => compact({ id: g.GroupId!, name: g.GroupName })),
    metadataOptions: m
      ? compact({
          httpTokens: m.HttpTokens,
          httpPutResponseHopLimit: m.HttpPutResponseHopLimit,
          httpEndpoint: m.HttpEndpoint,
          instanceMetadataTags: m.InstanceMetadataTags,
        })
      : undefined,
    iamInstanceProfileArn: i.IamInstanceProfile?.Arn,
    ebsOptimized: i.EbsOptimized,
    monitoring: monitoring === undefined ? undefined : monitoring === 'enabled' || monitoring === 'pending',
    hibernation: i.HibernationOptions?.Configured,
    cpuOptions: i.CpuOptions
      ? compact({ coreCount: i.CpuOptions.CoreCount, threadsPerCore: i.CpuOptions.ThreadsPerCore })
      : undefined,
    rootDeviceName: i.RootDeviceName,
    blockDevices: blockDevices(i, volumes),
    tags,
  });
}

function networkInterface(n: InstanceNetworkInterface): NetworkInterfaceConfiguration {
  const ips = [...(n.PrivateIpAddresses ?? [])]
    .filter((a) => a.PrivateIpAddress)
    .sort((a, b) => Number(b.Primary ?? false) - Number(a.Primary ?? false))
    .map((a) => a.PrivateIpAddress!);
  if (ips.length === 0 && n.PrivateIpAddress) ips.push(n.PrivateIpAddress);
  const assoc = n.Association;
  return compact<NetworkInterfaceConfiguration>({
    deviceIndex: n.Attachment?.DeviceIndex,
    networkCardIndex: n.Attachment?.NetworkCardIndex,
    networkInterfaceId: n.NetworkInterfaceId,
    subnetId: n.SubnetId,
    privateIpAddresses: ips,
    ipv6Addresses: (n.Ipv6Addresses ?? []).filter((a) => a.Ipv6Address).map((a) => a.Ipv6Address!),
    securityGroupIds: (n.Groups ?? []).filter((g) => g.GroupId).map((g) => g.GroupId!),
    description: n.Description || undefined,
    sourceDestCheck: n.SourceDestCheck,
    deleteOnTermination: n.Attachment?.DeleteOnTermination,
    interfaceType: n.InterfaceType,
    publicIp: assoc?.PublicIp
      ? { address: assoc.PublicIp, elastic: assoc.IpOwnerId !== undefined && assoc.IpOwnerId !== 'amazon' }
      : undefined,
  });
}

function blockDevices(i: Instance, volumes: Map<string, Volume>): BlockDeviceConfiguration[] {
  const out: BlockDeviceConfiguration[] = [];
  const listed = new Set<string>();
  const add = (deviceName: string, volumeId: string | undefined, deleteOnTermination?: boolean) => {
    const v = volumeId ? volumes.get(volumeId) : undefined;
    if (volumeId) listed.add(volumeId);
    out.push(
      compact<BlockDeviceConfiguration>({
        deviceName,
        volumeId,
        volumeType: v?.VolumeType,
        sizeGiB: v?.Size,
        iops: v?.Iops,
        throughput: v?.Throughput,
        deleteOnTermination,
        encrypted: v?.Encrypted,
        kmsKeyId: v?.KmsKeyId,
      }),
    );
  };
  for (const b of i.BlockDeviceMappings ?? []) {
    if (b.DeviceName) add(b.DeviceName, b.Ebs?.VolumeId, b.Ebs?.DeleteOnTermination);
  }
  // Volumes attached to it that the instance's own mapping did not list (seen in DescribeVolumes only).
  for (const v of volumes.values()) {
    const a = v.Attachments?.find((x) => x.InstanceId === i.InstanceId);
    if (a?.Device && v.VolumeId && !listed.has(v.VolumeId)) add(a.Device, v.VolumeId, a.DeleteOnTermination);
  }
  return out;
}

/** `o` without its undefined fields, empty arrays and empty objects (shallow). */
function compact<T extends object>(o: { [K in keyof T]: T[K] | undefined }): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined || v === null) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    if (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0) continue;
    out[k] = v;
  }
  return out as T;
}
