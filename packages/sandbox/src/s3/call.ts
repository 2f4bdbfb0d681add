import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { AwsError } from '../core/errors.js';
import type { AwsRequest, SandboxContext } from '../core/service.js';
import { accessDenied, noSuchBucket, S3Error } from './errors.js';
import type { BucketRecord } from './records.js';
import type { ObjectFiles } from './storage.js';
import type { S3Records } from './store.js';

/** One S3 request, addressed: who asks, which bucket and key, the records and files, one clock reading. */
export interface S3Call {
  readonly req: AwsRequest;
  readonly res: ServerResponse;
  readonly ctx: SandboxContext;
  readonly records: S3Records;
  readonly files: ObjectFiles;
  readonly bucket: string;
  readonly key: string;
  readonly now: number;
}

export type S3Handler = (c: S3Call) => Promise<void> | void;

export function header(c: S3Call, name: string): string | undefined {
  const v = c.req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The canonical user id S3 reports as Owner.ID: 64 hex digits, stable per account. */
export function canonicalId(accountId: string): string {
  return createHash('sha256').update(`s3-canonical:${accountId}`).digest('hex');
}

export function owner(accountId: string) {
  return { ID: canonicalId(accountId) };
}

export function httpDate(iso: string): string {
  return new Date(iso).toUTCString();
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * The bucket addressed, checked as S3 checks it: it exists (NoSuchBucket), belongs to the caller (AccessDenied,
 * buckets are not shared across accounts here) and is addressed in its own region (AuthorizationHeaderMalformed,
 * with the region the client should use).
 */
export function ownBucket(c: S3Call, checkRegion = true): BucketRecord {
  const b = c.records.buckets.get(c.bucket);
  if (!b) throw noSuchBucket(c.bucket);
  if (b.ownerId !== c.req.principal.accountId) throw accessDenied();
  if (checkRegion && b.region !== c.req.region) {
    throw new S3Error(
      'AuthorizationHeaderMalformed',
      `The authorization header is malformed; the region '${c.req.region}' is wrong; expecting '${b.region}'`,
      400,
      { Region: b.region },
      { 'x-amz-bucket-region': b.region },
    );
  }
  return b;
}

/** A query parameter that must be an integer in [min, max] (max-keys, part-number-marker, ...). */
export function intParam(c: S3Call, name: string, min: number, max: number): number | undefined {
  const raw = c.req.query.get(name);
  if (raw === null) return undefined;
  const n = Number(raw);
  if (raw === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new AwsError('InvalidArgument', `Provided ${name} not an integer or within integer range`, 400, {
      ArgumentName: name,
      ArgumentValue: raw,
    });
  }
  return n;
}
