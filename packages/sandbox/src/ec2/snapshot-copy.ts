import { AwsError } from '../core/errors.js';
import type { SnapshotRecord } from '../core/model.js';
import { type Call, encryptionOf, type Handler, iso, later, tables } from './call.js';
import { DECRYPT_WITH, useKey } from './encryption.js';
import { findRestorableSnapshot } from './snapshot-access.js';
import { checkCopyQuota, checkSnapshotQuota, describableAt } from './snapshot-limits.js';
import { tagSet, tagSpecs } from './tags.js';

/**
 * Per AWS's "incremental snapshot copying": a copy is incremental when an earlier copy from the same source
 * lineage still exists in the destination, owned by the caller and encrypted the same way (same key, or both
 * unencrypted). The first copy, and any copy under another key, is full and starts a lineage of its own.
 */
function incrementalBase(c: Call, src: SnapshotRecord, kmsKeyId: string | undefined): boolean {
  const t = tables(c);
  return [...t.copies.values()].some(
    (x) =>
      x.ownerId === c.accountId &&
      x.region === c.region &&
      x.sourceLineage === src.lineage &&
      x.kmsKeyId === kmsKeyId &&
      t.snapshots.has(x.snapshotId),
  );
}

/** Called in the destination region; the source is named by SourceRegion and SourceSnapshotId. */
export const copySnapshot: Handler = (c) => {
  const sourceRegion = c.p.req('SourceRegion');
  const sourceId = c.p.req('SourceSnapshotId');
  if (!c.ctx.regions.some((r) => r.name === sourceRegion)) {
    throw new AwsError('InvalidParameterValue', `Invalid value '${sourceRegion}' for SourceRegion`);
  }
  const src = findRestorableSnapshot(c, sourceId, true, sourceRegion);
  // Reading an encrypted source needs its key, in its region: a shared snapshot under another account's aws/ebs
  // key, or under a key whose policy does not let the caller in, cannot be copied.
  if (src.encrypted && src.kmsKeyId) useKey(c, src.kmsKeyId, DECRYPT_WITH, sourceRegion);
  // A key of the source's region or account cannot protect the copy: without KmsKeyId the copy takes the
  // source's key only when it stays in the same region and account, the caller's default EBS key otherwise.
  const sameHome = sourceRegion === c.region && src.ownerId === c.accountId;
  const inherited = src.encrypted
    ? { encrypted: true, kmsKeyId: sameHome ? src.kmsKeyId : undefined }
    : undefined;
  const enc = encryptionOf(c, c.p.bool('Encrypted'), c.p.str('KmsKeyId'), inherited);
  const tags = tagSpecs(c.p, ['snapshot']).get('snapshot') ?? [];
  // Quotas of the destination (the caller's region), checked once the request is known to be valid.
  checkSnapshotQuota(c, 1);
  checkCopyQuota(c);
  const snapshotId = c.ctx.newId('snap');
  const incremental = incrementalBase(c, src, enc.kmsKeyId);
  c.ctx.blocks.copySnapshot(snapshotId, src.snapshotId, incremental);
  const s: SnapshotRecord = {
    snapshotId,
    ownerId: c.accountId,
    region: c.region,
    volumeId: 'vol-ffffffff',
    volumeSizeGiB: src.volumeSizeGiB,
    description: c.p.str('Description') ?? `[Copied ${src.snapshotId} from ${sourceRegion}]`,
    ...enc,
    startTime: iso(c.now),
    completesAt: later(c, c.ctx.timing.snapshotSeconds),
    origin: 'copy',
    lineage: c.ctx.blocks.lineageOf(snapshotId) ?? snapshotId,
    sharedWith: [],
    tags,
  };
  const at = describableAt(c);
  if (at) s.describableAt = at;
  tables(c).snapshots.put(snapshotId, s);
  tables(c).copies.put(snapshotId, {
    snapshotId,
    ownerId: c.accountId,
    region: c.region,
    sourceSnapshotId: src.snapshotId,
    sourceLineage: src.lineage,
    kmsKeyId: enc.kmsKeyId,
  });
  return { snapshotId, tagSet: tagSet(tags) };
};
