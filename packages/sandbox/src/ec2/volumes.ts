import { AwsError } from '../core/errors.js';
import type { SnapshotRecord, Tag, VolumeRecord } from '../core/model.js';
import { byId, type Call, checkId, encryptionOf, type Handler, iso, later, mine, tables } from './call.js';
import { applyFilters } from './filters.js';
import { attachmentStatus, volumeStatus } from './lifecycle.js';
import { paginate } from './paging.js';
import { checkZone } from './regions.js';
import { findRestorableSnapshot } from './snapshot-access.js';
import { tagSet, tagSpecs } from './tags.js';

/** Size limits (GiB) per volume type, as AWS documents them. */
const SIZE_LIMITS: Record<string, [number, number]> = {
  standard: [1, 1024],
  gp2: [1, 16384],
  gp3: [1, 16384],
  io1: [4, 16384],
  io2: [4, 65536],
  st1: [125, 16384],
  sc1: [125, 16384],
};

export interface VolumeSpec {
  zone: string;
  sizeGiB?: number;
  volumeType?: string;
  iops?: number;
  throughput?: number;
  encrypted?: boolean;
  kmsKeyId?: string;
  /** Already checked by the caller: restorable for CreateVolume, granted by the image for RunInstances. */
  snapshot?: SnapshotRecord;
  tags: Tag[];
}

/** Checks a volume's type, size and performance settings and fills in AWS's defaults. */
export function volumePerformance(
  spec: VolumeSpec,
  size: number,
): Pick<VolumeRecord, 'volumeType' | 'iops' | 'throughput'> {
  const type = spec.volumeType ?? 'gp2';
  const limits = SIZE_LIMITS[type];
  if (!limits) throw new AwsError('InvalidParameterValue', `Invalid value '${type}' for volumeType`);
  if (size > limits[1])
    throw new AwsError(
      'InvalidParameterValue',
      `Volume of ${size}GiB is too large; maximum is ${limits[1]}GiB.`,
    );
  if (size < limits[0])
    throw new AwsError(
      'InvalidParameterValue',
      `Volume of ${size}GiB is too small; minimum is ${limits[0]}GiB.`,
    );
  if (type === 'io1' || type === 'io2') {
    if (spec.iops === undefined) {
      throw new AwsError(
        'InvalidParameterCombination',
        `The parameter iops must be specified for ${type} volumes.`,
      );
    }
    return { volumeType: type, iops: spec.iops };
  }
  if (type === 'gp3') {
    const iops = spec.iops ?? 3000;
    if (iops < 3000 || iops > 16000)
      throw new AwsError('InvalidParameterValue', `Invalid iops value ${iops} for gp3 volume`);
    return { volumeType: type, iops, throughput: spec.throughput ?? 125 };
  }
  if (spec.iops !== undefined) {
    throw new AwsError(
      'InvalidParameterCombination',
      `The parameter iops is not supported for ${type} volumes.`,
    );
  }
  return { volumeType: type, iops: type === 'gp2' ? Math.min(16000, Math.max(100, 3 * size)) : undefined };
}

/** A volume spec checked and completed with AWS's defaults, ready to create. */
export type ResolvedVolume = Omit<VolumeRecord, 'volumeId' | 'createTime' | 'availableAt' | 'attachments'>;

/** Checks everything about a volume before anything is created, so that a refused call leaves nothing behind. */
export function resolveVolume(c: Call, spec: VolumeSpec): ResolvedVolume {
  const snap = spec.snapshot;
  const size = spec.sizeGiB ?? snap?.volumeSizeGiB;
  if (size === undefined) {
    throw new AwsError('MissingParameter', 'The request must contain the parameter size or snapshotId');
  }
  if (snap && size < snap.volumeSizeGiB) {
    throw new AwsError(
      'InvalidParameterValue',
      `Volume of ${size}GiB is smaller than snapshot '${snap.snapshotId}', expect size >= ${snap.volumeSizeGiB}GiB`,
    );
  }
  return {
    ownerId: c.accountId,
    region: c.region,
    availabilityZone: spec.zone,
    sizeGiB: size,
    ...volumePerformance(spec, size),
    ...encryptionOf(c, spec.encrypted, spec.kmsKeyId, snap),
    snapshotId: snap?.snapshotId,
    tags: spec.tags,
  };
}

/**
 * Creates a volume record and its block content: empty, or the bytes of the snapshot. Shared by CreateVolume
 * and RunInstances (whose block device mappings make volumes too).
 */
