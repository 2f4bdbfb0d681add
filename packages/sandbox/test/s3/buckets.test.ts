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

  it('places new buckets as S3 does: a regional endpoint in its own region, us-east-1 anywhere', async () => {
    const eu = s3(sb, sb.accounts[0], { region: 'eu-west-1' });
    const us = s3(sb);
    const create = (c: S3Client, Bucket: string, LocationConstraint?: string) =>
      c.send(
        new CreateBucketCommand({
          Bucket,
          ...(LocationConstraint
            ? { CreateBucketConfiguration: { LocationConstraint: LocationConstraint as never } }
            : {}),
        }),
      );
    /** GetBucketLocation's answer and the region ListBuckets reports. */
    const where = async (Bucket: string) => [
      (await us.send(new GetBucketLocationCommand({ Bucket }))).LocationConstraint,
      (await us.send(new ListBucketsCommand({}))).Buckets?.find((b) => b.Name === Bucket)?.BucketRegion,
    ];
    // The SDK adds its region as LocationConstraint by itself: a hand-made request leaves it out.
    const noloc = await raw(sb, { method: 'PUT', path: '/b-noloc', region: 'eu-west-1' });
    expect([noloc.status, codeOf(noloc)]).toEqual([400, 'IllegalLocationConstraintException']);
    expect(noloc.body).toContain(
      '<Message>The unspecified location constraint is incompatible for the region specific endpoint this request was sent to.</Message>',
    );
    // A regional endpoint other than us-east-1 refuses any other region, us-east-1 included.
    for (const other of ['us-west-2', 'us-east-1', 'ap-south-1']) {
      const f = await failure(create(eu, 'b-elsewhere', other));
      expect([f.name, f.status, f.message]).toEqual([
        'IllegalLocationConstraintException',
        400,
        `The ${other} location constraint is incompatible for the region specific endpoint this request was sent to.`,
      ]);
    }
    // A value that is no region at all is InvalidLocationConstraint, whatever the endpoint.
    for (const c of [us, eu]) {
      const f = await failure(create(c, 'b-nowhere', 'mars-north-1'));
      expect([f.name, f.status, f.message]).toEqual([
        'InvalidLocationConstraint',
        400,
        'The specified location-constraint is not valid',
      ]);
      expect(f.raw.LocationConstraint).toBe('mars-north-1');
    }
    // us-east-1 takes no constraint naming itself.
    await expectFailure(create(us, 'b-useast', 'us-east-1'), 'InvalidLocationConstraint', 400);
    // The global endpoint (us-east-1) creates a bucket in the region its constraint names.
    await create(us, 'b-from-us', 'eu-west-1');
    expect(await where('b-from-us')).toEqual(['eu-west-1', 'eu-west-1']);
    expect((await eu.send(new ListObjectsV2Command({ Bucket: 'b-from-us' }))).KeyCount).toBe(0);
    await create(us, 'b-us-plain');
    expect(await where('b-us-plain')).toEqual([undefined, 'us-east-1']);
    await create(eu, 'b-region', 'eu-west-1');
    expect(await where('b-region')).toEqual(['eu-west-1', 'eu-west-1']);
    const wrong = await failure(us.send(new ListObjectsV2Command({ Bucket: 'b-region' })));
    expect(wrong).toMatchObject({ name: 'AuthorizationHeaderMalformed', status: 400 });
    expect(wrong.raw.Region).toBe('eu-west-1');
    // EU, S3's legacy name of eu-west-1: taken by us-east-1 and eu-west-1, answered back as EU.
    await create(us, 'b-eu-global', 'EU');
    await create(eu, 'b-eu-regional', 'EU');
    for (const b of ['b-eu-global', 'b-eu-regional']) {
      expect(await where(b)).toEqual(['EU', 'eu-west-1']);
      expect((await eu.send(new ListObjectsV2Command({ Bucket: b }))).KeyCount).toBe(0);
    }
    const west = s3(sb, sb.accounts[0], { region: 'us-west-2' });
    await expectFailure(create(west, 'b-eu-west', 'EU'), 'IllegalLocationConstraintException', 400);
    // A region AWS has but the sandbox does not serve cannot be created from us-east-1 either.
    await expectFailure(create(us, 'b-mumbai', 'ap-south-1'), 'InvalidLocationConstraint', 400);
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
