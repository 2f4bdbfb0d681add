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

/** Names AWS gives its regions (us-east-1, eu-west-1, us-gov-west-1, ap-southeast-3, ...), served here or not. */
const REGION_NAME =
  /^(af|ap|ca|cn|eu|il|me|mx|sa|us)-(gov-|iso[a-z]?-)?(central|north|south|east|west|northeast|northwest|southeast|southwest)-\d{1,2}$/;

/** S3's legacy name for eu-west-1: still taken as a constraint, and answered back by GetBucketLocation. */
const EU = 'EU' as const;

const illegal = (constraint: string) =>
  new AwsError(
    'IllegalLocationConstraintException',
    `The ${constraint} location constraint is incompatible for the region specific endpoint this request was sent to.`,
    400,
  );

const invalid = (constraint: string, message = 'The specified location-constraint is not valid') =>
  new AwsError('InvalidLocationConstraint', message, 400, { LocationConstraint: constraint });

/**
 * Where a new bucket goes, as S3 decides it. A regional endpoint creates buckets in its own region only: the
 * constraint must name it (eu-west-1 also takes the legacy EU), and another region, or none, is
 * IllegalLocationConstraintException. The us-east-1 endpoint (the global one) creates a bucket in any region its
 * constraint names, and in us-east-1 without one; us-east-1 itself is never a valid constraint. A value that names
 * no region at all is InvalidLocationConstraint everywhere.
 */
async function placementOf(c: S3Call): Promise<{ region: string; constraint?: typeof EU }> {
  const body = await readSmallBody(c.req);
  const constraint = body.length
    ? childText(parseBody(body, 'CreateBucketConfiguration'), 'LocationConstraint')
    : undefined;
  const signed = c.req.region;
  if (constraint === undefined || constraint === '') {
    if (signed === 'us-east-1') return { region: signed };
    throw illegal('unspecified');
  }
  if (constraint !== EU && !REGION_NAME.test(constraint)) throw invalid(constraint);
  const named = constraint === EU ? 'eu-west-1' : constraint;
  const placed = constraint === EU ? { region: named, constraint: EU } : { region: named };
  if (signed !== 'us-east-1') {
    if (named !== signed) throw illegal(constraint);
    return placed;
  }
  if (constraint === 'us-east-1') throw invalid(constraint);
  if (!c.ctx.regions.some((r) => r.name === named)) {
    throw invalid(
      constraint,
      `The specified location-constraint is not valid: the sandbox serves ${c.ctx.regions.map((r) => r.name).join(', ')}`,
    );
  }
  return placed;
}

export const createBucket: S3Handler = async (c) => {
  checkName(c.bucket);
  const { region, constraint } = await placementOf(c);
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
  if (constraint) b.locationConstraint = constraint;
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
  // us-east-1 is reported as an empty constraint, and a bucket created with the legacy EU as EU, as AWS does.
  const region = b.locationConstraint ?? (b.region === 'us-east-1' ? '' : b.region);
  const bytes = Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="${S3_NS}">${region}</LocationConstraint>`,
  );
  c.res.writeHead(200, { 'content-type': 'application/xml', 'content-length': bytes.length });
  c.res.end(bytes);
};
