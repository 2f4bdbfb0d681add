import { AwsError } from '../core/errors.js';
import { header, iso, ownBucket, owner, type S3Call, type S3Handler } from './call.js';
import { readSmallBody } from './receive.js';
import type { BucketRecord } from './records.js';
import { childText, parseBody, S3_NS, sendEmpty, sendXml } from './xml.js';

const BLOCK_ALL = {
  BlockPublicAcls: true,
  IgnorePublicAcls: true,
  BlockPublicPolicy: true,
  RestrictPublicBuckets: true,
};

/** S3's bucket naming rules (general purpose buckets). */
function checkName(name: string): void {
  const ok =
    /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) &&
    !name.includes('..') &&
    !/^\d+\.\d+\.\d+\.\d+$/.test(name) &&
    !name.startsWith('xn--') &&
    !name.endsWith('-s3alias');
  if (!ok)
    throw new AwsError('InvalidBucketName', 'The specified bucket is not valid.', 400, { BucketName: name });
}

/**
 * The region a new bucket goes to: the LocationConstraint must name the region the request was signed for, and
 * us-east-1 is the one region that takes no constraint (as AWS insists, both ways).
 */
async function regionOf(c: S3Call): Promise<string> {
  const body = await readSmallBody(c.req);
  const constraint = body.length
    ? childText(parseBody(body, 'CreateBucketConfiguration'), 'LocationConstraint')
    : undefined;
  const signed = c.req.region;
  if (constraint === undefined || constraint === '') {
    if (signed === 'us-east-1') return signed;
    throw new AwsError(
      'IllegalLocationConstraintException',
      'The unspecified location constraint is incompatible for the region specific endpoint this request was sent to.',
      400,
    );
  }
  if (constraint === 'us-east-1' || !c.ctx.regions.some((r) => r.name === constraint)) {
    throw new AwsError('InvalidLocationConstraint', 'The specified location-constraint is not valid', 400, {
      LocationConstraint: constraint,
    });
  }
  if (constraint !== signed) {
    throw new AwsError(
      'IllegalLocationConstraintException',
      `The ${constraint} location constraint is incompatible for the region specific endpoint this request was sent to.`,
      400,
    );
  }
  return constraint;
}

export const createBucket: S3Handler = async (c) => {
  checkName(c.bucket);
  const region = await regionOf(c);
  const existing = c.records.buckets.get(c.bucket);
  if (existing) {
    // Names are global. us-east-1 answers its owner's repeated create with 200 (a legacy AWS keeps).
    if (existing.ownerId !== c.req.principal.accountId) {
      throw new AwsError(
        'BucketAlreadyExists',
        'The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.',
        409,
        { BucketName: c.bucket },
      );
    }
    if (existing.region === 'us-east-1' && region === 'us-east-1')
      return sendEmpty(c.res, 200, { location: `/${c.bucket}` });
    throw new AwsError(
      'BucketAlreadyOwnedByYou',
      'Your previous request to create the named bucket succeeded and you already own it.',
      409,
      { BucketName: c.bucket },
    );
  }
  const lock = header(c, 'x-amz-bucket-object-lock-enabled')?.toLowerCase() === 'true';
  const b: BucketRecord = {
    name: c.bucket,
    ownerId: c.req.principal.accountId,
    region,
    created: iso(c.now),
    publicAccessBlock: { ...BLOCK_ALL },
  };
  // A bucket created with Object Lock is versioned from the start, and stays so.
  if (lock) Object.assign(b, { objectLock: true, versioning: 'Enabled' });
  c.records.buckets.put(c.bucket, b);
  sendEmpty(c.res, 200, { location: `/${c.bucket}` });
};

export const headBucket: S3Handler = (c) => {
  const b = ownBucket(c);
  sendEmpty(c.res, 200, { 'x-amz-bucket-region': b.region, 'x-amz-access-point-alias': 'false' });
};

export const deleteBucket: S3Handler = (c) => {
  const b = ownBucket(c);
  if (c.records.keysOf(b.name).length > 0) {
    throw new AwsError('BucketNotEmpty', 'The bucket you tried to delete is not empty', 409, {
      BucketName: b.name,
    });
  }
  for (const u of [...c.records.uploads.values()].filter((x) => x.bucket === b.name)) {
    c.files.remove(Object.values(u.parts).map((p) => p.file));
    c.records.uploads.delete(u.uploadId);
  }
  c.records.dropBucket(b.name);
  sendEmpty(c.res, 204);
};

export const listBuckets: S3Handler = (c) => {
  const mine = [...c.records.buckets.values()]
    .filter((b) => b.ownerId === c.req.principal.accountId)
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  sendXml(c.res, 'ListAllMyBucketsResult', {
    Owner: owner(c.req.principal.accountId),
    Buckets: { Bucket: mine.map((b) => ({ Name: b.name, CreationDate: b.created, BucketRegion: b.region })) },
  });
};

/** Answered whatever region the request was signed for: it is how clients find a bucket's region. */
export const getBucketLocation: S3Handler = (c) => {
  const b = ownBucket(c, false);
  // us-east-1 is reported as an empty constraint, as AWS does.
  const region = b.region === 'us-east-1' ? '' : b.region;
  const bytes = Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="${S3_NS}">${region}</LocationConstraint>`,
  );
  c.res.writeHead(200, { 'content-type': 'application/xml', 'content-length': bytes.length });
  c.res.end(bytes);
};
