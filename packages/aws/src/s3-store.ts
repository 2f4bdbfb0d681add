import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import {
  isRepositoryError,
  isValidKey,
  type ObjectInfo,
  RepositoryError,
  type Store,
} from '@lifeboat/repository';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { parseS3Location, type S3Location } from './s3-location.js';

/**
 * Objects above this size go up in parts (several in flight), below it in one PUT: packs (about 32 MiB) take one
 * request each, 32 PUT-class requests per GiB stored, where a multipart upload would take 2 + parts.
 */
const MULTIPART_OVER = 64 * 1024 * 1024;
const PART_SIZE = 16 * 1024 * 1024;
const PARTS_IN_FLIGHT = 4;

export interface S3StoreOptions {
  region?: string;
  /** Extra client settings (credentials, retry strategy) for tests and the appliance. */
  client?: Partial<S3ClientConfig>;
  /** Per-attempt timeouts: no request hangs forever (a lesson of coldsnap's users). */
  requestTimeoutMs?: number;
  connectionTimeoutMs?: number;
  maxAttempts?: number;
  /** Multipart above this size (default 64 MiB), in parts of partBytes (default 16 MiB; S3's minimum is 5 MiB). */
  multipartOverBytes?: number;
  partBytes?: number;
}

/**
 * A repository in an S3 bucket prefix. Write-once through conditional writes (If-None-Match: * on PutObject and
 * CompleteMultipartUpload: S3 refuses to replace an existing key, atomically). Retries with exponential backoff on
 * throttling, 5xx and dropped connections come from the SDK's standard retry strategy; every attempt has a
 * timeout.
 */
export class S3Store implements Store {
  readonly client: S3Client;
  private readonly where: S3Location;
  private readonly multipartOver: number;
  private readonly partSize: number;

  constructor(location: string | S3Location, options: S3StoreOptions = {}) {
    this.where = typeof location === 'string' ? parseS3Location(location) : location;
    this.multipartOver = options.multipartOverBytes ?? MULTIPART_OVER;
    this.partSize = options.partBytes ?? PART_SIZE;
    this.client = new S3Client({
      region: options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
      ...(this.where.endpoint ? { endpoint: this.where.endpoint, forcePathStyle: true } : {}),
      maxAttempts: options.maxAttempts ?? 8,
      retryMode: 'standard',
      requestHandler: new NodeHttpHandler({
        requestTimeout: options.requestTimeoutMs ?? 120_000,
        connectionTimeout: options.connectionTimeoutMs ?? 10_000,
      }),
      ...options.client,
    });
  }

  get location(): string {
    const { endpoint, bucket, prefix } = this.where;
    return `s3:${endpoint ? `${endpoint}/` : ''}${bucket}/${prefix}`;
  }

  private key(key: string): string {
    if (!isValidKey(key)) throw new RepositoryError('INVALID_ARGUMENT', `invalid object key "${key}"`);
    return `${this.where.prefix}${key}`;
  }

  async put(key: string, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const parts = data instanceof Uint8Array ? [data] : data;
    const size = parts.reduce((n, p) => n + p.length, 0);
    try {
      if (size > this.multipartOver) await this.putMultipart(key, parts, size);
      else {
        await this.client.send(
          new PutObjectCommand({
            Bucket: this.where.bucket,
            Key: this.key(key),
            Body: concat(parts, size),
            IfNoneMatch: '*',
          }),
        );
      }
    } catch (err) {
      throw s3Error(err, `cannot write ${key} to ${this.location}`);
    }
  }

