import { randomBytes } from 'node:crypto';
import { AwsError } from '../core/errors.js';
import { ownBucket, type S3Call, type S3Handler } from './call.js';
import { invalidArgument, noSuchKey, noSuchVersion, S3Error } from './errors.js';
import { readSmallBody } from './receive.js';
import type { BucketRecord, ObjectRecord, VersionRecord } from './records.js';
import { childText, malformedXml, parseBody, sendEmpty, sendXml } from './xml.js';

/** AWS's version ids are 32 URL-safe characters; "null" names the version written while versioning was off. */
export function newVersionId(): string {
  return randomBytes(24).toString('base64url');
}

function checkVersionId(versionId: string): void {
  if (versionId !== 'null' && !/^[A-Za-z0-9_.+/=-]{1,1024}$/.test(versionId)) {
    throw invalidArgument('Invalid version id specified', 'versionId', versionId);
  }
}

/** Headers telling a client which version it touched; none for a bucket whose versioning was never set. */
export function versionHeaders(b: BucketRecord, v: VersionRecord): Record<string, string> {
  return b.versioning ? { 'x-amz-version-id': v.versionId } : {};
}

/**
 * The version a read addresses: `versionId` from the query, else the current one. A current delete marker is
 * NoSuchKey (with x-amz-delete-marker); naming a delete marker explicitly is MethodNotAllowed, as in AWS.
 */
export function selectVersion(c: S3Call, b: BucketRecord): { o: ObjectRecord; v: VersionRecord } {
  const versionId = c.req.query.get('versionId') ?? undefined;
  if (versionId !== undefined) checkVersionId(versionId);
  const o = c.records.object(b.name, c.key);
  if (versionId === undefined) {
    const v = o?.versions[0];
    if (!o || !v) throw noSuchKey(c.key);
    if (v.deleteMarker) throw noSuchKey(c.key, { 'x-amz-delete-marker': 'true', ...versionHeaders(b, v) });
    return { o, v };
  }
  const v = o?.versions.find((x) => x.versionId === versionId);
  if (!o || !v) throw noSuchVersion(c.key, versionId);
  if (v.deleteMarker) {
    throw new S3Error(
      'MethodNotAllowed',
      'The specified method is not allowed against this resource.',
      405,
      { Method: c.req.method, ResourceType: 'DeleteMarker' },
      { 'x-amz-delete-marker': 'true', 'x-amz-version-id': v.versionId, allow: 'DELETE' },
    );
  }
  return { o, v };
}

/**
 * Makes `v` the key's current version, as the bucket's versioning state says: a new version id when enabled;
 * otherwise it takes the id "null" and replaces the previous "null" version, whose files are freed.
 */
export function addVersion(c: S3Call, b: BucketRecord, v: VersionRecord): void {
  const o = c.records.object(b.name, c.key) ?? { bucket: b.name, key: c.key, versions: [] };
  let freed: VersionRecord[] = [];
  let rest = o.versions;
  if (b.versioning === 'Enabled') {
    v.versionId = newVersionId();
  } else {
    v.versionId = 'null';
    freed = rest.filter((x) => x.versionId === 'null');
    rest = rest.filter((x) => x.versionId !== 'null');
  }
  c.records.saveObject({ ...o, versions: [v, ...rest] });
  c.files.remove(freed.flatMap((x) => x.segments.map((s) => s.file)));
}

/** Removes one version for good and frees its bytes. */
export function removeVersion(c: S3Call, o: ObjectRecord, versionId: string): void {
  const gone = o.versions.filter((x) => x.versionId === versionId);
  c.records.saveObject({ ...o, versions: o.versions.filter((x) => x.versionId !== versionId) });
  c.files.remove(gone.flatMap((x) => x.segments.map((s) => s.file)));
}

export const putBucketVersioning: S3Handler = async (c) => {
  const b = ownBucket(c);
  const status = childText(parseBody(await readSmallBody(c.req), 'VersioningConfiguration'), 'Status');
  if (status !== 'Enabled' && status !== 'Suspended') throw malformedXml();
  if (b.objectLock && status === 'Suspended') {
    throw new AwsError(
      'InvalidBucketState',
      'An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.',
      409,
    );
  }
  c.records.buckets.put(b.name, { ...b, versioning: status });
  sendEmpty(c.res, 200);
};

export const getBucketVersioning: S3Handler = (c) => {
  const b = ownBucket(c);
  sendXml(c.res, 'VersioningConfiguration', { Status: b.versioning });
};
