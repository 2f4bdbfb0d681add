import { createHash, randomBytes } from 'node:crypto';
import { AwsError } from '../core/errors.js';
import { header, intParam, iso, ownBucket, owner, type S3Call, type S3Handler } from './call.js';
import { type Algorithm, algorithmOf, compositeChecksum } from './checksums.js';
import { writeConditions } from './conditions.js';
import { invalidArgument, invalidRequest, noSuchUpload, notImplemented } from './errors.js';
import { lockForNewObject } from './lock.js';
import { checkKey, checksumHeaders, metaFromHeaders } from './meta.js';
import { stillThere } from './objects.js';
import { readSmallBody, receiveToFile } from './receive.js';
import type { PartRecord, UploadRecord, VersionRecord } from './records.js';
import { addVersion, versionHeaders } from './versioning.js';
import { childrenNamed, childText, malformedXml, parseBody, sendEmpty, sendXml } from './xml.js';

const MIN_PART = 5 * 1024 * 1024;
const MAX_PART = 5 * 1024 ** 3;

/** The upload addressed by ?uploadId, in the addressed bucket and key (NoSuchUpload otherwise). */
export function findUpload(c: S3Call): UploadRecord {
  const id = c.req.query.get('uploadId') ?? '';
  const u = c.records.uploads.get(id);
  if (!u || u.bucket !== c.bucket || u.key !== c.key) throw noSuchUpload(id);
  return u;
}

export const createMultipartUpload: S3Handler = (c) => {
  checkKey(c.key);
  const b = ownBucket(c);
  const algorithmHeader = header(c, 'x-amz-checksum-algorithm');
  const type = header(c, 'x-amz-checksum-type');
  if (type !== undefined && type !== 'COMPOSITE')
    throw notImplemented('The sandbox keeps COMPOSITE multipart checksums only.');
  const u: UploadRecord = {
    uploadId: randomBytes(48).toString('base64url'),
    bucket: b.name,
    key: c.key,
    initiated: iso(c.now),
    ownerId: c.req.principal.accountId,
    ...metaFromHeaders(c),
    ...lockForNewObject(c, b),
    parts: {},
  };
  if (algorithmHeader)
    Object.assign(u, { checksumAlgorithm: algorithmOf(algorithmHeader), checksumType: 'COMPOSITE' });
  c.records.uploads.put(u.uploadId, u);
  const headers: Record<string, string> = { 'x-amz-server-side-encryption': 'AES256' };
  if (u.checksumAlgorithm)
    Object.assign(headers, {
      'x-amz-checksum-algorithm': u.checksumAlgorithm,
      'x-amz-checksum-type': 'COMPOSITE',
    });
  sendXml(
    c.res,
    'InitiateMultipartUploadResult',
    { Bucket: b.name, Key: c.key, UploadId: u.uploadId },
    headers,
  );
};

function partNumber(c: S3Call): number {
  const n = intParam(c, 'partNumber', 1, 10000);
  if (n === undefined)
    throw invalidArgument('Part number must be an integer between 1 and 10000, inclusive', 'partNumber', '');
  return n;
}

/** Records a part (its bytes already in data/ as `file`); a part uploaded again replaces the earlier one. */
export function savePart(c: S3Call, part: PartRecord): void {
  const u = findUpload(c); // again: the upload may have been completed or aborted meanwhile
  const old = u.parts[part.partNumber];
  c.records.uploads.put(u.uploadId, { ...u, parts: { ...u.parts, [part.partNumber]: part } });
  if (old) c.files.remove([old.file]);
}

export const uploadPart: S3Handler = async (c) => {
  ownBucket(c);
  const n = partNumber(c);
  const u = findUpload(c);
  const algorithm = u.checksumAlgorithm as Algorithm | undefined;
  const { temp, digests } = await receiveToFile(c.req, c.files, { maxSize: MAX_PART, algorithm });
  if (algorithm && digests.checksum && digests.checksum.algorithm !== algorithm) {
    await temp.discard();
    throw invalidRequest(
      `Checksum Type mismatch occurred, expected checksum Type: ${algorithm.toLowerCase()}, actual checksum Type: ${digests.checksum.algorithm.toLowerCase()}`,
    );
  }
  const part: PartRecord = {
    partNumber: n,
    etag: digests.md5,
    size: digests.size,
    file: temp.name,
    lastModified: iso(c.ctx.now()),
  };
  if (algorithm && digests.checksum) part.checksum = digests.checksum.value;
  try {
    findUpload(c);
    temp.commit();
  } catch (e) {
    await temp.discard();
    throw e;
  }
  savePart(c, part);
  const sum =
    part.checksum && algorithm ? { algorithm, value: part.checksum, type: 'COMPOSITE' as const } : undefined;
  const headers: Record<string, string> = {
    etag: `"${part.etag}"`,
    'x-amz-server-side-encryption': 'AES256',
    ...checksumHeaders(sum),
  };
  delete headers['x-amz-checksum-type'];
  sendEmpty(c.res, 200, headers);
};