  private async putMultipart(key: string, parts: readonly Uint8Array[], size: number): Promise<void> {
    const body = concat(parts, size);
    const { UploadId } = await this.client.send(
      new CreateMultipartUploadCommand({ Bucket: this.where.bucket, Key: this.key(key) }),
    );
    try {
      const etags: string[] = [];
      const count = Math.ceil(size / this.partSize);
      let next = 0;
      const upload = async () => {
        while (next < count) {
          const n = next++;
          const r = await this.client.send(
            new UploadPartCommand({
              Bucket: this.where.bucket,
              Key: this.key(key),
              UploadId,
              PartNumber: n + 1,
              Body: body.subarray(n * this.partSize, Math.min(size, (n + 1) * this.partSize)),
            }),
          );
          etags[n] = r.ETag!;
        }
      };
      await Promise.all(Array.from({ length: Math.min(PARTS_IN_FLIGHT, count) }, upload));
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.where.bucket,
          Key: this.key(key),
          UploadId,
          IfNoneMatch: '*',
          MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
        }),
      );
    } catch (err) {
      await this.client
        .send(new AbortMultipartUploadCommand({ Bucket: this.where.bucket, Key: this.key(key), UploadId }))
        .catch(() => {});
      throw err;
    }
  }

  async get(key: string): Promise<Buffer> {
    return this.read(key);
  }

  async getRange(key: string, offset: number, length: number, into?: Uint8Array): Promise<Buffer> {
    if (length === 0) return Buffer.alloc(0);
    const buf = await this.read(key, `bytes=${offset}-${offset + length - 1}`, into);
    if (buf.length < length) {
      throw new RepositoryError(
        'REPO_CORRUPT',
        `${key} is truncated: wanted bytes ${offset}-${offset + length - 1}, the object ends at ${offset + buf.length}`,
      );
    }
    return buf;
  }

  private async read(key: string, range?: string, into?: Uint8Array): Promise<Buffer> {
    try {
      const r = await this.client.send(
        new GetObjectCommand({
          Bucket: this.where.bucket,
          Key: this.key(key),
          ...(range ? { Range: range } : {}),
        }),
      );
      // Collect chunks by hand: transformToByteArray costs ~1.4x more CPU (research/ebs-loopback.md).
      const chunks: Buffer[] = [];
      for await (const c of r.Body as AsyncIterable<Uint8Array>)
        chunks.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength));
      if (chunks.length === 1) return chunks[0]!;
      const size = chunks.reduce((n, c) => n + c.length, 0);
      if (!into || into.length < size) return Buffer.concat(chunks, size);
      const out = Buffer.from(into.buffer, into.byteOffset, size);
      let at = 0;
      for (const c of chunks) at += c.copy(out, at);
      return out;
    } catch (err) {
      if (range && nameOf(err) === 'InvalidRange') {
        throw new RepositoryError(
          'REPO_CORRUPT',
          `${key} is shorter than the range ${range} that was asked`,
          { cause: err },
        );
      }
      throw s3Error(err, `cannot read ${key} from ${this.location}`);
    }
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const r = await this.client.send(
        new HeadObjectCommand({ Bucket: this.where.bucket, Key: this.key(key) }),
      );
      return {
        key,
        size: r.ContentLength ?? 0,
        ...(r.LastModified ? { lastModified: r.LastModified.getTime() } : {}),
        ...(r.ObjectLockRetainUntilDate ? { retainUntil: r.ObjectLockRetainUntilDate.getTime() } : {}),
      };
    } catch (err) {
      if (nameOf(err) === 'NotFound' || nameOf(err) === 'NoSuchKey' || statusOf(err) === 404)
        return undefined;
      throw s3Error(err, `cannot stat ${key} in ${this.location}`);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.where.bucket,
            Prefix: `${this.where.prefix}${prefix}`,
            ContinuationToken: token,
          }),
        );
      } catch (err) {
        throw s3Error(err, `cannot list ${prefix} in ${this.location}`);
      }
      for (const o of page.Contents ?? []) {
        if (!o.Key) continue;
        yield {
          key: o.Key.slice(this.where.prefix.length),
          size: o.Size ?? 0,
          ...(o.LastModified ? { lastModified: o.LastModified.getTime() } : {}),
        };
      }
      token = page.NextContinuationToken;
    } while (token);
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.where.bucket, Key: this.key(key) }));
    } catch (err) {
      throw s3Error(err, `cannot delete ${key} from ${this.location}`);
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

function concat(parts: readonly Uint8Array[], size: number): Buffer {
  return parts.length === 1
    ? Buffer.from(parts[0]!.buffer, parts[0]!.byteOffset, parts[0]!.byteLength)
    : Buffer.concat(parts as Uint8Array[], size);
}

function nameOf(err: unknown): string | undefined {
  return (err as { name?: string })?.name;
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function s3Error(err: unknown, what: string): RepositoryError {
  if (isRepositoryError(err)) return err;
  const name = nameOf(err);
  const message = (err as Error)?.message ?? String(err);
  if (name === 'NoSuchKey' || name === 'NotFound')
    return new RepositoryError('NOT_FOUND', `${what}: the object does not exist`, { cause: err });
  if (name === 'PreconditionFailed' || statusOf(err) === 412) {
    return new RepositoryError(
      'OBJECT_EXISTS',
      `${what}: the object exists and objects are never overwritten`,
      { cause: err },
    );
  }
  if (name === 'NoSuchBucket')
    return new RepositoryError('REPO_NOT_FOUND', `${what}: the bucket does not exist`, { cause: err });
  if (name === 'AccessDenied' || statusOf(err) === 403) {
    return new RepositoryError(
      'STORE_IO',
      `${what}: access denied (${message}); check the credentials and the bucket policy`,
      { cause: err },
    );
  }
  return new RepositoryError('STORE_IO', `${what}: ${name ? `${name}: ` : ''}${message}`, { cause: err });
}
