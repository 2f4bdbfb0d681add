import type { Tag } from '../core/model.js';

/**
 * Records the EC2 service keeps in its own tables (volumes and snapshots are shared, see core/model.ts). Plain
 * JSON, replaced whole on change. Everything that moves over time is stored as the target state plus the instant
 * it was asked for; the state shown is derived from the clock (see lifecycle.ts).
 */

export interface Owned {
  ownerId: string;
  region: string;
  tags: Tag[];
}

export type InstanceTarget = 'running' | 'stopped' | 'terminated';

export interface InstanceRecord extends Owned {
  instanceId: string;
  reservationId: string;
  imageId: string;
  instanceType: string;
  availabilityZone: string;
  subnetId: string;
  vpcId: string;
  privateIpAddress: string;
  securityGroups: Array<{ groupId: string; groupName: string }>;
  keyName?: string;
  launchTime: string;
  amiLaunchIndex: number;
  architecture: string;
  rootDeviceName: string;
  /** Target state and when it was requested: running (pending before), stopped (stopping), terminated. */
  target: InstanceTarget;
  changedAt: string;
  transitionReason: string;
  clientToken?: string;
  /** Hash of the RunInstances parameters, to answer IdempotentParameterMismatch on a reused ClientToken. */
  requestHash?: string;
  disableApiTermination: boolean;
  disableApiStop: boolean;
  ebsOptimized: boolean;
  iamProfile?: { associationId: string; arn: string; id: string; associatedAt: string };
  /** Set once the termination's effects (volume deletion/detachment) have been applied. */
  finalized?: boolean;
}

export interface ImageBlockDevice {
  deviceName: string;
  snapshotId?: string;
  volumeSize?: number;
  volumeType?: string;
  deleteOnTermination?: boolean;
  encrypted?: boolean;
  iops?: number;
  throughput?: number;
  kmsKeyId?: string;
  noDevice?: boolean;
}

export interface ImageRecord extends Owned {
  imageId: string;
  ownerAlias?: string;
  name: string;
  description?: string;
  architecture: string;
  rootDeviceName: string;
  virtualizationType: string;
  enaSupport: boolean;
  bootMode?: string;
  platformDetails: string;
  blockDevices: ImageBlockDevice[];
  isPublic: boolean;
  /** Accounts allowed to launch it (launchPermission). */
  launchPermissions: string[];
  creationDate: string;
}

export interface VpcRecord extends Owned {
  vpcId: string;
  cidrBlock: string;
  isDefault: boolean;
  cidrAssociationId: string;
  dhcpOptionsId: string;
}

export interface SubnetRecord extends Owned {
  subnetId: string;
  vpcId: string;
  availabilityZone: string;
  availabilityZoneId: string;
  cidrBlock: string;
  defaultForAz: boolean;
  mapPublicIpOnLaunch: boolean;
  /** Host addresses handed out so far (instance private IPs come from the subnet's range). */
  allocated: number;
}

export interface IpPermission {
  ipProtocol: string;
  fromPort?: number;
  toPort?: number;
  ipRanges: Array<{ cidrIp: string; description?: string }>;
  groups: Array<{ groupId: string; userId: string }>;
}

export interface SecurityGroupRecord extends Owned {
  groupId: string;
  groupName: string;
  description: string;
  vpcId: string;
  ingress: IpPermission[];
  egress: IpPermission[];
}

export interface KeyPairRecord extends Owned {
  keyPairId: string;
  keyName: string;
  keyType: string;
  fingerprint: string;
  publicKey: string;
  createTime: string;
}

export interface VolumeModificationRecord {
  volumeId: string;
  ownerId: string;
  region: string;
  originalSize: number;
  targetSize: number;
  originalVolumeType: string;
  targetVolumeType: string;
  originalIops?: number;
  targetIops?: number;
  startTime: string;
  /** modifying until optimizingAt, optimizing until completesAt, then completed. */
  optimizingAt: string;
  completesAt: string;
}

/** Deferred effects (a detaching volume becomes detached), applied by the settle pass before each request. */
export interface TimerRecord {
  id: string;
  at: string;
  kind: 'detach';
  volumeId: string;
  instanceId: string;
}

/** For incremental CopySnapshot: which lineage a copy came from and how it is encrypted. */
export interface CopyRecord {
  snapshotId: string;
  ownerId: string;
  region: string;
  sourceSnapshotId: string;
  sourceLineage: string;
  kmsKeyId?: string;
}

export const TABLES = {
  instances: 'ec2.instances',
  images: 'ec2.images',
  vpcs: 'ec2.vpcs',
  subnets: 'ec2.subnets',
  groups: 'ec2.securityGroups',
  keyPairs: 'ec2.keyPairs',
  modifications: 'ec2.volumeModifications',
  timers: 'ec2.timers',
  copies: 'ec2.snapshotCopies',
  marks: 'ec2.marks',
  volumes: 'volumes',
  snapshots: 'snapshots',
} as const;
