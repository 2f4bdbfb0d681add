import { AwsError } from '../core/errors.js';
import { header, httpDate, type S3Call } from './call.js';
import { lockHeaders } from './lock.js';
import type { BucketRecord, Checksum, VersionRecord } from './records.js';
import { versionHeaders } from './versioning.js';

const STORAGE_CLASSES = [
  'STANDARD',
  'REDUCED_REDUNDANCY',
  'STANDARD_IA',
  'ONEZONE_IA',
  'INTELLIGENT_TIERING',
  'GLACIER',
  'DEEP_ARCHIVE',
  'GLACIER_IR',
  'OUTPOSTS',
  'SNOW',
  'EXPRESS_ONEZONE',
];
/** Classes whose objects must be restored before a GET (RestoreObject is not part of the sandbox). */
export const ARCHIVED = ['GLACIER', 'DEEP_ARCHIVE'];
/** Representation headers S3 stores with an object and answers back. */
const STORED = [
  'content-type',
  'content-encoding',
  'content-disposition',
  'content-language',
  'cache-control',
  'expires',
  'x-amz-website-redirect-location',
];
const METADATA_LIMIT = 2048;

export interface ObjectMeta {
  headers: Record<string, string>;
  metadata: Record<string, string>;
  storageClass: string;
}

export function storageClassOf(c: S3Call, fallback = 'STANDARD'): string {
  const sc = header(c, 'x-amz-storage-class') ?? fallback;
  if (!STORAGE_CLASSES.includes(sc))
    throw new AwsError('InvalidStorageClass', 'The storage class you specified is not valid', 400, {
      StorageClassRequested: sc,
    });
  return sc;
}

/** Content headers and x-amz-meta-* of a write; "aws-chunked" is transfer framing, not the object's encoding. */
export function metaFromHeaders(c: S3Call): ObjectMeta {
  const headers: Record<string, string> = {};
  for (const name of STORED) {
    const v = header(c, name);
    if (v !== undefined) headers[name] = v;
  }
  const enc = headers['content-encoding']
    ?.split(',')
    .map((e) => e.trim())
    .filter((e) => e && e !== 'aws-chunked');
  if (enc?.length) headers['content-encoding'] = enc.join(',');
  else delete headers['content-encoding'];
  headers['content-type'] ??= 'binary/octet-stream';
  return { headers, metadata: userMetadata(c), storageClass: storageClassOf(c) };
}

export function userMetadata(c: S3Call): Record<string, string> {
  const metadata: Record<string, string> = {};
  let size = 0;
  for (const [name, v] of Object.entries(c.req.headers)) {
    if (!name.startsWith('x-amz-meta-') || v === undefined) continue;
    const value = Array.isArray(v) ? v.join(',') : v;
    metadata[name.slice(11)] = value;
    size += name.length - 11 + value.length;
  }
  if (size > METADATA_LIMIT) {
    throw new AwsError(
      'MetadataTooLarge',
      'Your metadata headers exceed the maximum allowed metadata size.',
      400,
      { Size: String(size), MaxSizeAllowed: String(METADATA_LIMIT) },
    );
  }
  return metadata;
}

export function checksumHeaders(sum: Checksum | undefined): Record<string, string> {
  if (!sum) return {};
  return { [`x-amz-checksum-${sum.algorithm.toLowerCase()}`]: sum.value, 'x-amz-checksum-type': sum.type };
}

/** The headers of a GET or HEAD answer, before range and checksum ones. */
export function objectHeaders(b: BucketRecord, v: VersionRecord): Record<string, string> {
  const out: Record<string, string> = {
    ...v.headers,
    etag: `"${v.etag}"`,
    'last-modified': httpDate(v.lastModified),
    'accept-ranges': 'bytes',
    'x-amz-server-side-encryption': 'AES256',
    ...versionHeaders(b, v),
    ...lockHeaders(v),
  };
  for (const [k, x] of Object.entries(v.metadata)) out[`x-amz-meta-${k}`] = x;
  if (v.storageClass !== 'STANDARD') out['x-amz-storage-class'] = v.storageClass;
  return out;
}

/** response-content-type & co.: a GET may override the stored representation headers. */
export function overrides(c: S3Call): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of [
    'content-type',
    'content-language',
    'expires',
    'cache-control',
    'content-disposition',
    'content-encoding',
  ]) {
    const v = c.req.query.get(`response-${name}`);
    if (v !== null) out[name] = v;
  }
  return out;
}

export function checkKey(key: string): void {
  if (Buffer.byteLength(key) > 1024) throw new AwsError('KeyTooLongError', 'Your key is too long', 400);
}