interface Requested {
  partNumber: number;
  etag: string;
}

function requestedParts(body: Buffer): Requested[] {
  const parts = childrenNamed(parseBody(body, 'CompleteMultipartUpload'), 'Part').map((p) => ({
    partNumber: Number(childText(p, 'PartNumber')),
    etag: (childText(p, 'ETag') ?? '').replace(/^"|"$/g, ''),
  }));
  if (parts.length === 0) throw malformedXml();
  return parts;
}

/** The parts as AWS checks them: ascending, each uploaded with that ETag, all but the last at least 5 MiB. */
function chosenParts(u: UploadRecord, requested: Requested[]): PartRecord[] {
  const chosen: PartRecord[] = [];
  for (const [i, r] of requested.entries()) {
    if (i > 0 && r.partNumber <= (requested[i - 1] as Requested).partNumber) {
      throw new AwsError(
        'InvalidPartOrder',
        'The list of parts was not in ascending order. Parts must be ordered by part number.',
        400,
        { UploadId: u.uploadId },
      );
    }
    const p = u.parts[r.partNumber];
    if (!p || p.etag !== r.etag) {
      throw new AwsError(
        'InvalidPart',
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not have matched the part's entity tag.",
        400,
        { UploadId: u.uploadId, PartNumber: String(r.partNumber), ETag: r.etag },
      );
    }
    chosen.push(p);
  }
  for (const p of chosen.slice(0, -1)) {
    if (p.size < MIN_PART) {
      throw new AwsError(
        'EntityTooSmall',
        'Your proposed upload is smaller than the minimum allowed size',
        400,
        {
          ProposedSize: String(p.size),
          MinSizeAllowed: String(MIN_PART),
          PartNumber: String(p.partNumber),
          ETag: p.etag,
        },
      );
    }
  }
  return chosen;
}

/** S3's multipart ETag: MD5 of the parts' binary MD5s, then "-N". */
function multipartEtag(parts: PartRecord[]): string {
  const md5 = createHash('md5');
  for (const p of parts) md5.update(Buffer.from(p.etag, 'hex'));
  return `${md5.digest('hex')}-${parts.length}`;
}

function objectChecksum(u: UploadRecord, parts: PartRecord[]): VersionRecord['checksum'] {
  const algorithm = u.checksumAlgorithm as Algorithm | undefined;
  if (!algorithm) return undefined;
  if (parts.some((p) => !p.checksum))
    throw invalidRequest(
      `The upload was created using a ${algorithm.toLowerCase()} checksum. The complete request must include the checksum for each part.`,
    );
  return {
    algorithm,
    value: compositeChecksum(
      algorithm,
      parts.map((p) => p.checksum as string),
    ),
    type: 'COMPOSITE',
  };
}

