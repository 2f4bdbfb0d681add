import { AwsError } from '../core/errors.js';
import type { Tag } from '../core/model.js';
import { type Call, type Handler, hashParams, iso, mine, tables } from './call.js';
import { applyFilters } from './filters.js';
import { findGroup } from './groups.js';
import { findImage, parseBlockDevices } from './images.js';
import { instanceProfile } from './instance-profiles.js';
import { attachmentsByInstance, findInstances, instanceXml, reservationsXml } from './instance-view.js';
import { findKeyPair } from './keypairs.js';
import { instanceState } from './lifecycle.js';
import { paginate } from './paging.js';
import type {
  ImageBlockDevice,
  ImageRecord,
  InstanceRecord,
  SecurityGroupRecord,
  SubnetRecord,
} from './records.js';
import { findRestorableSnapshot } from './snapshot-access.js';
import { tagSpecs } from './tags.js';
import { createResolvedVolume, type ResolvedVolume, resolveVolume } from './volumes.js';
import { allocateIp, defaultSubnet, findSubnet } from './vpcs.js';

/** The image's mappings with the request's overrides by device name; NoDevice removes one. */
function mergedDevices(
  img: ImageRecord,
  requested: ImageBlockDevice[],
): Array<ImageBlockDevice & { fromImage: boolean }> {
  const out = img.blockDevices.map((b) => ({ ...b, fromImage: true }));
  for (const r of requested) {
    const i = out.findIndex((b) => b.deviceName === r.deviceName);
    const defined = Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined));
    if (i >= 0)
      out[i] = {
        ...out[i]!,
        ...defined,
        fromImage: out[i]!.snapshotId === (r.snapshotId ?? out[i]!.snapshotId),
      };
    else out.push({ ...r, fromImage: false });
  }
  return out.filter((b) => !b.noDevice);
}

/** Volume specs for one instance; the image's own snapshots need no permission of the caller, as on AWS. */
function resolveDevices(c: Call, img: ImageRecord, zone: string, tags: Tag[]) {
  return mergedDevices(img, parseBlockDevices(c.p)).map((b) => {
    let snapshot: ReturnType<typeof findRestorableSnapshot> | undefined;
    if (b.snapshotId) {
      snapshot = b.fromImage
        ? tables(c).snapshots.get(b.snapshotId)
        : findRestorableSnapshot(c, b.snapshotId, true);
      if (!snapshot)
        throw new AwsError('InvalidSnapshot.NotFound', `The snapshot '${b.snapshotId}' does not exist.`);
    } else if (b.volumeSize === undefined) {
      throw new AwsError(
        'InvalidBlockDeviceMapping',
        `The device '${b.deviceName}' must have a snapshot or a volume size`,
      );
    }
    const volume = resolveVolume(c, {
      zone,
      sizeGiB: b.volumeSize,
      volumeType: b.volumeType,
      iops: b.iops,
      throughput: b.throughput,
      encrypted: b.encrypted,
      kmsKeyId: b.encrypted ? b.kmsKeyId : undefined,
      snapshot,
      tags,
    });
    return { device: b.deviceName, deleteOnTermination: b.deleteOnTermination ?? true, volume };
  });
}

function placement(c: Call): { subnet: SubnetRecord; groups: SecurityGroupRecord[] } {
  const eni = c.p.structs('NetworkInterface')[0];
  const subnetId = c.p.str('SubnetId') ?? eni?.str('SubnetId');
  const zone = c.p.sub('Placement')?.str('AvailabilityZone');
  const subnet = subnetId ? findSubnet(c, subnetId) : defaultSubnet(c, zone);
  const ids = [...c.p.list('SecurityGroupId'), ...(eni?.list('SecurityGroupId') ?? [])];
  const names = c.p.list('SecurityGroup');
  const inVpc = mine(c, tables(c).groups).filter((g) => g.vpcId === subnet.vpcId);
  const groups = ids.map((id) => {
    const g = findGroup(c, id);
    if (g.vpcId !== subnet.vpcId) {
      throw new AwsError(
        'InvalidGroup.NotFound',
        `The security group '${id}' does not exist in VPC '${subnet.vpcId}'`,
      );
    }
    return g;
  });
  for (const n of names) {
    const g = inVpc.find((x) => x.groupName === n);
    if (!g)
      throw new AwsError(
        'InvalidGroup.NotFound',
        `The security group '${n}' does not exist in VPC '${subnet.vpcId}'`,
      );
    groups.push(g);
  }
  if (groups.length === 0) groups.push(inVpc.find((g) => g.groupName === 'default')!);
  return { subnet, groups };
}

function counts(c: Call): { min: number; max: number } {
  const min = c.p.int('MinCount');
  const max = c.p.int('MaxCount');
  if (min === undefined)
    throw new AwsError('MissingParameter', 'The request must contain the parameter MinCount');
  if (max === undefined)
    throw new AwsError('MissingParameter', 'The request must contain the parameter MaxCount');
  if (min < 1 || max < min) {
    throw new AwsError(
      'InvalidParameterValue',
      `Invalid value '${min}' for minCount. Must be between 1 and maxCount.`,
    );
  }
  if (max > 100)
    throw new AwsError(
      'InstanceLimitExceeded',
      `You have requested more instances (${max}) than your current instance limit of 100 allows for the specified instance type.`,
    );
  return { min, max };
}

