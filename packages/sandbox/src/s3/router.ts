import type { AwsRequest } from '../core/service.js';

export interface S3Target {
  bucket?: string;
  key?: string;
  operation: string;
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const AWS_HOST = /^(.+?)\.s3(?:[.-](?:dualstack\.)?[a-z0-9-]+)?\.amazonaws\.com$/;

/**
 * The bucket of a virtual-hosted request (`bucket.s3.us-east-1.amazonaws.com`, `bucket.localhost`,
 * `bucket.s3.localhost`), or undefined for path-style requests (an IP, `localhost`, `s3.<region>.amazonaws.com`).
 */
export function hostBucket(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  const host = hostHeader.replace(/:\d+$/, '').toLowerCase();
  if (host.startsWith('[') || IPV4.test(host) || host === 'localhost') return undefined;
  const aws = AWS_HOST.exec(host);
  if (aws) return aws[1];
  const local = /^(.+?)(?:\.s3)?\.localhost$/.exec(host);
  return local ? local[1] : undefined;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Bucket and key of a request: from the Host header when virtual-hosted, else from the path's first segment. */
export function address(req: AwsRequest): { bucket?: string; key?: string } {
  const fromHost = hostBucket(req.headers.host);
  const raw = req.rawPath.startsWith('/') ? req.rawPath.slice(1) : req.rawPath;
  if (fromHost !== undefined) return raw ? { bucket: fromHost, key: decode(raw) } : { bucket: fromHost };
  const slash = raw.indexOf('/');
  if (!raw) return {};
  if (slash < 0) return { bucket: decode(raw) };
  const key = decode(raw.slice(slash + 1));
  return key ? { bucket: decode(raw.slice(0, slash)), key } : { bucket: decode(raw.slice(0, slash)) };
}

/** Bucket subresources by method: the query parameter that selects each operation. */
const BUCKET_OPS: Record<string, Array<[param: string, operation: string]>> = {
  GET: [
    ['location', 'GetBucketLocation'],
    ['versioning', 'GetBucketVersioning'],
    ['object-lock', 'GetObjectLockConfiguration'],
    ['lifecycle', 'GetBucketLifecycleConfiguration'],
    ['policyStatus', 'GetBucketPolicyStatus'],
    ['policy', 'GetBucketPolicy'],
    ['publicAccessBlock', 'GetPublicAccessBlock'],
    ['uploads', 'ListMultipartUploads'],
    ['versions', 'ListObjectVersions'],
  ],
  PUT: [
    ['versioning', 'PutBucketVersioning'],
    ['object-lock', 'PutObjectLockConfiguration'],
    ['lifecycle', 'PutBucketLifecycleConfiguration'],
    ['policy', 'PutBucketPolicy'],
    ['publicAccessBlock', 'PutPublicAccessBlock'],
  ],
  DELETE: [
    ['lifecycle', 'DeleteBucketLifecycle'],
    ['policy', 'DeleteBucketPolicy'],
    ['publicAccessBlock', 'DeletePublicAccessBlock'],
  ],
  POST: [['delete', 'DeleteObjects']],
};

/** Subresources the sandbox does not answer (ACLs, CORS, website, ...): NotImplemented rather than a wrong op. */
const UNSUPPORTED = [
  'acl',
  'cors',
  'website',
  'tagging',
  'encryption',
  'logging',
  'notification',
  'replication',
];

function bucketOperation(method: string, q: URLSearchParams): string {
  for (const [param, op] of BUCKET_OPS[method] ?? []) if (q.has(param)) return op;
  if (UNSUPPORTED.some((p) => q.has(p))) return 'Unsupported';
  switch (method) {
    case 'GET':
      return q.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects';
    case 'PUT':
      return 'CreateBucket';
    case 'HEAD':
      return 'HeadBucket';
    case 'DELETE':
      return 'DeleteBucket';
    default:
      return 'Unsupported';
  }
}

function objectOperation(method: string, q: URLSearchParams, copy: boolean): string {
  if (UNSUPPORTED.some((p) => q.has(p))) return 'Unsupported';
  const upload = q.has('uploadId');
  switch (method) {
    case 'GET':
      if (q.has('retention')) return 'GetObjectRetention';
      if (q.has('legal-hold')) return 'GetObjectLegalHold';
      return upload ? 'ListParts' : 'GetObject';
    case 'HEAD':
      return 'HeadObject';
    case 'PUT':
      if (q.has('retention')) return 'PutObjectRetention';
      if (q.has('legal-hold')) return 'PutObjectLegalHold';
      if (upload && q.has('partNumber')) return copy ? 'UploadPartCopy' : 'UploadPart';
      return copy ? 'CopyObject' : 'PutObject';
    case 'DELETE':
      return upload ? 'AbortMultipartUpload' : 'DeleteObject';
    case 'POST':
      if (q.has('uploads')) return 'CreateMultipartUpload';
      return upload ? 'CompleteMultipartUpload' : 'Unsupported';
    default:
      return 'Unsupported';
  }
}

export function route(req: AwsRequest): S3Target {
  const { bucket, key } = address(req);
  if (bucket === undefined) return { operation: req.method === 'GET' ? 'ListBuckets' : 'Unsupported' };
  if (key === undefined) return { bucket, operation: bucketOperation(req.method, req.query) };
  const copy = req.headers['x-amz-copy-source'] !== undefined;
  return { bucket, key, operation: objectOperation(req.method, req.query, copy) };
}