export const completeMultipartUpload: S3Handler = async (c) => {
  const b = ownBucket(c);
  findUpload(c);
  writeConditions(c, c.records.latest(b.name, c.key));
  const requested = requestedParts(await readSmallBody(c.req, 16 * 1024 * 1024));
  // No await from here on: conditions, parts and the new version are one atomic step.
  const now = stillThere(c);
  const u = findUpload(c);
  writeConditions(c, c.records.latest(now.name, c.key));
  const parts = chosenParts(u, requested);
  const v: VersionRecord = {
    versionId: 'null',
    lastModified: iso(c.ctx.now()),
    size: parts.reduce((sum, p) => sum + p.size, 0),
    etag: multipartEtag(parts),
    segments: parts.map((p) => ({ file: p.file, size: p.size })),
    headers: u.headers,
    metadata: u.metadata,
    storageClass: u.storageClass,
    parts: parts.length,
    retention: u.retention,
    legalHold: u.legalHold,
    ownerId: u.ownerId,
  };
  const sum = objectChecksum(u, parts);
  if (sum) v.checksum = sum;
  addVersion(c, now, v);
  c.records.uploads.delete(u.uploadId);
  const used = new Set(parts.map((p) => p.file));
  c.files.remove(
    Object.values(u.parts)
      .filter((p) => !used.has(p.file))
      .map((p) => p.file),
  );
  const sums = sum ? { [`Checksum${sum.algorithm}`]: sum.value, ChecksumType: sum.type } : {};
  sendXml(
    c.res,
    'CompleteMultipartUploadResult',
    { Location: `/${b.name}/${c.key}`, Bucket: b.name, Key: c.key, ETag: `"${v.etag}"`, ...sums },
    { 'x-amz-server-side-encryption': 'AES256', ...versionHeaders(now, v) },
  );
};

export const abortMultipartUpload: S3Handler = (c) => {
  ownBucket(c);
  const u = findUpload(c);
  c.records.uploads.delete(u.uploadId);
  c.files.remove(Object.values(u.parts).map((p) => p.file));
  sendEmpty(c.res, 204);
};

export const listParts: S3Handler = (c) => {
  ownBucket(c);
  const u = findUpload(c);
  const max = Math.min(intParam(c, 'max-parts', 0, 2 ** 31 - 1) ?? 1000, 1000);
  const marker = intParam(c, 'part-number-marker', 0, 10000) ?? 0;
  const all = Object.values(u.parts)
    .filter((p) => p.partNumber > marker)
    .sort((a, b) => a.partNumber - b.partNumber);
  const page = all.slice(0, max);
  const truncated = all.length > page.length;
  const algo = u.checksumAlgorithm;
  sendXml(c.res, 'ListPartsResult', {
    Bucket: u.bucket,
    Key: u.key,
    UploadId: u.uploadId,
    PartNumberMarker: marker,
    NextPartNumberMarker: page.length ? (page[page.length - 1] as PartRecord).partNumber : undefined,
    MaxParts: max,
    IsTruncated: truncated,
    Part: page.map((p) => ({
      PartNumber: p.partNumber,
      LastModified: p.lastModified,
      ETag: `"${p.etag}"`,
      Size: p.size,
      ...(algo && p.checksum ? { [`Checksum${algo}`]: p.checksum } : {}),
    })),
    Initiator: owner(u.ownerId),
    Owner: owner(u.ownerId),
    StorageClass: u.storageClass,
    ChecksumAlgorithm: algo,
    ChecksumType: u.checksumType,
  });
};

export const listMultipartUploads: S3Handler = (c) => {
  const b = ownBucket(c);
  const prefix = c.req.query.get('prefix') ?? '';
  const keyMarker = c.req.query.get('key-marker') ?? '';
  const idMarker = c.req.query.get('upload-id-marker') ?? '';
  const max = Math.min(intParam(c, 'max-uploads', 0, 2 ** 31 - 1) ?? 1000, 1000);
  const all = [...c.records.uploads.values()]
    .filter((u) => u.bucket === b.name && u.key.startsWith(prefix))
    .filter((u) => u.key > keyMarker || (u.key === keyMarker && idMarker !== '' && u.uploadId > idMarker))
    .sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : x.uploadId < y.uploadId ? -1 : 1));
  const page = all.slice(0, max);
  const last = page[page.length - 1];
  sendXml(c.res, 'ListMultipartUploadsResult', {
    Bucket: b.name,
    KeyMarker: keyMarker,
    UploadIdMarker: idMarker,
    NextKeyMarker: all.length > max ? last?.key : undefined,
    NextUploadIdMarker: all.length > max ? last?.uploadId : undefined,
    Prefix: prefix,
    MaxUploads: max,
    IsTruncated: all.length > max,
    Upload: page.map((u) => ({
      Key: u.key,
      UploadId: u.uploadId,
      Initiator: owner(u.ownerId),
      Owner: owner(u.ownerId),
      StorageClass: u.storageClass,
      Initiated: u.initiated,
      ChecksumAlgorithm: u.checksumAlgorithm,
      ChecksumType: u.checksumType,
    })),
  });
};
