import {
  CreateBucketCommand,
  DeleteBucketLifecycleCommand,
  DeleteBucketPolicyCommand,
  DeletePublicAccessBlockCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketPolicyCommand,
  GetBucketPolicyStatusCommand,
  GetPublicAccessBlockCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutBucketLifecycleConfigurationCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/index.js';
import { expectFailure, s3, sandbox } from './helpers.js';

let sb: RunningSandbox;
const B = 'listing';
const KEYS = ['a.txt', 'dir/1', 'dir/2', 'dir/sub/3', 'dir2/x', 'z'];
beforeAll(async () => {
  sb = await sandbox();
  const c = s3(sb);
  await c.send(new CreateBucketCommand({ Bucket: B }));
  for (const k of KEYS) await c.send(new PutObjectCommand({ Bucket: B, Key: k, Body: k }));
});
afterAll(() => sb?.close());

describe('S3 listings', () => {
  it('lists with prefix, delimiter and CommonPrefixes', async () => {
    const c = s3(sb);
    const top = await c.send(new ListObjectsV2Command({ Bucket: B, Delimiter: '/' }));
    expect(top.Contents?.map((o) => o.Key)).toEqual(['a.txt', 'z']);
    expect(top.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['dir/', 'dir2/']);
    expect(top.KeyCount).toBe(4);
    const dir = await c.send(new ListObjectsV2Command({ Bucket: B, Prefix: 'dir/', Delimiter: '/' }));
    expect(dir.Contents?.map((o) => o.Key)).toEqual(['dir/1', 'dir/2']);
    expect(dir.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['dir/sub/']);
    expect(dir.Contents?.[0]).toMatchObject({ Size: 5, StorageClass: 'STANDARD' });
  });

  it('pages with max-keys, continuation tokens and start-after', async () => {
    const c = s3(sb);
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await c.send(
        new ListObjectsV2Command({ Bucket: B, MaxKeys: 2, ContinuationToken: token }),
      );
      seen.push(...(page.Contents ?? []).map((o) => o.Key as string));
      token = page.NextContinuationToken;
      expect(page.IsTruncated).toBe(token !== undefined);
    } while (token);
    expect(seen).toEqual(KEYS);
    const after = await c.send(new ListObjectsV2Command({ Bucket: B, StartAfter: 'dir/2' }));
    expect(after.Contents?.map((o) => o.Key)).toEqual(['dir/sub/3', 'dir2/x', 'z']);
    const folded: string[] = [];
    token = undefined;
    do {
      const page = await c.send(
        new ListObjectsV2Command({ Bucket: B, MaxKeys: 1, Delimiter: '/', ContinuationToken: token }),
      );
      folded.push(
        ...(page.Contents ?? []).map((o) => o.Key as string),
        ...(page.CommonPrefixes ?? []).map((p) => p.Prefix as string),
      );
      token = page.NextContinuationToken;
    } while (token);
    expect(folded).toEqual(['a.txt', 'dir/', 'dir2/', 'z']);
    const v1 = await c.send(new ListObjectsCommand({ Bucket: B, Marker: 'dir/sub/3', MaxKeys: 1 }));
    expect(v1.Contents?.map((o) => o.Key)).toEqual(['dir2/x']);
    expect(v1.IsTruncated).toBe(true);
    expect(v1.Contents?.[0]?.Owner?.ID).toMatch(/^[0-9a-f]{64}$/);
    const zero = await c.send(new ListObjectsV2Command({ Bucket: B, MaxKeys: 0 }));
    expect(zero.KeyCount).toBe(0);
  });
});

describe('S3 bucket configuration', () => {
  it('stores and reports lifecycle rules', async () => {
    const c = s3(sb);
    await expectFailure(
      c.send(new GetBucketLifecycleConfigurationCommand({ Bucket: B })),
      'NoSuchLifecycleConfiguration',
      404,
    );
    const rules = [
      {
        ID: 'to-glacier',
        Status: 'Enabled' as const,
        Filter: { Prefix: 'dir/' },
        Transitions: [{ Days: 30, StorageClass: 'GLACIER' as const }],
      },
      { ID: 'expire', Status: 'Disabled' as const, Filter: {}, Expiration: { Days: 365 } },
    ];
    await c.send(
      new PutBucketLifecycleConfigurationCommand({ Bucket: B, LifecycleConfiguration: { Rules: rules } }),
    );
    const got = await c.send(new GetBucketLifecycleConfigurationCommand({ Bucket: B }));
    expect(
      got.Rules?.map((r) => [r.ID, r.Status, r.Transitions?.[0]?.StorageClass, r.Expiration?.Days]),
    ).toEqual([
      ['to-glacier', 'Enabled', 'GLACIER', undefined],
      ['expire', 'Disabled', undefined, 365],
    ]);
    await c.send(new DeleteBucketLifecycleCommand({ Bucket: B }));
    await expectFailure(
      c.send(new GetBucketLifecycleConfigurationCommand({ Bucket: B })),
      'NoSuchLifecycleConfiguration',
      404,
    );
  });

  it('blocks public policies by default and reports policy status', async () => {
    const c = s3(sb);
    const pab = await c.send(new GetPublicAccessBlockCommand({ Bucket: B }));
    expect(pab.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      IgnorePublicAcls: true,
      BlockPublicPolicy: true,
      RestrictPublicBuckets: true,
    });
    const statement = (principal: unknown) =>
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: principal, Action: 's3:GetObject', Resource: `arn:aws:s3:::${B}/*` },
        ],
      });
    await expectFailure(
      c.send(new PutBucketPolicyCommand({ Bucket: B, Policy: statement('*') })),
      'AccessDenied',
      403,
    );
    await c.send(
      new PutBucketPolicyCommand({ Bucket: B, Policy: statement({ AWS: 'arn:aws:iam::222222222222:root' }) }),
    );
    expect((await c.send(new GetBucketPolicyStatusCommand({ Bucket: B }))).PolicyStatus?.IsPublic).toBe(
      false,
    );
    expect(
      JSON.parse((await c.send(new GetBucketPolicyCommand({ Bucket: B }))).Policy ?? '{}').Statement,
    ).toHaveLength(1);
    await c.send(new DeletePublicAccessBlockCommand({ Bucket: B }));
    await expectFailure(
      c.send(new GetPublicAccessBlockCommand({ Bucket: B })),
      'NoSuchPublicAccessBlockConfiguration',
      404,
    );
    await c.send(new PutBucketPolicyCommand({ Bucket: B, Policy: statement('*') }));
    expect((await c.send(new GetBucketPolicyStatusCommand({ Bucket: B }))).PolicyStatus?.IsPublic).toBe(true);
    await expectFailure(
      c.send(new PutBucketPolicyCommand({ Bucket: B, Policy: 'not json' })),
      'MalformedPolicy',
      400,
    );
    await c.send(new DeleteBucketPolicyCommand({ Bucket: B }));
    await expectFailure(c.send(new GetBucketPolicyCommand({ Bucket: B })), 'NoSuchBucketPolicy', 404);
  });
});