export function createResolvedVolume(
  c: Call,
  r: ResolvedVolume,
  attachments: VolumeRecord['attachments'] = [],
): VolumeRecord {
  const v: VolumeRecord = {
    ...r,
    volumeId: c.ctx.newId('vol'),
    createTime: iso(c.now),
    availableAt: attachments.length ? iso(c.now) : later(c, c.ctx.timing.volumeSeconds),
    attachments,
  };
  c.ctx.blocks.createVolume(v.volumeId, v.sizeGiB, v.snapshotId);
  tables(c).volumes.put(v.volumeId, v);
  return v;
}

export function findVolume(c: Call, volumeId: string): VolumeRecord {
  checkId('vol', volumeId, 'InvalidVolumeID.Malformed');
  const v = tables(c).volumes.get(volumeId);
  if (!v || v.ownerId !== c.accountId || v.region !== c.region) {
    throw new AwsError('InvalidVolume.NotFound', `The volume '${volumeId}' does not exist.`);
  }
  return v;
}

export function attachmentXml(c: Call, v: VolumeRecord, a: VolumeRecord['attachments'][number]) {
  return {
    volumeId: v.volumeId,
    instanceId: a.instanceId,
    device: a.device,
    status: attachmentStatus(a, c.ctx, c.now),
    attachTime: a.attachTime,
    deleteOnTermination: a.deleteOnTermination,
  };
}

export function volumeXml(c: Call, v: VolumeRecord) {
  return {
    volumeId: v.volumeId,
    size: v.sizeGiB,
    snapshotId: v.snapshotId ?? '',
    availabilityZone: v.availabilityZone,
    status: volumeStatus(v, c.now),
    createTime: v.createTime,
    attachmentSet: v.attachments.map((a) => attachmentXml(c, v, a)),
    volumeType: v.volumeType,
    iops: v.iops,
    throughput: v.throughput,
    encrypted: v.encrypted,
    kmsKeyId: v.kmsKeyId,
    tagSet: tagSet(v.tags),
    multiAttachEnabled: false,
  };
}

export const createVolume: Handler = (c) => {
  const zone = checkZone(c, c.p.req('AvailabilityZone'));
  const tags = tagSpecs(c.p, ['volume']).get('volume') ?? [];
  const snapshotId = c.p.str('SnapshotId');
  const v = createResolvedVolume(
    c,
    resolveVolume(c, {
      zone,
      sizeGiB: c.p.int('Size'),
      volumeType: c.p.str('VolumeType'),
      iops: c.p.int('Iops'),
      throughput: c.p.int('Throughput'),
      encrypted: c.p.bool('Encrypted'),
      kmsKeyId: c.p.str('KmsKeyId'),
      snapshot: snapshotId ? findRestorableSnapshot(c, snapshotId, true) : undefined,
      tags,
    }),
  );
  return volumeXml(c, v);
};

export const describeVolumes: Handler = (c) => {
  const ids = c.p.list('VolumeId');
  for (const id of ids) findVolume(c, id);
  const rows = mine(c, tables(c).volumes).filter((v) => ids.length === 0 || ids.includes(v.volumeId));
  const filtered = applyFilters(
    rows,
    c.p.filters(),
    {
      'volume-id': (v) => v.volumeId,
      status: (v) => volumeStatus(v, c.now),
      size: (v) => v.sizeGiB,
      'snapshot-id': (v) => v.snapshotId ?? '',
      'volume-type': (v) => v.volumeType,
      'availability-zone': (v) => v.availabilityZone,
      encrypted: (v) => v.encrypted,
      'create-time': (v) => v.createTime,
      'multi-attach-enabled': () => false,
      'attachment.instance-id': (v) => v.attachments.map((a) => a.instanceId),
      'attachment.device': (v) => v.attachments.map((a) => a.device),
      'attachment.status': (v) => v.attachments.map((a) => attachmentStatus(a, c.ctx, c.now)),
      'attachment.attach-time': (v) => v.attachments.map((a) => a.attachTime),
      'attachment.delete-on-termination': (v) => v.attachments.map((a) => a.deleteOnTermination),
    },
    (v) => v.tags,
  );
  const page = paginate(
    filtered.sort(byId((v) => v.volumeId)),
    c.p,
    (v) => v.volumeId,
    { min: 5, max: 500 },
    'VolumeId',
  );
  return { volumeSet: page.items.map((v) => volumeXml(c, v)), nextToken: page.nextToken };
};

export const deleteVolume: Handler = (c) => {
  const v = findVolume(c, c.p.req('VolumeId'));
  const a = v.attachments[0];
  if (a) throw new AwsError('VolumeInUse', `Volume ${v.volumeId} is currently attached to ${a.instanceId}`);
  c.ctx.blocks.deleteVolume(v.volumeId);
  tables(c).volumes.delete(v.volumeId);
  return { return: true };
};
