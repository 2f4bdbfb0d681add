import { AwsError } from '../core/errors.js';
import { iso, ownBucket, type S3Call, type S3Handler } from './call.js';
import { invalidRequest } from './errors.js';
import { checkDeletable } from './lock.js';
import { hasIntegrityHeader, readSmallBody } from './receive.js';
import type { BucketRecord, VersionRecord } from './records.js';
import { newVersionId, removeVersion } from './versioning.js';
import { childrenNamed, childText, malformedXml, parseBody, sendEmpty, sendXml } from './xml.js';

interface Deleted {
  versionId?: string;
  deleteMarker?: boolean;
}

function deleteMarker(c: S3Call, versionId: string): VersionRecord {
  return {
    versionId,
    deleteMarker: true,
    lastModified: iso(c.ctx.now()),
    size: 0,
    etag: '',
    segments: [],
    headers: {},
    metadata: {},
    storageClass: 'STANDARD',
    ownerId: c.req.principal.accountId,
  };
}

/**
 * Deletes one key or version as the bucket's versioning says: without a version id an unversioned bucket loses
 * the object, a versioned one gains a delete marker (id "null" when suspended, replacing the null version); with
 * one, that version goes for good, unless Object Lock protects it. Deleting what does not exist succeeds.
 */
export function deleteOne(c: S3Call, b: BucketRecord, key: string, versionId: string | undefined): Deleted {
  const at = { ...c, key };
  const o = c.records.object(b.name, key);
  if (versionId !== undefined) {
    const v = o?.versions.find((x) => x.versionId === versionId);
    if (!o || !v) return { versionId };
    if (!v.deleteMarker) checkDeletable(at, v);
    removeVersion(at, o, versionId);
    return v.deleteMarker ? { versionId, deleteMarker: true } : { versionId };
  }
  if (!b.versioning) {
    if (o) removeVersion(at, o, 'null');
    return {};
  }
  const base = o ?? { bucket: b.name, key, versions: [] };
  const marker = deleteMarker(c, b.versioning === 'Enabled' ? newVersionId() : 'null');
  if (b.versioning === 'Suspended' && o?.versions.some((x) => x.versionId === 'null'))
    removeVersion(at, o, 'null');
  const fresh = c.records.object(b.name, key) ?? base;
  c.records.saveObject({ ...fresh, versions: [marker, ...fresh.versions] });
  return { versionId: marker.versionId, deleteMarker: true };
}

export const deleteObject: S3Handler = (c) => {
  const b = ownBucket(c);
  const d = deleteOne(c, b, c.key, c.req.query.get('versionId') ?? undefined);
  const headers: Record<string, string> = {};
  if (d.deleteMarker) headers['x-amz-delete-marker'] = 'true';
  if (d.versionId !== undefined && b.versioning) headers['x-amz-version-id'] = d.versionId;
  sendEmpty(c.res, 204, headers);
};

const MAX_KEYS = 1000;

export const deleteObjects: S3Handler = async (c) => {
  const b = ownBucket(c);
  if (!hasIntegrityHeader(c.req))
    throw invalidRequest('Missing required header for this request: Content-MD5');
  const doc = parseBody(await readSmallBody(c.req, 2 * 1024 * 1024), 'Delete');
  const quiet = childText(doc, 'Quiet') === 'true';
  const objects = childrenNamed(doc, 'Object');
  if (objects.length === 0 || objects.length > MAX_KEYS) throw malformedXml();
  const deleted: unknown[] = [];
  const errors: unknown[] = [];
  for (const o of objects) {
    const key = childText(o, 'Key');
    if (key === undefined) throw malformedXml();
    const versionId = childText(o, 'VersionId');
    try {
      const d = deleteOne(c, b, key, versionId);
      if (quiet) continue;
      deleted.push({
        Key: key,
        VersionId: versionId,
        DeleteMarker: d.deleteMarker,
        DeleteMarkerVersionId: d.deleteMarker ? d.versionId : undefined,
      });
    } catch (e) {
      if (!(e instanceof AwsError)) throw e;
      errors.push({ Key: key, VersionId: versionId, Code: e.code, Message: e.message });
    }
  }
  sendXml(c.res, 'DeleteResult', { Deleted: deleted as never, Error: errors as never });
};
