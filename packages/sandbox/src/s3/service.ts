import { join } from 'node:path';
import { AwsError } from '../core/errors.js';
import type { SandboxContext, Service } from '../core/service.js';
import * as config from './bucket-config.js';
import { createBucket, deleteBucket, getBucketLocation, headBucket, listBuckets } from './buckets.js';
import type { S3Call, S3Handler } from './call.js';
import { copyObject, uploadPartCopy } from './copy.js';
import { deleteObject, deleteObjects } from './delete.js';
import { notImplemented, writeS3Error } from './errors.js';
import { listObjects, listObjectsV2, listObjectVersions } from './list.js';
import * as lock from './lock.js';
import * as mpu from './multipart.js';
import { getObject, headObject, putObject } from './objects.js';
import { route } from './router.js';
import { ObjectFiles } from './storage.js';
import { S3Records } from './store.js';
import { getBucketVersioning, putBucketVersioning } from './versioning.js';

/** Every S3 operation the sandbox answers, by the name AWS's API model gives it. */
const HANDLERS: Record<string, S3Handler> = {
  ListBuckets: listBuckets,
  CreateBucket: createBucket,
  HeadBucket: headBucket,
  DeleteBucket: deleteBucket,
  GetBucketLocation: getBucketLocation,
  PutBucketVersioning: putBucketVersioning,
  GetBucketVersioning: getBucketVersioning,
  PutObjectLockConfiguration: lock.putObjectLockConfiguration,
  GetObjectLockConfiguration: lock.getObjectLockConfiguration,
  PutBucketLifecycleConfiguration: config.putBucketLifecycleConfiguration,
  GetBucketLifecycleConfiguration: config.getBucketLifecycleConfiguration,
  DeleteBucketLifecycle: config.deleteBucketLifecycle,
  PutBucketPolicy: config.putBucketPolicy,
  GetBucketPolicy: config.getBucketPolicy,
  DeleteBucketPolicy: config.deleteBucketPolicy,
  GetBucketPolicyStatus: config.getBucketPolicyStatus,
  PutPublicAccessBlock: config.putPublicAccessBlock,
  GetPublicAccessBlock: config.getPublicAccessBlock,
  DeletePublicAccessBlock: config.deletePublicAccessBlock,
  ListObjects: listObjects,
  ListObjectsV2: listObjectsV2,
  ListObjectVersions: listObjectVersions,
  PutObject: putObject,
  GetObject: getObject,
  HeadObject: headObject,
  CopyObject: copyObject,
  DeleteObject: deleteObject,
  DeleteObjects: deleteObjects,
  PutObjectRetention: lock.putObjectRetention,
  GetObjectRetention: lock.getObjectRetention,
  PutObjectLegalHold: lock.putObjectLegalHold,
  GetObjectLegalHold: lock.getObjectLegalHold,
  CreateMultipartUpload: mpu.createMultipartUpload,
  UploadPart: mpu.uploadPart,
  UploadPartCopy: uploadPartCopy,
  CompleteMultipartUpload: mpu.completeMultipartUpload,
  AbortMultipartUpload: mpu.abortMultipartUpload,
  ListParts: mpu.listParts,
  ListMultipartUploads: mpu.listMultipartUploads,
};

export interface S3Service extends Service {
  /** The object store behind the API, for in-process readers (EC2 ImportSnapshot reads disk images from it). */
  readonly store: { records: S3Records; files: ObjectFiles };
}

/** Each sandbox's object store, for in-process readers of another service (EC2 ImportSnapshot). */
const stores = new WeakMap<SandboxContext, S3Service['store']>();

export function objectStoreOf(ctx: SandboxContext): S3Service['store'] | undefined {
  return stores.get(ctx);
}

/**
 * S3 (REST/XML) over the sandbox's port: path-style and virtual-hosted addressing, object bytes streamed to and
 * from files under `<dataDir>/s3`, records in the state journal.
 */
export function createS3Service(ctx: SandboxContext, dataDir: string): S3Service {
  const records = new S3Records(ctx.state);
  const files = new ObjectFiles(join(dataDir, 's3'));
  files.sweep(records.referencedFiles());
  stores.set(ctx, { records, files });
  return {
    name: 's3',
    streamingBody: true,
    store: { records, files },
    operationOf: (req) => route(req).operation,
    async handle(req, res, c) {
      const t = route(req);
      const call: S3Call = {
        req,
        res,
        ctx: c,
        records,
        files,
        bucket: t.bucket ?? '',
        key: t.key ?? '',
        now: c.now(),
      };
      res.setHeader('x-amz-request-id', req.requestId);
      res.setHeader('x-amz-id-2', Buffer.from(req.requestId).toString('base64'));
      try {
        const handler = HANDLERS[t.operation];
        if (!handler) throw notImplemented();
        await handler(call);
      } catch (e) {
        if (!(e instanceof AwsError)) throw e;
        if (res.headersSent) res.destroy();
        else writeS3Error(res, e, req.rawPath, req.requestId);
      }
    },
  };
}
