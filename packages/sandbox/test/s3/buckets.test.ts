import {
  CreateBucketCommand,
  DeleteBucketCommand,
  GetBucketLocationCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/index.js';
import { codeOf, expectFailure, failure, raw, s3, sandbox } from './helpers.js';

let sb: RunningSandbox;
beforeAll(async () => {
  sb = await sandbox();
});
afterAll(() => sb?.close());

/** A virtual-hosted client: bucket.localhost does not resolve here, so connect to 127.0.0.1 with that Host. */
function virtualHosted(): S3Client {
  const a = sb.accounts[0]!;
  const c = new S3Client({
    endpoint: `http://localhost:${sb.port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: a.accessKeyId, secretAccessKey: a.secretAccessKey },
    maxAttempts: 1,
  });
  c.middlewareStack.add(
    (next) => async (args) => {
      const req = args.request as { hostname: string; port?: number; headers: Record<string, string> };
      req.headers.host = `${req.hostname}:${req.port}`;
      req.hostname = '127.0.0.1';
      return next(args);
    },
    { step: 'build', name: 'connectToLoopback' },
  );
  return c;
}

describe('S3 buckets', () => {
  it('creates, heads, lists, locates and deletes buckets', async () => {
    const c = s3(sb);
    const created = await c.send(new CreateBucketCommand({ Bucket: 'b-life' }));
    expect(created.Location).toBe('/b-life');
    const head = await c.send(new HeadBucketCommand({ Bucket: 'b-life' }));
    expect(head.BucketRegion).toBe('us-east-1');
    const list = await c.send(new ListBucketsCommand({}));
    expect(list.Buckets?.map((b) => b.Name)).toContain('b-life');
    expect(list.Owner?.ID).toMatch(/^[0-9a-f]{64}$/);
    const loc = await c.send(new GetBucketLocationCommand({ Bucket: 'b-life' }));
    expect(loc.LocationConstraint).toBeUndefined();
    await c.send(new PutObjectCommand({ Bucket: 'b-life', Key: 'x', Body: 'x' }));
    await expectFailure(c.send(new DeleteBucketCommand({ Bucket: 'b-life' })), 'BucketNotEmpty', 409);
    await c.send(
      new (await import('@aws-sdk/client-s3')).DeleteObjectCommand({ Bucket: 'b-life', Key: 'x' }),
    );
    await c.send(new DeleteBucketCommand({ Bucket: 'b-life' }));
    await expectFailure(c.send(new HeadBucketCommand({ Bucket: 'b-life' })), 'NotFound', 404);
    const missing = await failure(c.send(new ListObjectsV2Command({ Bucket: 'b-life' })));
    expect(missing).toMatchObject({ name: 'NoSuchBucket', status: 404 });
    expect(missing.raw.BucketName).toBe('b-life');
  });

  it('keeps names global: BucketAlreadyExists for others, BucketAlreadyOwnedByYou outside us-east-1', async () => {
    const c = s3(sb);
    const other = s3(sb, sb.accounts[1]);
    await c.send(new CreateBucketCommand({ Bucket: 'b-global' }));
    await expectFailure(
      other.send(new CreateBucketCommand({ Bucket: 'b-global' })),
      'BucketAlreadyExists',
      409,
    );
    await c.send(new CreateBucketCommand({ Bucket: 'b-global' })); // us-east-1's legacy 200
    const eu = s3(sb, sb.accounts[0], { region: 'eu-west-1' });
    await eu.send(
      new CreateBucketCommand({
        Bucket: 'b-eu',
        CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' },
      }),
    );
    await expectFailure(
      eu.send(
        new CreateBucketCommand({
          Bucket: 'b-eu',
          CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' },
        }),
      ),
      'BucketAlreadyOwnedByYou',
      409,
    );
    expect((await failure(other.send(new HeadBucketCommand({ Bucket: 'b-global' })))).status).toBe(403);
    await expectFailure(other.send(new ListObjectsV2Command({ Bucket: 'b-global' })), 'AccessDenied', 403);
  });

  it('checks regions as AWS does', async () => {
    const eu = s3(sb, sb.accounts[0], { region: 'eu-west-1' });
    const us = s3(sb);
    // The SDK adds its region as LocationConstraint by itself: a hand-made request leaves it out.
    const noloc = await raw(sb, { method: 'PUT', path: '/b-noloc', region: 'eu-west-1' });
    expect([noloc.status, codeOf(noloc)]).toEqual([400, 'IllegalLocationConstraintException']);
    await expectFailure(
      us.send(
        new CreateBucketCommand({
          Bucket: 'b-mismatch',
          CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' },
        }),
      ),
      'IllegalLocationConstraintException',
      400,
    );
    await expectFailure(
      us.send(
        new CreateBucketCommand({
          Bucket: 'b-useast',
          CreateBucketConfiguration: { LocationConstraint: 'us-east-1' as never },
        }),
      ),
      'InvalidLocationConstraint',
      400,
    );
    await eu.send(
      new CreateBucketCommand({
        Bucket: 'b-region',
        CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' },
      }),
    );
    const loc = await us.send(new GetBucketLocationCommand({ Bucket: 'b-region' }));
    expect(loc.LocationConstraint).toBe('eu-west-1');
    const wrong = await failure(us.send(new ListObjectsV2Command({ Bucket: 'b-region' })));
    expect(wrong).toMatchObject({ name: 'AuthorizationHeaderMalformed', status: 400 });
    expect(wrong.raw.Region).toBe('eu-west-1');
    await expectFailure(us.send(new CreateBucketCommand({ Bucket: 'Bad_Name' })), 'InvalidBucketName', 400);
  });

  it('answers virtual-hosted requests through the Host header', async () => {
    const c = virtualHosted();
    await c.send(new CreateBucketCommand({ Bucket: 'b-virtual' }));
    await c.send(new PutObjectCommand({ Bucket: 'b-virtual', Key: 'dir/file.txt', Body: 'hosted' }));
    const list = await s3(sb).send(new ListObjectsV2Command({ Bucket: 'b-virtual' }));
    expect(list.Contents?.map((o) => o.Key)).toEqual(['dir/file.txt']);
    const viaHost = await c.send(new ListObjectsV2Command({ Bucket: 'b-virtual' }));
    expect(viaHost.KeyCount).toBe(1);
  });

  it('refuses bad credentials with S3 error codes', async () => {
    const bad = s3(sb, { ...sb.accounts[0]!, secretAccessKey: 'wrong' });
    await expectFailure(bad.send(new ListBucketsCommand({})), 'SignatureDoesNotMatch', 403);
    const unknown = s3(sb, { ...sb.accounts[0]!, accessKeyId: 'AKIAUNKNOWN000000000' });
    await expectFailure(unknown.send(new ListBucketsCommand({})), 'InvalidAccessKeyId', 403);
  });
});