/** A ClientToken seen before answers the original reservation, or a mismatch when parameters differ. */
function replay(c: Call, token: string | undefined, hash: string) {
  if (!token) return undefined;
  const earlier = mine(c, tables(c).instances).filter((i) => i.clientToken === token);
  if (earlier.length === 0) return undefined;
  if (earlier[0]!.requestHash !== hash) {
    throw new AwsError(
      'IdempotentParameterMismatch',
      'Arguments on this idempotent request are inconsistent with arguments used in previous request(s).',
    );
  }
  const r = reservationsXml(
    c,
    earlier.sort((a, b) => a.amiLaunchIndex - b.amiLaunchIndex),
  )[0]!;
  return { ...r, requesterId: undefined };
}

export const runInstances: Handler = (c) => {
  const imageId = c.p.req('ImageId');
  const { max } = counts(c);
  const token = c.p.str('ClientToken');
  const hash = hashParams(c.p, ['ClientToken', 'Action', 'Version', 'DryRun']);
  const again = replay(c, token, hash);
  if (again) return again;
  const img = findImage(c, imageId);
  const instanceType = c.p.str('InstanceType') ?? 'm1.small';
  if (!/^[a-z][a-z0-9-]*\.[a-z0-9-]+$/.test(instanceType)) {
    throw new AwsError('InvalidParameterValue', `Invalid value '${instanceType}' for InstanceType.`);
  }
  const { subnet, groups } = placement(c);
  const keyName = c.p.str('KeyName');
  if (keyName) findKeyPair(c, keyName);
  const specs = tagSpecs(c.p, ['instance', 'volume', 'network-interface']);
  const devices = resolveDevices(c, img, subnet.availabilityZone, specs.get('volume') ?? []);
  const profile = c.p.sub('IamInstanceProfile');
  const reservationId = c.ctx.newId('r');
  const launched: InstanceRecord[] = [];
  for (let n = 0; n < max; n++) {
    const i: InstanceRecord = {
      instanceId: c.ctx.newId('i'),
      reservationId,
      ownerId: c.accountId,
      region: c.region,
      imageId: img.imageId,
      instanceType,
      availabilityZone: subnet.availabilityZone,
      subnetId: subnet.subnetId,
      vpcId: subnet.vpcId,
      privateIpAddress: allocateIp(c, tables(c).subnets.get(subnet.subnetId)!),
      securityGroups: groups.map((g) => ({ groupId: g.groupId, groupName: g.groupName })),
      keyName,
      launchTime: iso(c.now),
      amiLaunchIndex: n,
      architecture: img.architecture,
      rootDeviceName: img.rootDeviceName,
      target: 'running',
      changedAt: iso(c.now),
      transitionReason: '',
      clientToken: token,
      requestHash: hash,
      disableApiTermination: c.p.bool('DisableApiTermination') ?? false,
      disableApiStop: c.p.bool('DisableApiStop') ?? false,
      ebsOptimized: c.p.bool('EbsOptimized') ?? false,
      tags: specs.get('instance') ?? [],
    };
    if (profile) i.iamProfile = instanceProfile(c, profile);
    tables(c).instances.put(i.instanceId, i);
    for (const d of devices) {
      createResolvedVolume(c, d.volume as ResolvedVolume, [
        {
          instanceId: i.instanceId,
          device: d.device,
          attachTime: iso(c.now),
          deleteOnTermination: d.deleteOnTermination,
          state: 'attached',
        },
      ]);
    }
    launched.push(i);
  }
  const volumes = attachmentsByInstance(c);
  return {
    reservationId,
    ownerId: c.accountId,
    groupSet: [],
    instancesSet: launched.map((i) => instanceXml(c, i, volumes)),
  };
};

export const describeInstances: Handler = (c) => {
  const ids = c.p.list('InstanceId');
  const picked = ids.length ? findInstances(c, ids) : mine(c, tables(c).instances);
  const volumes = attachmentsByInstance(c);
  const devices = (i: InstanceRecord) => volumes.get(i.instanceId) ?? [];
  const filtered = applyFilters(
    picked,
    c.p.filters(),
    {
      'instance-id': (i) => i.instanceId,
      'instance-state-name': (i) => instanceState(i, c.ctx, c.now).name,
      'instance-state-code': (i) => instanceState(i, c.ctx, c.now).code,
      'instance-type': (i) => i.instanceType,
      'image-id': (i) => i.imageId,
      'vpc-id': (i) => i.vpcId,
      'subnet-id': (i) => i.subnetId,
      'availability-zone': (i) => i.availabilityZone,
      'placement.availability-zone': (i) => i.availabilityZone,
      'reservation-id': (i) => i.reservationId,
      'owner-id': (i) => i.ownerId,
      'key-name': (i) => i.keyName,
      'private-ip-address': (i) => i.privateIpAddress,
      'launch-time': (i) => i.launchTime,
      architecture: (i) => i.architecture,
      'root-device-name': (i) => i.rootDeviceName,
      'root-device-type': () => 'ebs',
      'client-token': (i) => i.clientToken,
      'instance.group-id': (i) => i.securityGroups.map((g) => g.groupId),
      'instance.group-name': (i) => i.securityGroups.map((g) => g.groupName),
      'iam-instance-profile.arn': (i) => i.iamProfile?.arn,
      'block-device-mapping.volume-id': (i) => devices(i).map((d) => d.v.volumeId),
      'block-device-mapping.device-name': (i) => devices(i).map((d) => d.a.device),
      'block-device-mapping.delete-on-termination': (i) => devices(i).map((d) => d.a.deleteOnTermination),
    },
    (i) => i.tags,
  );
  const key = (i: InstanceRecord) =>
    `${i.launchTime}|${i.amiLaunchIndex.toString().padStart(4, '0')}|${i.instanceId}`;
  const sorted = filtered.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  const page = paginate(sorted, c.p, key, { min: 5, max: 1000 }, 'InstanceId');
  return { reservationSet: reservationsXml(c, page.items), nextToken: page.nextToken };
};
