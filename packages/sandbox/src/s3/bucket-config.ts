import { AwsError } from '../core/errors.js';
import { ownBucket, type S3Call, type S3Handler } from './call.js';
import { accessDenied } from './errors.js';
import { readSmallBody } from './receive.js';
import type { BucketRecord, PublicAccessBlock } from './records.js';
import { childrenNamed, childText, parseBody, sendEmpty, sendXml } from './xml.js';

/** Lifecycle rules are stored as sent and answered back; S3 checks only that each rule is complete. */
export const putBucketLifecycleConfiguration: S3Handler = async (c) => {
  const b = ownBucket(c);
  const body = await readSmallBody(c.req);
  const rules = childrenNamed(parseBody(body, 'LifecycleConfiguration'), 'Rule');
  if (rules.length === 0 || rules.length > 1000)
    throw new AwsError(
      'MalformedXML',
      'The XML you provided was not well-formed or did not validate against our published schema',
      400,
    );
  for (const r of rules) {
    const status = childText(r, 'Status');
    if (status !== 'Enabled' && status !== 'Disabled')
      throw new AwsError(
        'MalformedXML',
        'The XML you provided was not well-formed or did not validate against our published schema',
        400,
      );
  }
  c.records.buckets.put(b.name, { ...b, lifecycle: body.toString('utf8') });
  sendEmpty(c.res, 200, { 'x-amz-transition-default-minimum-object-size': 'all_storage_classes_128K' });
};

export const getBucketLifecycleConfiguration: S3Handler = (c) => {
  const b = ownBucket(c);
  if (!b.lifecycle)
    throw new AwsError('NoSuchLifecycleConfiguration', 'The lifecycle configuration does not exist', 404, {
      BucketName: b.name,
    });
  const bytes = Buffer.from(b.lifecycle);
  c.res.writeHead(200, {
    'content-type': 'application/xml',
    'content-length': bytes.length,
    'x-amz-transition-default-minimum-object-size': 'all_storage_classes_128K',
  });
  c.res.end(bytes);
};

export const deleteBucketLifecycle: S3Handler = (c) => {
  const b = ownBucket(c);
  c.records.buckets.put(b.name, { ...b, lifecycle: undefined });
  sendEmpty(c.res, 204);
};

type Statement = { Effect?: string; Principal?: unknown; Condition?: unknown };

/** A policy is public when one of its Allow statements names every principal ("*") without a condition. */
function isPublic(policy: string): boolean {
  const doc = JSON.parse(policy) as { Statement?: Statement | Statement[] };
  const statements = Array.isArray(doc.Statement) ? doc.Statement : doc.Statement ? [doc.Statement] : [];
  return statements.some((s) => {
    const p = s.Principal as string | { AWS?: string | string[] } | undefined;
    const aws = typeof p === 'object' && p ? p.AWS : undefined;
    const everyone = p === '*' || aws === '*' || (Array.isArray(aws) && aws.includes('*'));
    return s.Effect === 'Allow' && everyone && !s.Condition;
  });
}

function checkPolicy(text: string): void {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new AwsError('MalformedPolicy', "Policies must be valid JSON and the first byte must be '{'", 400);
  }
  const st = (doc as { Statement?: unknown }).Statement;
  if (typeof doc !== 'object' || !doc || !st)
    throw new AwsError('MalformedPolicy', 'Missing required field Statement', 400);
}

export const putBucketPolicy: S3Handler = async (c) => {
  const b = ownBucket(c);
  const text = (await readSmallBody(c.req, 20 * 1024)).toString('utf8');
  checkPolicy(text);
  // Block Public Access refuses public policies outright (new buckets have it on).
  if (b.publicAccessBlock?.BlockPublicPolicy && isPublic(text)) throw accessDenied('Access Denied');
  c.records.buckets.put(b.name, { ...b, policy: text });
  sendEmpty(c.res, 204);
};

export const getBucketPolicy: S3Handler = (c) => {
  const b = ownBucket(c);
  if (!b.policy) throw noPolicy(b);
  const bytes = Buffer.from(b.policy);
  c.res.writeHead(200, { 'content-type': 'application/json', 'content-length': bytes.length });
  c.res.end(bytes);
};

export const deleteBucketPolicy: S3Handler = (c) => {
  const b = ownBucket(c);
  c.records.buckets.put(b.name, { ...b, policy: undefined });
  sendEmpty(c.res, 204);
};

export const getBucketPolicyStatus: S3Handler = (c) => {
  const b = ownBucket(c);
  if (!b.policy) throw noPolicy(b);
  sendXml(c.res, 'PolicyStatus', { IsPublic: isPublic(b.policy) });
};

function noPolicy(b: BucketRecord): AwsError {
  return new AwsError('NoSuchBucketPolicy', 'The bucket policy does not exist', 404, { BucketName: b.name });
}

const PAB_FIELDS = [
  'BlockPublicAcls',
  'IgnorePublicAcls',
  'BlockPublicPolicy',
  'RestrictPublicBuckets',
] as const;

export const putPublicAccessBlock: S3Handler = async (c) => {
  const b = ownBucket(c);
  const doc = parseBody(await readSmallBody(c.req), 'PublicAccessBlockConfiguration');
  const pab = Object.fromEntries(
    PAB_FIELDS.map((f) => [f, childText(doc, f) === 'true']),
  ) as unknown as PublicAccessBlock;
  c.records.buckets.put(b.name, { ...b, publicAccessBlock: pab });
  sendEmpty(c.res, 200);
};

export const getPublicAccessBlock: S3Handler = (c) => {
  const b = ownBucket(c);
  if (!b.publicAccessBlock) {
    throw new AwsError(
      'NoSuchPublicAccessBlockConfiguration',
      'The public access block configuration was not found',
      404,
      { BucketName: b.name },
    );
  }
  sendXml(c.res, 'PublicAccessBlockConfiguration', { ...b.publicAccessBlock });
};

export const deletePublicAccessBlock: S3Handler = (c: S3Call) => {
  const b = ownBucket(c);
  c.records.buckets.put(b.name, { ...b, publicAccessBlock: undefined });
  sendEmpty(c.res, 204);
};
