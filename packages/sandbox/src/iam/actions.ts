/**
 * IAM action names of the sandbox's operations: `<service>:<Operation>` for EC2, EBS, KMS, STS and IAM, and S3's
 * own names where they differ from the operation (as AWS documents them in "Actions defined by Amazon S3").
 */
const S3_ACTIONS: Record<string, string[]> = {
  ListBuckets: ['ListAllMyBuckets'],
  HeadBucket: ['ListBucket'],
  ListObjects: ['ListBucket'],
  ListObjectsV2: ['ListBucket'],
  ListObjectVersions: ['ListBucketVersions'],
  HeadObject: ['GetObject'],
  CopyObject: ['PutObject', 'GetObject'],
  CreateMultipartUpload: ['PutObject'],
  UploadPart: ['PutObject'],
  UploadPartCopy: ['PutObject', 'GetObject'],
  CompleteMultipartUpload: ['PutObject'],
  ListParts: ['ListMultipartUploadParts'],
  ListMultipartUploads: ['ListBucketMultipartUploads'],
  DeleteObjects: ['DeleteObject'],
  GetObjectAttributes: ['GetObject'],
  PutObjectLockConfiguration: ['PutBucketObjectLockConfiguration'],
  GetObjectLockConfiguration: ['GetBucketObjectLockConfiguration'],
  PutBucketLifecycleConfiguration: ['PutLifecycleConfiguration'],
  GetBucketLifecycleConfiguration: ['GetLifecycleConfiguration'],
  DeleteBucketLifecycle: ['PutLifecycleConfiguration'],
  PutPublicAccessBlock: ['PutBucketPublicAccessBlock'],
  GetPublicAccessBlock: ['GetBucketPublicAccessBlock'],
  DeletePublicAccessBlock: ['PutBucketPublicAccessBlock'],
  DeleteBucketPolicy: ['DeleteBucketPolicy'],
  GetBucketVersioning: ['GetBucketVersioning'],
  PutBucketVersioning: ['PutBucketVersioning'],
  DeleteBucketEncryption: ['PutEncryptionConfiguration'],
  PutBucketEncryption: ['PutEncryptionConfiguration'],
  GetBucketEncryption: ['GetEncryptionConfiguration'],
};

/** KMS operations whose permission names differ from the operation. */
const KMS_ACTIONS: Record<string, string[]> = {
  ReEncrypt: ['ReEncryptFrom', 'ReEncryptTo'],
};

/** STS operations that need no permission at all. */
const ALWAYS_ALLOWED = new Set(['sts:GetCallerIdentity']);

/** The IAM actions one call needs (every one must be allowed). */
export function actionsOf(service: string, operation: string): string[] {
  const names =
    service === 's3' ? S3_ACTIONS[operation] : service === 'kms' ? KMS_ACTIONS[operation] : undefined;
  return (names ?? [operation]).map((n) => `${service}:${n}`).filter((a) => !ALWAYS_ALLOWED.has(a));
}
