import { AwsError } from '../core/errors.js';
import { byId, type Call, checkId, type Handler, iso, tables } from './call.js';
import { applyFilters } from './filters.js';
import { snapshotStatus } from './lifecycle.js';
import { paginate } from './paging.js';
import { AMAZON_OWNER, ensurePublicImages } from './public-images.js';
import type { Params } from './query.js';
import type { ImageBlockDevice, ImageRecord } from './records.js';
import { findRestorableSnapshot } from './snapshot-access.js';
import { tagSet, tagSpecs } from './tags.js';

function canLaunch(img: ImageRecord, accountId: string): boolean {
  return img.ownerId === accountId || img.isPublic || img.launchPermissions.includes(accountId);
}

/** An image of the request's region the caller may launch. */
export function findImage(c: Call, imageId: string): ImageRecord {
  checkId('ami', imageId, 'InvalidAMIID.Malformed');
  ensurePublicImages(c);
  const img = tables(c).images.get(imageId);
  if (!img || img.region !== c.region || !canLaunch(img, c.accountId)) {
    throw new AwsError('InvalidAMIID.NotFound', `The image id '[${imageId}]' does not exist`);
  }
  return img;
}

/** Available once every snapshot behind it has completed (RegisterImage accepts pending snapshots). */
function imageState(c: Call, img: ImageRecord): string {
  const snaps = tables(c).snapshots;
  const pending = img.blockDevices.some((b) => {
    const s = b.snapshotId ? snaps.get(b.snapshotId) : undefined;
    return s !== undefined && snapshotStatus(s, c.now).state !== 'completed';
  });
  return pending ? 'pending' : 'available';
}

export function blockDeviceXml(b: ImageBlockDevice) {
  if (b.noDevice) return { deviceName: b.deviceName, noDevice: '' };
  return {
    deviceName: b.deviceName,
    ebs: {
      snapshotId: b.snapshotId,
      volumeSize: b.volumeSize,
      deleteOnTermination: b.deleteOnTermination ?? true,
      volumeType: b.volumeType ?? 'gp2',
      iops: b.iops,
      throughput: b.throughput,
      encrypted: b.encrypted ?? false,
      kmsKeyId: b.kmsKeyId,
    },
  };
}

function imageXml(c: Call, img: ImageRecord) {
  return {
    imageId: img.imageId,
    imageLocation: `${img.ownerAlias ?? img.ownerId}/${img.name}`,
    imageState: imageState(c, img),
    imageOwnerId: img.ownerId,
    creationDate: img.creationDate,
    isPublic: img.isPublic,
    architecture: img.architecture,
    imageType: 'machine',
    platformDetails: img.platformDetails,
    usageOperation: 'RunInstances',
    imageOwnerAlias: img.ownerAlias,
    name: img.name,
    description: img.description,
    rootDeviceType: 'ebs',
    rootDeviceName: img.rootDeviceName,
    blockDeviceMapping: img.blockDevices.map(blockDeviceXml),
    virtualizationType: img.virtualizationType,
    hypervisor: 'xen',
    enaSupport: img.enaSupport,
    sriovNetSupport: 'simple',
    bootMode: img.bootMode,
    tagSet: tagSet(img.tags),
  };
}

/** Block device mappings as RunInstances and RegisterImage take them. */
export function parseBlockDevices(p: Params): ImageBlockDevice[] {
  return p.structs('BlockDeviceMapping').map((m) => {
    const ebs = m.sub('Ebs');
    return {
      deviceName: m.req('DeviceName'),
      noDevice: m.str('NoDevice') !== undefined ? true : undefined,
      snapshotId: ebs?.str('SnapshotId'),
      volumeSize: ebs?.int('VolumeSize'),
      volumeType: ebs?.str('VolumeType'),
      deleteOnTermination: ebs?.bool('DeleteOnTermination'),
      encrypted: ebs?.bool('Encrypted'),
      iops: ebs?.int('Iops'),
      throughput: ebs?.int('Throughput'),
      kmsKeyId: ebs?.str('KmsKeyId'),
    };
  });
}

