import { AwsError } from '../core/errors.js';
import type { SnapshotRecord, Tag, VolumeRecord } from '../core/model.js';
import { byId, type Call, checkId, type Handler, iso, later, tables } from './call.js';
import { applyFilters } from './filters.js';
import { snapshotStatus, snapshotVisible } from './lifecycle.js';
import { checkPaging, paginate } from './paging.js';
import { AMAZON_OWNER } from './public-images.js';
import { canRestore, findOwnSnapshot, findRestorableSnapshot, notFound } from './snapshot-access.js';
import { checkSnapshotQuota, describable, describableAt } from './snapshot-limits.js';
import { mergeTags, tagSet, tagSpecs } from './tags.js';
import { findVolume } from './volumes.js';

/** Captures a volume's bytes at this instant; completion (pending -> completed) then follows the clock. */
export function snapshotVolume(c: Call, v: VolumeRecord, description: string, tags: Tag[]): SnapshotRecord {
  const snapshotId = c.ctx.newId('snap');
  c.ctx.blocks.createSnapshotFromVolume(snapshotId, v.volumeId);
  const s: SnapshotRecord = {
    snapshotId,
    ownerId: c.accountId,
    region: c.region,
    volumeId: v.volumeId,
    volumeSizeGiB: v.sizeGiB,
    description,
    encrypted: v.encrypted,
    kmsKeyId: v.kmsKeyId,
    startTime: iso(c.now),
    completesAt: later(c, c.ctx.timing.snapshotSeconds),
    origin: 'ec2',
    lineage: c.ctx.blocks.lineageOf(snapshotId) ?? snapshotId,
    sharedWith: [],
    tags,
  };
  const at = describableAt(c);
  if (at) s.describableAt = at;
  tables(c).snapshots.put(snapshotId, s);
  return s;
}

export function snapshotXml(c: Call, s: SnapshotRecord) {
  const st = snapshotStatus(s, c.now);
  return {
    snapshotId: s.snapshotId,
    volumeId: s.volumeId,
    status: st.state,
    statusMessage: s.stateMessage,
    startTime: s.startTime,
    progress: st.progress,
    ownerId: s.ownerId,
    ownerAlias: s.ownerId === AMAZON_OWNER ? 'amazon' : undefined,
    volumeSize: s.volumeSizeGiB,
    description: s.description,
    encrypted: s.encrypted,
    kmsKeyId: s.kmsKeyId,
    tagSet: tagSet(s.tags),
    storageTier: 'standard',
  };
}

export const createSnapshot: Handler = (c) => {
  const v = findVolume(c, c.p.req('VolumeId'));
  if (Date.parse(v.availableAt) > c.now) {
    throw new AwsError('IncorrectState', `Volume '${v.volumeId}' is in the 'creating' state.`);
  }
  const tags = tagSpecs(c.p, ['snapshot']).get('snapshot') ?? [];
  checkSnapshotQuota(c, 1);
  return snapshotXml(c, snapshotVolume(c, v, c.p.str('Description') ?? '', tags));
};

/**
 * Crash-consistent snapshots of an instance's volumes. Every volume is captured in the same synchronous turn, so
 * no write through any other request can fall between two of them.
 */
export const createSnapshots: Handler = (c) => {
  const spec = c.p.sub('InstanceSpecification');
  const instanceId = spec?.str('InstanceId');
  if (!spec || !instanceId)
    throw new AwsError(
      'MissingParameter',
      'The request must contain the parameter InstanceSpecification.InstanceId',
    );
  checkId('i', instanceId, 'InvalidInstanceID.Malformed');
  const i = tables(c).instances.get(instanceId);
  if (!i || i.ownerId !== c.accountId || i.region !== c.region || i.finalized) {
    throw new AwsError('InvalidInstanceID.NotFound', `The instance ID '${instanceId}' does not exist`);
  }
  const copyFrom = c.p.str('CopyTagsFromSource');
  if (copyFrom !== undefined && copyFrom !== 'volume') {
    throw new AwsError(
      'InvalidParameterValue',
      `Value (${copyFrom}) for parameter CopyTagsFromSource is invalid.`,
    );
  }
  const excluded = spec.list('ExcludeDataVolumeId');
  const excludeBoot = spec.bool('ExcludeBootVolume') ?? false;
  const volumes = [...tables(c).volumes.values()]
    .filter((v) => v.attachments.some((a) => a.instanceId === instanceId))
    .filter((v) => {
      const boot = v.attachments.some((a) => a.device === i.rootDeviceName);
      return boot ? !excludeBoot : !excluded.includes(v.volumeId);
    });
  for (const id of excluded) {
    const v = tables(c).volumes.get(id);
    if (!v?.attachments.some((a) => a.instanceId === instanceId && a.device !== i.rootDeviceName)) {
      throw new AwsError(
        'InvalidParameterValue',
        `The volume ${id} is not a data volume attached to instance ${instanceId}`,
      );
    }
  }
  if (volumes.length === 0) {
    throw new AwsError('InvalidParameterValue', `Instance ${instanceId} has no volumes left to snapshot`);
  }
  const extra = tagSpecs(c.p, ['snapshot']).get('snapshot') ?? [];
  const description = c.p.str('Description') ?? '';
  // Every check before the first snapshot is taken: a refused call leaves no partial set behind.
  const tagsOf = volumes.map((v) => (copyFrom ? mergeTags(v.tags, extra) : extra));
  checkSnapshotQuota(c, volumes.length);
  // One clock reading (c.now) for the whole set: every snapshot shows the same StartTime, as AWS documents.
  const taken = volumes.map((v, n) => snapshotVolume(c, v, description, tagsOf[n]!));
  return {
    snapshotSet: taken.map((s) => {
      const x = snapshotXml(c, s);
      return {
        snapshotId: x.snapshotId,
        volumeId: x.volumeId,
        state: x.status,
        volumeSize: x.volumeSize,
        startTime: x.startTime,
        progress: x.progress,
        ownerId: x.ownerId,
        description: x.description,
        encrypted: x.encrypted,
        tagSet: x.tagSet,
      };
    }),
  };
};

