import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/index.js';
import { bytes, expectFailure, failure, s3, sandbox } from './helpers.js';

let sb: RunningSandbox;
const B = 'conditions';
beforeAll(async () => {
  sb = await sandbox();
  await s3(sb).send(new CreateBucketCommand({ Bucket: B }));
});
afterAll(() => sb?.close());

describe('S3 conditional requests', () => {
  it('writes once with If-None-Match: * and replaces only a known ETag with If-Match', async () => {
    const c = s3(sb);
    const first = await c.send(
      new PutObjectCommand({ Bucket: B, Key: 'once', Body: 'v1', IfNoneMatch: '*' }),
    );
    await expectFailure(
      c.send(new PutObjectCommand({ Bucket: B, Key: 'once', Body: 'v2', IfNoneMatch: '*' })),
      'PreconditionFailed',
      412,
    );
    await expectFailure(
      c.send(new PutObjectCommand({ Bucket: B, Key: 'once', Body: 'v2', IfMatch: '"0123"' })),
      'PreconditionFailed',
      412,
    );
    await c.send(new PutObjectCommand({ Bucket: B, Key: 'once', Body: 'v2', IfMatch: first.ETag }));
    await expectFailure(
      c.send(new PutObjectCommand({ Bucket: B, Key: 'absent', Body: 'x', IfMatch: first.ETag })),
      'NoSuchKey',
      404,
    );
  });

  it('lets exactly one of two racing If-None-Match: * writes win', async () => {
    const c = s3(sb);
    for (let round = 0; round < 5; round++) {
      const key = `race-${round}`;
      const results = await Promise.allSettled(
        [1, 2].map((n) =>
          c.send(
            new PutObjectCommand({ Bucket: B, Key: key, Body: bytes(2 * 1024 * 1024, n), IfNoneMatch: '*' }),
          ),
        ),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect((lost[0]!.reason as Error).name).toBe('PreconditionFailed');
      const head = await c.send(new HeadObjectCommand({ Bucket: B, Key: key }));
      expect(head.ETag).toBe((won[0] as PromiseFulfilledResult<{ ETag?: string }>).value.ETag);
    }
  });

  it('answers 304 and 412 on reads', async () => {
    const c = s3(sb);
    const put = await c.send(new PutObjectCommand({ Bucket: B, Key: 'read', Body: 'r' }));
    const etag = put.ETag as string;
    const later = new Date(Date.now() + 3600_000);
    const earlier = new Date(Date.now() - 3600_000);
    expect(
      (await failure(c.send(new GetObjectCommand({ Bucket: B, Key: 'read', IfNoneMatch: etag })))).status,
    ).toBe(304);
    expect(
      (await failure(c.send(new HeadObjectCommand({ Bucket: B, Key: 'read', IfModifiedSince: later }))))
        .status,
    ).toBe(304);
    await expectFailure(
      c.send(new GetObjectCommand({ Bucket: B, Key: 'read', IfMatch: '"other"' })),
      'PreconditionFailed',
      412,
    );
    await expectFailure(
      c.send(new GetObjectCommand({ Bucket: B, Key: 'read', IfUnmodifiedSince: earlier })),
      'PreconditionFailed',
      412,
    );
    const ok = await c.send(
      new GetObjectCommand({ Bucket: B, Key: 'read', IfMatch: etag, IfModifiedSince: earlier }),
    );
    expect(ok.$metadata.httpStatusCode).toBe(200);
    // If-Match true wins over a failing If-Unmodified-Since, as in RFC 7232 and S3.
    const both = await c.send(
      new GetObjectCommand({ Bucket: B, Key: 'read', IfMatch: etag, IfUnmodifiedSince: earlier }),
    );
    expect(both.$metadata.httpStatusCode).toBe(200);
  });
});