export const registerImage: Handler = (c) => {
  const name = c.p.req('Name');
  if (!/^[a-zA-Z0-9().\-/_ ]{3,128}$/.test(name)) {
    throw new AwsError(
      'InvalidAMIName.Malformed',
      `AMI names must be between 3 and 128 characters long, and may contain letters, numbers, '(', ')', '.', '-', '/' and '_'`,
    );
  }
  const t = tables(c);
  const dup = [...t.images.values()].find(
    (i) => i.ownerId === c.accountId && i.region === c.region && i.name === name,
  );
  if (dup)
    throw new AwsError(
      'InvalidAMIName.Duplicate',
      `AMI name ${name} is already in use by AMI ${dup.imageId}`,
    );
  const devices = parseBlockDevices(c.p);
  if (devices.length === 0)
    throw new AwsError('MissingParameter', 'The request must contain the parameter BlockDeviceMapping');
  const rootDeviceName = c.p.str('RootDeviceName') ?? '/dev/xvda';
  const root = devices.find((d) => d.deviceName === rootDeviceName);
  if (!root?.snapshotId) {
    throw new AwsError(
      'InvalidBlockDeviceMapping',
      `The root device name ${rootDeviceName} must be mapped to a snapshot`,
    );
  }
  for (const d of devices) {
    if (!d.snapshotId) continue;
    const s = findRestorableSnapshot(c, d.snapshotId, false);
    if (d.volumeSize !== undefined && d.volumeSize < s.volumeSizeGiB) {
      throw new AwsError(
        'InvalidBlockDeviceMapping',
        `Volume of size ${d.volumeSize}GB is smaller than snapshot '${s.snapshotId}', expect size >= ${s.volumeSizeGiB}GB`,
      );
    }
    d.volumeSize ??= s.volumeSizeGiB;
    d.encrypted = s.encrypted;
    d.deleteOnTermination ??= true;
    d.volumeType ??= 'gp2';
  }
  const tags = tagSpecs(c.p, ['image']).get('image') ?? [];
  const img: ImageRecord = {
    imageId: c.ctx.newId('ami'),
    ownerId: c.accountId,
    region: c.region,
    name,
    description: c.p.str('Description'),
    architecture: c.p.str('Architecture') ?? 'x86_64',
    rootDeviceName,
    virtualizationType: c.p.str('VirtualizationType') ?? 'hvm',
    enaSupport: c.p.bool('EnaSupport') ?? false,
    bootMode: c.p.str('BootMode'),
    platformDetails: 'Linux/UNIX',
    blockDevices: devices,
    isPublic: false,
    launchPermissions: [],
    creationDate: iso(c.now),
    tags,
  };
  t.images.put(img.imageId, img);
  return { imageId: img.imageId };
};

export const deregisterImage: Handler = (c) => {
  const img = findImage(c, c.p.req('ImageId'));
  if (img.ownerId !== c.accountId) {
    throw new AwsError('AuthFailure', `Not authorized for image:${img.imageId}`, 400);
  }
  tables(c).images.delete(img.imageId);
  return { return: true };
};

function accountOf(c: Call, v: string): string {
  return v === 'self' ? c.accountId : v === 'amazon' ? AMAZON_OWNER : v;
}

export const describeImages: Handler = (c) => {
  ensurePublicImages(c);
  const ids = c.p.list('ImageId');
  const owners = c.p.list('Owner').map((o) => accountOf(c, o));
  const executable = c.p.list('ExecutableBy');
  for (const id of ids) findImage(c, id);
  const rows = [...tables(c).images.values()].filter(
    (img) =>
      img.region === c.region &&
      canLaunch(img, c.accountId) &&
      (ids.length === 0 || ids.includes(img.imageId)) &&
      (owners.length === 0 || owners.includes(img.ownerId)) &&
      (executable.length === 0 ||
        executable.some((e) =>
          e === 'all' ? img.isPublic : canLaunch({ ...img, isPublic: false }, accountOf(c, e)),
        )),
  );
  const bd = (img: ImageRecord) => img.blockDevices;
  const filtered = applyFilters(
    rows,
    c.p.filters(),
    {
      'image-id': (i) => i.imageId,
      name: (i) => i.name,
      description: (i) => i.description,
      state: (i) => imageState(c, i),
      'owner-id': (i) => i.ownerId,
      'owner-alias': (i) => i.ownerAlias,
      'is-public': (i) => i.isPublic,
      architecture: (i) => i.architecture,
      'image-type': () => 'machine',
      'root-device-name': (i) => i.rootDeviceName,
      'root-device-type': () => 'ebs',
      'virtualization-type': (i) => i.virtualizationType,
      hypervisor: () => 'xen',
      'platform-details': (i) => i.platformDetails,
      'creation-date': (i) => i.creationDate,
      'block-device-mapping.snapshot-id': (i) => bd(i).map((b) => b.snapshotId),
      'block-device-mapping.volume-size': (i) => bd(i).map((b) => b.volumeSize),
      'block-device-mapping.volume-type': (i) => bd(i).map((b) => b.volumeType),
      'block-device-mapping.device-name': (i) => bd(i).map((b) => b.deviceName),
      'block-device-mapping.encrypted': (i) => bd(i).map((b) => b.encrypted),
    },
    (i) => i.tags,
  );
  const page = paginate(
    filtered.sort(byId((i) => i.imageId)),
    c.p,
    (i) => i.imageId,
    { min: 5, max: 1000 },
    'ImageId',
  );
  return { imagesSet: page.items.map((i) => imageXml(c, i)), nextToken: page.nextToken };
};
