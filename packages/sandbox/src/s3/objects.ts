import { AwsError } from '../core/errors.js';
import { header, intParam, iso, ownBucket, type S3Call, type S3Handler } from './call.js';
import { readConditions, writeConditions } from './conditions.js';
import { invalidArgument, noSuchBucket } from './errors.js';
import { lockForNewObject } from './lock.js';
import { ARCHIVED, checkKey, checksumHeaders, metaFromHeaders, objectHeaders, overrides } from './meta.js';
import { receiveToFile } from './receive.js';
import type { BucketRecord, VersionRecord } from './records.js';
import { addVersion, selectVersion, versionHeaders } from './versioning.js';
import { sendEmpty } from './xml.js';

/** A single PUT carries at most 5 GiB (larger objects are multipart uploads). */
export const MAX_PUT = 5 * 1024 ** 3;

/** The bucket again after an await: it may have been deleted while the body arrived. */
export function stillThere(c: S3Call): BucketRecord {
  const b = c.records.buckets.get(c.bucket);
  if (!b) throw noSuchBucket(c.bucket);
  return b;
}

export const putObject: S3Handler = async (c) => {
  checkKey(c.key);
  const b = ownBucket(c);
  const meta = metaFromHeaders(c);
  const lock = lockForNewObject(c, b);
  writeConditions(c, c.records.latest(b.name, c.key));
  const { temp, digests } = await receiveToFile(c.req, c.files, { maxSize: MAX_PUT });
  let v: VersionRecord;
  // From here to the commit nothing awaits: the condition checked is the state the commit replaces.
  try {
    const now = stillThere(c);
    writeConditions(c, c.records.latest(now.name, c.key));
    v = {
      versionId: 'null',
      lastModified: iso(c.ctx.now()),
      size: digests.size,
      etag: digests.md5,
      segments: [{ file: temp.name, size: digests.size }],
      ...meta,
      ...lock,
      ownerId: c.req.principal.accountId,
    };
    if (digests.checksum) v.checksum = { ...digests.checksum, type: 'FULL_OBJECT' };
    temp.commit();
    addVersion(c, now, v);
  } catch (e) {
    await temp.discard();
    throw e;
  }
  sendEmpty(c.res, 200, {
    etag: `"${v.etag}"`,
    'x-amz-server-side-encryption': 'AES256',
    ...versionHeaders(b, v),
    ...checksumHeaders(v.checksum),
  });
};

/** [start, end] of a Range header; undefined for no range or one S3 ignores (several ranges, bad syntax). */
function parseRange(value: string | undefined, size: number): [number, number] | undefined {
  const m = value ? /^bytes=(\d*)-(\d*)$/.exec(value.trim()) : null;
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  const unsatisfiable = () =>
    new AwsError('InvalidRange', 'The requested range is not satisfiable', 416, {
      RangeRequested: value as string,
      ActualObjectSize: String(size),
    });
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) throw unsatisfiable();
    return [Math.max(0, size - n), size - 1];
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return undefined;
  if (start >= size) throw unsatisfiable();
  return [start, end];
}

/** ?partNumber=N reads one part of a multipart object (part 1 of a single-PUT object is all of it). */
function partRange(c: S3Call, v: VersionRecord): [number, number] | undefined {
  const n = intParam(c, 'partNumber', 1, 10000);
  if (n === undefined) return undefined;
  const parts = v.parts ? v.segments : [{ file: '', size: v.size }];
  if (n > parts.length)
    throw new AwsError('InvalidPartNumber', 'The requested partnumber is not satisfiable', 416, {
      PartNumberRequested: String(n),
      ActualPartCount: String(parts.length),
    });
  const start = parts.slice(0, n - 1).reduce((sum, s) => sum + s.size, 0);
  return [start, start + (parts[n - 1]?.size ?? 0) - 1];
}

async function readObject(c: S3Call, head: boolean): Promise<void> {
  const b = ownBucket(c);
  const { v } = selectVersion(c, b);
  const headers = objectHeaders(b, v);
  if (readConditions(c, v) === 'not-modified') {
    const { etag, 'last-modified': lm } = headers;
    return sendEmpty(c.res, 304, {
      etag: etag as string,
      'last-modified': lm as string,
      ...versionHeaders(b, v),
    });
  }
  if (!head && ARCHIVED.includes(v.storageClass)) {
    throw new AwsError(
      'InvalidObjectState',
      "The operation is not valid for the object's storage class",
      403,
      { StorageClass: v.storageClass },
    );
  }
  const byPart = partRange(c, v);
  if (byPart && header(c, 'range'))
    throw invalidArgument(
      'Cannot specify both Range header and partNumber query parameter',
      'partNumber',
      c.req.query.get('partNumber') ?? '',
    );
  const range = byPart ?? parseRange(header(c, 'range'), v.size);
  const [start, end] = range ?? [0, v.size - 1];
  if (range) headers['content-range'] = `bytes ${start}-${end}/${v.size}`;
  if (byPart) headers['x-amz-mp-parts-count'] = String(v.parts ?? 1);
  // The SDK verifies a returned checksum against the bytes: only a whole object's is sent, and only on request.
  if (!range && header(c, 'x-amz-checksum-mode')?.toUpperCase() === 'ENABLED')
    Object.assign(headers, checksumHeaders(v.checksum));
  Object.assign(headers, overrides(c));
  const length = v.size === 0 ? 0 : end - start + 1;
  const status = range ? 206 : 200;
  if (head || length === 0) {
    c.res.writeHead(status, { ...headers, 'content-length': length });
    c.res.end();
    return;
  }
  const open = c.files.openAll(v.segments);
  c.res.writeHead(status, { ...headers, 'content-length': length });
  await open.pipeTo(c.res, start, end);
}

export const getObject: S3Handler = (c) => readObject(c, false);
export const headObject: S3Handler = (c) => readObject(c, true);