/** Owner and RestorableBy values name accounts; `self` is the caller, `amazon` AWS's own, `all` the public. */
function accountOf(c: Call, v: string): string {
  return v === 'self' ? c.accountId : v === 'amazon' ? AMAZON_OWNER : v;
}

export const describeSnapshots: Handler = (c) => {
  const ids = c.p.list('SnapshotId');
  const owners = c.p.list('Owner').map((o) => accountOf(c, o));
  const restorable = c.p.list('RestorableBy').map((o) => accountOf(c, o));
  // Paging is checked first: AWS refuses MaxResults with SnapshotIds whatever the ids.
  const limits = { min: 5, max: 1000, clamp: true };
  checkPaging(c.p, limits, 'SnapshotId');
  // A snapshot still inside the eventual-consistency window is unknown by id and absent from lists.
  for (const id of ids) {
    const s = findRestorableSnapshot(c, id, false);
    if (!describable(s, c.now)) throw notFound(id);
  }
  const visible = [...tables(c).snapshots.values()].filter(
    (s) =>
      s.region === c.region &&
      snapshotVisible(s, c.now) &&
      describable(s, c.now) &&
      canRestore(s, c.accountId),
  );
  const rows = visible.filter(
    (s) =>
      (ids.length === 0 || ids.includes(s.snapshotId)) &&
      (owners.length === 0 || owners.includes(s.ownerId)) &&
      (restorable.length === 0 ||
        restorable.some((a) => (a === 'all' ? s.sharedWith.includes('all') : canRestore(s, a)))),
  );
  const filtered = applyFilters(
    rows,
    c.p.filters(),
    {
      'snapshot-id': (s) => s.snapshotId,
      status: (s) => snapshotStatus(s, c.now).state,
      progress: (s) => snapshotStatus(s, c.now).progress,
      'volume-id': (s) => s.volumeId,
      'volume-size': (s) => s.volumeSizeGiB,
      'owner-id': (s) => s.ownerId,
      'owner-alias': (s) => (s.ownerId === AMAZON_OWNER ? 'amazon' : undefined),
      description: (s) => s.description,
      'start-time': (s) => s.startTime,
      encrypted: (s) => s.encrypted,
      'kms-key-id': (s) => s.kmsKeyId,
      'storage-tier': () => 'standard',
    },
    (s) => s.tags,
  );
  const key = (s: SnapshotRecord) => s.snapshotId;
  const page = paginate(filtered.sort(byId(key)), c.p, key, limits, 'SnapshotId');
  return { snapshotSet: page.items.map((s) => snapshotXml(c, s)), nextToken: page.nextToken };
};

export const deleteSnapshot: Handler = (c) => {
  const s = findOwnSnapshot(c, c.p.req('SnapshotId'));
  const image = [...tables(c).images.values()].find(
    (img) => img.region === s.region && img.blockDevices.some((b) => b.snapshotId === s.snapshotId),
  );
  if (image) {
    throw new AwsError(
      'InvalidSnapshot.InUse',
      `The snapshot ${s.snapshotId} is currently in use by ${image.imageId}`,
    );
  }
  c.ctx.blocks.deleteSnapshot(s.snapshotId);
  tables(c).snapshots.delete(s.snapshotId);
  tables(c).copies.delete(s.snapshotId);
  return { return: true };
};
