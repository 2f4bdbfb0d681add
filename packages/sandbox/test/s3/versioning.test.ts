import {
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectLegalHoldCommand,
  GetObjectLockConfigurationCommand,
  GetObjectRetentionCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
  PutObjectLockConfigurationCommand,
  PutObjectRetentionCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/index.js';
import { collect, expectFailure, failure, s3, sandbox } from './helpers.js';

let sb: RunningSandbox;
beforeAll(async () => {
  sb = await sandbox();
});
afterAll(() => sb?.close());

const DAY = 86_400_000;

describe('S3 versioning', () => {
  it('keeps versions, delete markers, and reads and deletes by version id', async () => {
    const c = s3(sb);
    await c.send(new CreateBucketCommand({ Bucket: 'versioned' }));
    expect((await c.send(new GetBucketVersioningCommand({ Bucket: 'versioned' }))).Status).toBeUndefined();
    const plain = await c.send(new PutObjectCommand({ Bucket: 'versioned', Key: 'k', Body: 'v0' }));
    expect(plain.VersionId).toBeUndefined();
    await c.send(
      new PutBucketVersioningCommand({ Bucket: 'versioned', VersioningConfiguration: { Status: 'Enabled' } }),
    );
    const v1 = await c.send(new PutObjectCommand({ Bucket: 'versioned', Key: 'k', Body: 'v1' }));
    const v2 = await c.send(new PutObjectCommand({ Bucket: 'versioned', Key: 'k', Body: 'v2' }));
    expect(v1.VersionId).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const old = await c.send(
      new GetObjectCommand({ Bucket: 'versioned', Key: 'k', VersionId: v1.VersionId }),
    );
    expect((await collect(old.Body)).toString()).toBe('v1');
    expect(
      (
        await collect(
          (
            await c.send(new GetObjectCommand({ Bucket: 'versioned', Key: 'k', VersionId: 'null' }))
          ).Body,
        )
      ).toString(),
    ).toBe('v0');
    const del = await c.send(new DeleteObjectCommand({ Bucket: 'versioned', Key: 'k' }));
    expect(del.DeleteMarker).toBe(true);
    const hidden = await failure(c.send(new GetObjectCommand({ Bucket: 'versioned', Key: 'k' })));
    expect(hidden).toMatchObject({ name: 'NoSuchKey', status: 404 });
    expect((await c.send(new ListObjectsV2Command({ Bucket: 'versioned' }))).KeyCount).toBe(0);
    await expectFailure(
      c.send(new GetObjectCommand({ Bucket: 'versioned', Key: 'k', VersionId: del.VersionId })),
      'MethodNotAllowed',
      405,
    );
    const versions = await c.send(new ListObjectVersionsCommand({ Bucket: 'versioned' }));
    expect(versions.Versions?.map((v) => [v.VersionId, v.IsLatest])).toEqual([
      [v2.VersionId, false],
      [v1.VersionId, false],
      ['null', false],
    ]);
    expect(versions.DeleteMarkers?.map((m) => [m.VersionId, m.IsLatest])).toEqual([[del.VersionId, true]]);
    const page = await c.send(new ListObjectVersionsCommand({ Bucket: 'versioned', MaxKeys: 2 }));
    expect(page.IsTruncated).toBe(true);
    const rest = await c.send(
      new ListObjectVersionsCommand({
        Bucket: 'versioned',
        KeyMarker: page.NextKeyMarker,
        VersionIdMarker: page.NextVersionIdMarker,
      }),
    );
    expect(rest.Versions?.map((v) => v.VersionId)).toEqual([v1.VersionId, 'null']);
    // Removing the marker brings v2 back; deleting a version id removes it for good.
    const unmark = await c.send(
      new DeleteObjectCommand({ Bucket: 'versioned', Key: 'k', VersionId: del.VersionId }),
    );
    expect(unmark.DeleteMarker).toBe(true);
    expect(
      (
        await collect((await c.send(new GetObjectCommand({ Bucket: 'versioned', Key: 'k' }))).Body)
      ).toString(),
    ).toBe('v2');
    await c.send(new DeleteObjectCommand({ Bucket: 'versioned', Key: 'k', VersionId: v2.VersionId }));
    expect(
      (
        await collect((await c.send(new GetObjectCommand({ Bucket: 'versioned', Key: 'k' }))).Body)
      ).toString(),
    ).toBe('v1');
    await expectFailure(
      c.send(new GetObjectCommand({ Bucket: 'versioned', Key: 'k', VersionId: v2.VersionId })),
      'NoSuchVersion',
      404,
    );
    await c.send(
      new PutBucketVersioningCommand({
        Bucket: 'versioned',
        VersioningConfiguration: { Status: 'Suspended' },
      }),
    );
    const suspended = await c.send(new PutObjectCommand({ Bucket: 'versioned', Key: 'k', Body: 'v3' }));
    expect(suspended.VersionId).toBe('null');
  });
});

describe('S3 Object Lock', () => {
  it('applies default and explicit retention, legal holds, and refuses deletes as AWS does', async () => {
    const c = s3(sb);
    await c.send(new CreateBucketCommand({ Bucket: 'locked', ObjectLockEnabledForBucket: true }));
    expect((await c.send(new GetBucketVersioningCommand({ Bucket: 'locked' }))).Status).toBe('Enabled');
    await c.send(
      new PutObjectLockConfigurationCommand({
        Bucket: 'locked',
        ObjectLockConfiguration: {
          ObjectLockEnabled: 'Enabled',
          Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 1 } },
        },
      }),
    );
    const conf = await c.send(new GetObjectLockConfigurationCommand({ Bucket: 'locked' }));
    expect(conf.ObjectLockConfiguration?.Rule?.DefaultRetention).toEqual({ Mode: 'GOVERNANCE', Days: 1 });
    const g = await c.send(new PutObjectCommand({ Bucket: 'locked', Key: 'gov', Body: 'g' }));
    const head = await c.send(new HeadObjectCommand({ Bucket: 'locked', Key: 'gov' }));
    expect(head.ObjectLockMode).toBe('GOVERNANCE');
    await expectFailure(
      c.send(new DeleteObjectCommand({ Bucket: 'locked', Key: 'gov', VersionId: g.VersionId })),
      'AccessDenied',
      403,
    );
    // A delete marker is always allowed; the locked version stays.
    expect((await c.send(new DeleteObjectCommand({ Bucket: 'locked', Key: 'gov' }))).DeleteMarker).toBe(true);
    await c.send(
      new DeleteObjectCommand({
        Bucket: 'locked',
        Key: 'gov',
        VersionId: g.VersionId,
        BypassGovernanceRetention: true,
      }),
    );

    const until = new Date(Date.now() + 2 * DAY);
    const comp = await c.send(
      new PutObjectCommand({
        Bucket: 'locked',
        Key: 'comp',
        Body: 'c',
        ObjectLockMode: 'COMPLIANCE',
        ObjectLockRetainUntilDate: until,
      }),
    );
    const ret = await c.send(new GetObjectRetentionCommand({ Bucket: 'locked', Key: 'comp' }));
    expect(ret.Retention?.Mode).toBe('COMPLIANCE');
    expect(ret.Retention?.RetainUntilDate?.getTime()).toBe(Math.floor(until.getTime()));
    await expectFailure(
      c.send(
        new DeleteObjectCommand({
          Bucket: 'locked',
          Key: 'comp',
          VersionId: comp.VersionId,
          BypassGovernanceRetention: true,
        }),
      ),
      'AccessDenied',
      403,
    );
    await expectFailure(
      c.send(
        new PutObjectRetentionCommand({
          Bucket: 'locked',
          Key: 'comp',
          Retention: { Mode: 'GOVERNANCE', RetainUntilDate: until },
          BypassGovernanceRetention: true,
        }),
      ),
      'AccessDenied',
      403,
    );
    await c.send(
      new PutObjectRetentionCommand({
        Bucket: 'locked',
        Key: 'comp',
        Retention: { Mode: 'COMPLIANCE', RetainUntilDate: new Date(Date.now() + 3 * DAY) },
      }),
    );
    const bulk = await c.send(
      new DeleteObjectsCommand({
        Bucket: 'locked',
        Delete: { Objects: [{ Key: 'comp', VersionId: comp.VersionId }] },
      }),
    );
    expect(bulk.Errors?.map((e) => e.Code)).toEqual(['AccessDenied']);

    const held = await c.send(
      new PutObjectCommand({ Bucket: 'locked', Key: 'held', Body: 'h', ObjectLockLegalHoldStatus: 'ON' }),
    );
    expect(
      (await c.send(new GetObjectLegalHoldCommand({ Bucket: 'locked', Key: 'held' }))).LegalHold?.Status,
    ).toBe('ON');
    await c.send(
      new PutObjectRetentionCommand({
        Bucket: 'locked',
        Key: 'held',
        VersionId: held.VersionId,
        Retention: {},
        BypassGovernanceRetention: true,
      }),
    );
    await expectFailure(
      c.send(new DeleteObjectCommand({ Bucket: 'locked', Key: 'held', VersionId: held.VersionId })),
      'AccessDenied',
      403,
    );
    await c.send(
      new PutObjectLegalHoldCommand({ Bucket: 'locked', Key: 'held', LegalHold: { Status: 'OFF' } }),
    );
    await c.send(new DeleteObjectCommand({ Bucket: 'locked', Key: 'held', VersionId: held.VersionId }));
    await expectFailure(
      c.send(
        new PutBucketVersioningCommand({
          Bucket: 'locked',
          VersioningConfiguration: { Status: 'Suspended' },
        }),
      ),
      'InvalidBucketState',
      409,
    );
  });

  it('refuses lock settings on a bucket without Object Lock', async () => {
    const c = s3(sb);
    await c.send(new CreateBucketCommand({ Bucket: 'unlocked' }));
    await expectFailure(
      c.send(
        new PutObjectCommand({
          Bucket: 'unlocked',
          Key: 'x',
          Body: 'x',
          ObjectLockMode: 'GOVERNANCE',
          ObjectLockRetainUntilDate: new Date(Date.now() + DAY),
        }),
      ),
      'InvalidRequest',
      400,
    );
    await c.send(new PutObjectCommand({ Bucket: 'unlocked', Key: 'x', Body: 'x' }));
    await expectFailure(
      c.send(new GetObjectRetentionCommand({ Bucket: 'unlocked', Key: 'x' })),
      'InvalidRequest',
      400,
    );
    await expectFailure(
      c.send(new GetObjectLockConfigurationCommand({ Bucket: 'unlocked' })),
      'ObjectLockConfigurationNotFoundError',
      404,
    );
    await expectFailure(
      c.send(
        new PutObjectLockConfigurationCommand({
          Bucket: 'unlocked',
          ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' },
        }),
      ),
      'InvalidBucketState',
      409,
    );
    await expectFailure(
      c.send(
        new PutObjectCommand({
          Bucket: 'unlocked',
          Key: 'y',
          Body: 'y',
          ObjectLockMode: 'GOVERNANCE',
          ObjectLockRetainUntilDate: new Date(Date.now() - DAY),
        }),
      ),
      'InvalidRequest',
      400,
    );
  });
});
