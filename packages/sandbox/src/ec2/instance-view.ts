import { AwsError } from '../core/errors.js';
import type { VolumeRecord } from '../core/model.js';
import { type Call, checkId, tables } from './call.js';
import { attachmentStatus, instanceState } from './lifecycle.js';
import type { InstanceRecord } from './records.js';
import { tagSet } from './tags.js';

/** The caller's instances by id; every missing id is named in one InvalidInstanceID.NotFound, as AWS does. */
export function findInstances(c: Call, ids: string[]): InstanceRecord[] {
  for (const id of ids) checkId('i', id, 'InvalidInstanceID.Malformed');
  const t = tables(c).instances;
  const found = ids
    .map((id) => t.get(id))
    .map((i) => (i && i.ownerId === c.accountId && i.region === c.region ? i : undefined));
  const missing = ids.filter((_, n) => !found[n]);
  if (missing.length === 1) {
    throw new AwsError('InvalidInstanceID.NotFound', `The instance ID '${missing[0]}' does not exist`);
  }
  if (missing.length > 1) {
    throw new AwsError('InvalidInstanceID.NotFound', `The instance IDs '${missing.join(', ')}' do not exist`);
  }
  return found as InstanceRecord[];
}

export function findInstance(c: Call, id: string): InstanceRecord {
  return findInstances(c, [id])[0]!;
}

/** Volumes by the instance they are attached to, computed once per request. */
export function attachmentsByInstance(
  c: Call,
): Map<string, Array<{ v: VolumeRecord; a: VolumeRecord['attachments'][number] }>> {
  const map = new Map<string, Array<{ v: VolumeRecord; a: VolumeRecord['attachments'][number] }>>();
  for (const v of tables(c).volumes.values()) {
    for (const a of v.attachments) {
      const list = map.get(a.instanceId) ?? [];
      list.push({ v, a });
      map.set(a.instanceId, list);
    }
  }
  return map;
}

export function stateReason(name: string) {
  if (name === 'stopped' || name === 'stopping' || name === 'terminated' || name === 'shutting-down') {
    return {
      code: 'Client.UserInitiatedShutdown',
      message: 'Client.UserInitiatedShutdown: User initiated shutdown',
    };
  }
  return undefined;
}

function dnsName(i: InstanceRecord): string {
  const host = `ip-${i.privateIpAddress.replaceAll('.', '-')}`;
  return i.region === 'us-east-1' ? `${host}.ec2.internal` : `${host}.${i.region}.compute.internal`;
}

export function instanceXml(c: Call, i: InstanceRecord, volumes: ReturnType<typeof attachmentsByInstance>) {
  const state = instanceState(i, c.ctx, c.now);
  const gone = state.name === 'terminated';
  return {
    instanceId: i.instanceId,
    imageId: i.imageId,
    instanceState: state,
    privateDnsName: gone ? '' : dnsName(i),
    dnsName: '',
    reason: i.transitionReason,
    keyName: i.keyName,
    amiLaunchIndex: i.amiLaunchIndex,
    productCodes: [],
    instanceType: i.instanceType,
    launchTime: i.launchTime,
    placement: { availabilityZone: i.availabilityZone, groupName: '', tenancy: 'default' },
    monitoring: { state: 'disabled' },
    subnetId: gone ? undefined : i.subnetId,
    vpcId: gone ? undefined : i.vpcId,
    privateIpAddress: gone ? undefined : i.privateIpAddress,
    sourceDestCheck: true,
    groupSet: gone ? [] : i.securityGroups.map((g) => ({ groupId: g.groupId, groupName: g.groupName })),
    stateReason: stateReason(state.name),
    architecture: i.architecture,
    rootDeviceType: 'ebs',
    rootDeviceName: i.rootDeviceName,
    blockDeviceMapping: (volumes.get(i.instanceId) ?? []).map(({ v, a }) => ({
      deviceName: a.device,
      ebs: {
        volumeId: v.volumeId,
        status: attachmentStatus(a, c.ctx, c.now),
        attachTime: a.attachTime,
        deleteOnTermination: a.deleteOnTermination,
      },
    })),
    virtualizationType: 'hvm',
    clientToken: i.clientToken ?? '',
    tagSet: tagSet(i.tags),
    hypervisor: 'xen',
    networkInterfaceSet: [],
    iamInstanceProfile: i.iamProfile ? { arn: i.iamProfile.arn, id: i.iamProfile.id } : undefined,
    ebsOptimized: i.ebsOptimized,
    enaSupport: true,
    metadataOptions: {
      state: 'applied',
      httpTokens: 'required',
      httpPutResponseHopLimit: 2,
      httpEndpoint: 'enabled',
    },
    platformDetails: 'Linux/UNIX',
    usageOperation: 'RunInstances',
  };
}

/** Instances grouped into their reservations, in the order given. */
export function reservationsXml(c: Call, instances: InstanceRecord[]) {
  const volumes = attachmentsByInstance(c);
  const groups = new Map<string, InstanceRecord[]>();
  for (const i of instances) groups.set(i.reservationId, [...(groups.get(i.reservationId) ?? []), i]);
  return [...groups.entries()].map(([reservationId, list]) => ({
    reservationId,
    ownerId: list[0]!.ownerId,
    groupSet: [],
    instancesSet: list.map((i) => instanceXml(c, i, volumes)),
  }));
}
